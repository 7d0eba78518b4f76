"""The script way to bulk-update users: a thread pool of 16 sending the
PATCHes with the standard library. Prints "<ok> <failed>".
Usage: pool.py BASE_URL TOKEN IDS_FILE"""
import json
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

base, token, ids_file = sys.argv[1:4]
with open(ids_file) as f:
    ids = f.read().split()


def patch(user_id):
    body = json.dumps({"name": f"Peer {user_id}"}).encode()
    req = urllib.request.Request(f"{base}/v1/user/{user_id}", data=body, method="PATCH",
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


with ThreadPoolExecutor(16) as pool:
    codes = list(pool.map(patch, ids))
bad = sum(1 for c in codes if c != 200)
print(len(codes) - bad, bad)
