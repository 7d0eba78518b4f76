package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rostersync/rostersync/ratelimit"
	"github.com/rostersync/rostersync/sync/engine"
	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"github.com/rostersync/rostersync/sync/state"
)

// Notifications: --notify URL posts one JSON message when a run ends, to
// the incoming webhook of a chat (Slack, Microsoft Teams, Google Chat) or
// anything that takes JSON. The URL is itself a credential (whoever has
// it may post), so it is never logged nor shown: only its host.

// When to notify (--notify-on).
const (
	notifyProblems = "problems" // rows failed, a guard refused, the run stopped: any exit code but 0
	notifyAlways   = "always"
)

// webhookKind is the shape of message a webhook takes.
type webhookKind int

const (
	// slackLike takes {"text": ...} and ignores what else the object
	// holds: Slack, Mattermost, Rocket.Chat, a receiver of one's own.
	slackLike webhookKind = iota
	// teams is a Microsoft Teams webhook (a Workflows one, or the older
	// Office 365 connector): a message with an Adaptive Card.
	teams
	// googleChat is a Google Chat space's webhook, which refuses any
	// field it does not know: only the text goes.
	googleChat
)

// webhook is one --notify URL, checked.
type webhook struct {
	url  *url.URL
	kind webhookKind
}

// host names the webhook in logs; the rest of the URL is a secret.
func (w webhook) host() string { return w.url.Host }

// parseWebhooks checks the --notify URLs as --base-url is checked: http or
// https with a host, and plain http only to this machine unless
// --insecure-http, since the URL (its token) and the message would cross
// the network unencrypted. Errors never repeat a URL.
func parseWebhooks(raw []string, on string, insecure bool) ([]webhook, error) {
	if on != notifyProblems && on != notifyAlways {
		return nil, usageError("--notify-on must be problems or always")
	}
	var out []webhook
	for i, r := range raw {
		u, err := url.Parse(strings.TrimSpace(r))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usageError("--notify URL number %d is not an http(s) URL (not shown: a webhook URL is a secret)", i+1)
		}
		if u.Scheme == "http" && !insecure && !isLoopback(u.Hostname()) {
			return nil, usageError("--notify %s://%s/... is plain http to another machine: the webhook's secret URL would cross the network unencrypted; use https, or pass --insecure-http if the network is trusted", u.Scheme, u.Host)
		}
		out = append(out, webhook{url: u, kind: kindOf(u.Hostname())})
	}
	return out, nil
}

// kindOf tells a webhook's shape by its host.
func kindOf(host string) webhookKind {
	host = strings.ToLower(host)
	switch {
	case host == "chat.googleapis.com":
		return googleChat
	case strings.HasSuffix(host, ".webhook.office.com"), host == "outlook.office.com",
		strings.HasSuffix(host, ".logic.azure.com"), strings.HasSuffix(host, ".powerplatform.com"),
		strings.HasSuffix(host, ".powerautomate.com"):
		return teams
	}
	return slackLike
}

// notice is what a notification says.
type notice struct {
	Text    string  // one line a person reads
	Summary summary // the same object --summary writes
}

// body is the JSON a webhook of kind k takes.
func (n notice) body(k webhookKind) ([]byte, error) {
	switch k {
	case googleChat:
		return json.Marshal(map[string]any{"text": n.Text})
	case teams:
		facts := []map[string]string{}
		for _, st := range model.Statuses {
			if c := n.Summary.Counts[string(st)]; c > 0 {
				facts = append(facts, map[string]string{"title": string(st), "value": strconv.Itoa(c)})
			}
		}
		facts = append(facts, map[string]string{"title": "exit code", "value": strconv.Itoa(n.Summary.ExitCode)})
		card := map[string]any{
			"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
			"type":    "AdaptiveCard",
			"version": "1.4",
			"body": []any{
				map[string]any{"type": "TextBlock", "text": n.Text, "wrap": true},
				map[string]any{"type": "FactSet", "facts": facts},
			},
		}
		return json.Marshal(map[string]any{
			"type": "message",
			"text": n.Text,
			"attachments": []any{map[string]any{
				"contentType": "application/vnd.microsoft.card.adaptive",
				"contentUrl":  nil,
				"content":     card,
			}},
			"rostersync": n.Summary,
		})
	}
	return json.Marshal(map[string]any{"text": n.Text, "rostersync": n.Summary})
}

// outcome is how a run ended, as a notification tells it.
type outcome struct {
	cmd, target string
	host        string // the API's host, when the run got as far as knowing it
	runID       string // the run's id, when it has one
	summary     summary
	err         error // the run's error
	refusal     error // why the guard refuses the plan, when a plan was made
}

