#!/bin/sh
# The shell way to bulk-update users: one curl process per PATCH, 16 at a
# time through xargs -P. Prints one HTTP status per request.
# Usage: curl.sh BASE_URL TOKEN IDS_FILE
base=$1 token=$2 ids=$3
xargs -P 16 -I{} curl -sS -o /dev/null -w '%{http_code}\n' -X PATCH \
  -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"name":"Peer {}"}' "$base/v1/user/{}" < "$ids"
