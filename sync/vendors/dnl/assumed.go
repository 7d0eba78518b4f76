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