// problem says what needs a person, or "" when nothing does. It names
// kinds of trouble and counts, never a row's content or an error's text,
// which may hold personal data.
func (o outcome) problem() string {
	var needs []string
	s := o.summary
	switch code := s.ExitCode; {
	case code == exitInterrupted:
		needs = append(needs, "the run was interrupted; rows not done are skipped, and a new run does them")
	case code == exitRefused || errors.Is(o.err, plan.ErrRefused):
		needs = append(needs, "apply refused by the guard (--max-changes or --max-block-share), nothing was sent: read the plan, then raise the limit if it is intended")
	case errors.Is(o.err, engine.ErrStopped) && errors.Is(o.err, model.ErrUnreachable):
		needs = append(needs, "the API stopped answering while changes were sent; the rest were skipped")
	case code == exitNotStarted:
		needs = append(needs, "the run could not start ("+notStartedWhy(o.err)+"); nothing was written; the log says why")
	}
	if o.refusal != nil && s.ExitCode != exitRefused {
		needs = append(needs, "apply would be refused by the guard: read the plan")
	}
	if n := s.Counts[string(model.Failed)]; n > 0 {
		needs = append(needs, fmt.Sprintf("%d row%s failed; the report says why", n, plural(n)))
	}
	if s.Unrecorded > 0 {
		needs = append(needs, fmt.Sprintf("the report could not be written: %d outcome%s only in the log", s.Unrecorded, plural(s.Unrecorded)))
	}
	return strings.Join(needs, "; ")
}

// notStartedWhy names the kind of trouble that kept a run from starting.
func notStartedWhy(err error) string {
	switch {
	case errors.Is(err, errUsage):
		return "a usage or configuration error"
	case errors.Is(err, model.ErrAuth):
		return "the credentials were rejected"
	case errors.Is(err, model.ErrUnreachable):
		return "the API did not answer"
	case errors.Is(err, state.ErrLocked):
		return "another run holds the target"
	}
	return "the roster, the mapping, the state or an output could not be used"
}

// text is the line a person reads: command, target, counts, exit code,
// run id, report, and what needs a person.
func (o outcome) text() string {
	s := o.summary
	var b strings.Builder
	fmt.Fprintf(&b, "rostersync %s", o.cmd)
	if o.runID != "" {
		fmt.Fprintf(&b, " (run %s)", o.runID)
	}
	if o.target != "" {
		fmt.Fprintf(&b, " on %s", o.target)
	}
	if o.host != "" {
		fmt.Fprintf(&b, " (%s)", o.host)
	}
	fmt.Fprintf(&b, ": exit %d", s.ExitCode)
	var parts []string
	for _, st := range model.Statuses {
		if n := s.Counts[string(st)]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, ", %s of %d row%s", strings.Join(parts, ", "), s.Rows, plural(s.Rows))
	}
	if s.Report != "" && s.Rows > 0 {
		fmt.Fprintf(&b, "; report %s", s.Report)
	}
	if p := o.problem(); p != "" {
		fmt.Fprintf(&b, ". Needs a person: %s.", p)
	} else {
		b.WriteString(". Nothing needs a person.")
	}
	return b.String()
}

// notifier posts notices to webhooks.
type notifier struct {
	client *http.Client
	policy ratelimit.Policy
	log    func(host string, attempts int, err error)
}

// newNotifier retries a webhook that fails (a network error, 408, 429 or
// 5xx, as every request of rostersync is judged) three times, backing off
// from base, within 30 s; each attempt within 10 s.
func newNotifier(base time.Duration, log func(string, int, error)) *notifier {
	if base <= 0 {
		base = time.Second
	}
	return &notifier{
		client: &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		policy: ratelimit.Policy{Attempts: 4, Base: base, Max: 8 * base, Deadline: 30 * time.Second},
		log:    log,
	}
}

// send posts n to every webhook at once and waits for them. It reports
// each outcome through log and returns nothing: a notification never
// changes how the run went.
func (nf *notifier) send(ctx context.Context, hooks []webhook, n notice) {
	var wg sync.WaitGroup
	for _, h := range hooks {
		wg.Go(func() {
			attempts, err := nf.post(ctx, h, n)
			nf.log(h.host(), attempts, err)
		})
	}
	wg.Wait()
}

// post sends one notice, with retries.
func (nf *notifier) post(ctx context.Context, h webhook, n notice) (int, error) {
	body, err := n.body(h.kind)
	if err != nil {
		return 0, err
	}
	return nf.policy.Do(ctx, ratelimit.New(0), func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url.String(), bytes.NewReader(body))
		if err != nil {
			return errors.New("building the request") // its error would show the URL
		}
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
		req.Header.Set("User-Agent", "rostersync/"+version())
		resp, err := nf.client.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // its text holds the URL, a secret
			}
			return fmt.Errorf("posting to %s: %w", h.host(), err)
		}
		defer resp.Body.Close()
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode/100 == 2 {
			return nil
		}
		return &webhookError{host: h.host(), status: resp.StatusCode, body: oneLine(string(text)), retryAfter: resp.Header.Get("Retry-After")}
	})
}

// webhookError is a webhook's answer other than 2xx.
type webhookError struct {
	host       string
	status     int
	body       string
	retryAfter string
}

func (e *webhookError) Error() string {
	msg := fmt.Sprintf("%s answered %d", e.host, e.status)
	if e.body != "" {
		msg += ": " + e.body
	}
	return msg
}

// HTTPStatus implements ratelimit.StatusError, so that the one retry
// policy judges it.
func (e *webhookError) HTTPStatus() int { return e.status }

// RetryAt is when a 429 or 503 said to come back (Retry-After seconds).
func (e *webhookError) RetryAt() time.Time {
	if secs, err := strconv.Atoi(strings.TrimSpace(e.retryAfter)); err == nil && secs >= 0 {
		return time.Now().Add(time.Duration(secs) * time.Second)
	}
	return time.Time{}
}

// oneLine keeps a webhook's answer to one printable line.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }), " ")
}
