package dnl

// What api.md marks assumed about DNL, kept here and listed in the README.
// Change a value here if the vendor proves it otherwise.
const (
	// MaxPerPage is the largest per_page GET /v1/user/list accepts.
	MaxPerPage = 1000
	// ForbiddenStatus is the status a PATCH with a non-admin token answers.
	ForbiddenStatus = 403
	// DNL publishes no request limit and is assumed to have none, so the
	// run throttles itself with --rate; a proxy in front may still answer
	// 429 or 503, which the shared retry policy retries and the limiter
	// adapts to.
)

// How the login payload's "expired" is written is not public (api.md,
// "What public sources add", DNL: "Auth": {"token": "...", "expired":
// "..."}, when the token expires). The client does not read it: it logs in
// again when a call is answered 401. The fake writes RFC 3339 in UTC, and
// gives tokens an hour unless the login asks expire_after_minutes (the
// vendor's default lifetime is not public either).
