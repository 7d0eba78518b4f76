package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookSecret is the secret part of the test webhook's URL, as a Slack
// webhook's path is.
const hookSecret = "/services/T0001/B0001/h00kS3cretXYZ"

// hook is a webhook that records what it is sent, failing the first fail
// posts with 500.
type hook struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  [][]byte
	hits int
	fail int
}

func newHook(t *testing.T, fail int) *hook {
	t.Helper()
	h := &hook{fail: fail}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.hits++
		switch {
		case r.Method != http.MethodPost || r.URL.Path != hookSecret || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
			http.Error(w, "unexpected request", http.StatusBadRequest)
		case h.hits <= h.fail:
			http.Error(w, "internal_error", http.StatusInternalServerError)
		default:
			h.got = append(h.got, body)
			io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) url() string { return h.srv.URL + hookSecret }

// posts returns the bodies the webhook took, and how often it was asked.
func (h *hook) posts() ([][]byte, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got), h.hits
}

// message is a notification as a Slack-like webhook receives it.
type message struct {
	Text    string  `json:"text"`
	Summary summary `json:"rostersync"`
}

// failingRoster changes one user and fails one row.
const failingRoster = "id,name,email,block_agent\n" +
	"314678,Asha Rao,asha@example.com,no\n" +
	"314702,Rohit Sharma,Rohit.New@example.com,no\n" +
	"314735,Priya Nair,priya.nair@example.com,perhaps\n"

// TestNotifyOnProblems applies a roster with a bad row: one message, whose
// body parses, holds the counts, the exit code and the report, says what
// needs a person, and holds no secret and no roster content.
func TestNotifyOnProblems(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "smartflo")
	wh := newHook(t, 0)
	report := filepath.Join(h.dir, "report.csv")
	res := h.run("apply", "--roster", h.file("roster.csv", failingRoster), "--report", report, "--notify", wh.url())
	if res.code != exitRowsFailed {
		t.Fatalf("exit %d, want 1\n%s", res.code, res.stderr)
	}
	posts, _ := wh.posts()
	if len(posts) != 1 {
		t.Fatalf("%d messages, want 1", len(posts))
	}
	var m message
	if err := json.Unmarshal(posts[0], &m); err != nil {
		t.Fatalf("the body does not parse: %v\n%s", err, posts[0])
	}
	if c := m.Summary.Counts; c["failed"] != 1 || c["applied"] != 1 || c["unchanged"] != 1 || m.Summary.ExitCode != 1 || m.Summary.Report != report {
		t.Errorf("summary %+v", m.Summary)
	}
	if m.Summary.RunID == "" || !strings.Contains(m.Text, "rostersync apply (run "+m.Summary.RunID+") on smartflo (127.0.0.1:") {
		t.Errorf("text %q does not name the run %q", m.Text, m.Summary.RunID)
	}
	for _, want := range []string{"exit 1", "1 applied, 1 unchanged, 1 failed of 3 rows",
		"report " + report, "Needs a person: 1 row failed; the report says why"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text %q does not say %q", m.Text, want)
		}
	}
	for _, secret := range []string{testToken, "h00kS3cret", "asha@example.com", "Rohit", "Priya", "perhaps"} {
		if strings.Contains(string(posts[0]), secret) {
			t.Errorf("the message holds %q:\n%s", secret, posts[0])
		}
	}
	if strings.Contains(res.stderr, "h00kS3cret") || !strings.Contains(res.stderr, "notification sent") {
		t.Errorf("the log shows the webhook's secret, or not that it was sent:\n%s", res.stderr)
	}
}

// TestNotifyOnlyOnProblems sends nothing after a clean run with the
// default --notify-on problems, and a message saying nothing needs a
// person with always.
func TestNotifyOnlyOnProblems(t *testing.T) {
	t.Parallel()
	for _, on := range []string{"", "problems", "always"} {
		t.Run(on, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, "smartflo")
			wh := newHook(t, 0)
			args := []string{"--roster", h.file("roster.csv", e2eCases["smartflo"].roster), "--report", filepath.Join(h.dir, "r.csv"), "--notify", wh.url()}
			if on != "" {
				args = append(args, "--notify-on", on)
			}
			res := h.run("apply", args...)
			if res.code != exitOK {
				t.Fatalf("exit %d\n%s", res.code, res.stderr)
			}
			posts, hits := wh.posts()
			if on != "always" {
				if hits != 0 {
					t.Errorf("a clean run notified %d times under --notify-on %q", hits, on)
				}
				return
			}
			var m message
			if len(posts) != 1 || json.Unmarshal(posts[0], &m) != nil || m.Summary.ExitCode != 0 || !strings.Contains(m.Text, "Nothing needs a person") {
				t.Errorf("%d posts, want 1 saying exit 0 and nothing needs a person: %s", len(posts), posts)
			}
		})
	}
}

// TestNotifyRetriesAndKeepsTheExitCode: a webhook answering 500 is asked
// again, and one that never takes the message is logged; neither changes
// the run's exit code.
func TestNotifyRetriesAndKeepsTheExitCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name         string
		fail         int
		posts, hits  int
		logged, code string
	}{
		{"500 twice, then taken", 2, 1, 3, "notification sent", ""},
		{"500 every time", 100, 0, 4, "notification not sent", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, "smartflo")
			wh := newHook(t, tt.fail)
			res := h.run("apply", "--roster", h.file("roster.csv", failingRoster), "--report", filepath.Join(h.dir, "r.csv"), "--notify", wh.url())
			if res.code != exitRowsFailed {
				t.Errorf("exit %d, want 1 as without a webhook\n%s", res.code, res.stderr)
			}
			posts, hits := wh.posts()
			if len(posts) != tt.posts || hits != tt.hits {
				t.Errorf("%d taken of %d posts, want %d of %d", len(posts), hits, tt.posts, tt.hits)
			}
			if !strings.Contains(res.stderr, tt.logged) || strings.Contains(res.stderr, "h00kS3cret") {
				t.Errorf("the log does not say %q, or shows the secret:\n%s", tt.logged, res.stderr)
			}
		})
	}
}

// TestNotifyWhenTheRunCannotStart notifies a run that stops before any
// request (no roster): exit 2, and why in general terms.
func TestNotifyWhenTheRunCannotStart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "smartflo")
	wh := newHook(t, 0)
	res := h.run("apply", "--report", filepath.Join(h.dir, "r.csv"), "--notify", wh.url())
	if res.code != exitNotStarted {
		t.Fatalf("exit %d, want 2", res.code)
	}
	posts, _ := wh.posts()
	var m message
	if len(posts) != 1 || json.Unmarshal(posts[0], &m) != nil || m.Summary.ExitCode != 2 ||
		!strings.Contains(m.Text, "could not start (a usage or configuration error)") {
		t.Errorf("posts %s, want one saying the run could not start", posts)
	}
}

// TestNotifyAWouldBeRefusal notifies a plan that apply would refuse, a
// problem though plan exits 0; and takes its webhooks from the
// environment, one a line.
func TestNotifyAWouldBeRefusal(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "smartflo")
	first, second := newHook(t, 0), newHook(t, 0)
	h.env["ROSTERSYNC_NOTIFY"] = first.url() + "\n" + second.url() + "\n"
	res := h.run("plan", "--roster", h.file("roster.csv", e2eCases["smartflo"].roster), "--report", filepath.Join(h.dir, "r.csv"), "--max-changes", "1")
	if res.code != exitOK {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	for i, wh := range []*hook{first, second} {
		posts, _ := wh.posts()
		var m message
		if len(posts) != 1 || json.Unmarshal(posts[0], &m) != nil || !strings.Contains(m.Text, "apply would be refused by the guard") {
			t.Errorf("webhook %d: posts %s, want one saying apply would be refused", i+1, posts)
		}
	}
}

// TestNotifyURLsAreChecked refuses plain http to another machine, as
// --base-url does, and a URL that is none, before any request and
// without showing the URL's secret part.
func TestNotifyURLsAreChecked(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://chat.example.com/hooks/s3cretPart", "hooks.example.com/s3cretPart", "ftp://x/s3cretPart"} {
		h := newHarness(t, "smartflo")
		res := h.run("plan", "--roster", h.file("roster.csv", e2eCases["smartflo"].roster), "--notify", u)
		if res.code != exitNotStarted || len(h.requests()) != 0 {
			t.Errorf("%s: exit %d after %d requests, want 2 before any", u, res.code, len(h.requests()))
		}
		if strings.Contains(res.stderr, "s3cretPart") || !strings.Contains(res.stderr, "--notify") {
			t.Errorf("%s: the error shows the URL's path, or does not name --notify:\n%s", u, res.stderr)
		}
	}
	h := newHarness(t, "smartflo")
	res := h.run("plan", "--roster", h.file("roster.csv", e2eCases["smartflo"].roster), "--notify", newHook(t, 0).url(), "--notify-on", "sometimes")
	if res.code != exitNotStarted || !strings.Contains(res.stderr, "--notify-on must be problems or always") {
		t.Errorf("--notify-on sometimes: exit %d\n%s", res.code, res.stderr)
	}
}

// TestNotificationShapes shapes the message for each kind of webhook:
// Google Chat takes nothing but text; Teams an Adaptive Card; the rest
// the text and the summary.
func TestNotificationShapes(t *testing.T) {
	t.Parallel()
	n := notice{Text: "rostersync apply on smartflo: exit 1", Summary: summary{Command: "apply", ExitCode: 1, Counts: map[string]int{"failed": 2}}}
	for host, want := range map[string]webhookKind{
		"hooks.slack.com": slackLike, "chat.googleapis.com": googleChat, "contoso.webhook.office.com": teams,
		"prod-12.westus.logic.azure.com": teams, "default1a2b.3c.environment.api.powerplatform.com": teams, "mattermost.example.com": slackLike,
	} {
		if got := kindOf(host); got != want {
			t.Errorf("kindOf(%s) = %d, want %d", host, got, want)
		}
	}
	var chat map[string]any
	if err := json.Unmarshal(must(n.body(googleChat)), &chat); err != nil || len(chat) != 1 || chat["text"] != n.Text {
		t.Errorf("Google Chat body %v (%v), want the text alone", chat, err)
	}
	var slack message
	if err := json.Unmarshal(must(n.body(slackLike)), &slack); err != nil || slack.Text != n.Text || slack.Summary.Counts["failed"] != 2 {
		t.Errorf("Slack body %+v (%v)", slack, err)
	}
	var card struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Type string           `json:"type"`
				Body []map[string]any `json:"body"`
			} `json:"content"`
		} `json:"attachments"`
		Summary summary `json:"rostersync"`
	}
	if err := json.Unmarshal(must(n.body(teams)), &card); err != nil || card.Type != "message" || len(card.Attachments) != 1 ||
		card.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" || card.Attachments[0].Content.Type != "AdaptiveCard" ||
		card.Attachments[0].Content.Body[0]["text"] != n.Text || card.Summary.ExitCode != 1 {
		t.Errorf("Teams body %+v (%v)", card, err)
	}
}

// TestNotificationText says the run id when the run has one, and names
// kinds of trouble, never an error's text.
func TestNotificationText(t *testing.T) {
	t.Parallel()
	secret := errors.New("credentials rejected: token s3cret-token expired for admin@example.com")
	o := outcome{cmd: "apply", target: "dnl", host: "dnl.example.com", runID: "20261122-0215-ab12",
		summary: summary{ExitCode: exitNotStarted, Counts: map[string]int{}}, err: usageError("%w", secret)}
	text := o.text()
	for _, want := range []string{"rostersync apply (run 20261122-0215-ab12) on dnl (dnl.example.com): exit 2", "could not start (a usage or configuration error)"} {
		if !strings.Contains(text, want) {
			t.Errorf("text %q does not say %q", text, want)
		}
	}
	if strings.Contains(text, "s3cret") || strings.Contains(text, "admin@") {
		t.Errorf("text %q holds the error's content", text)
	}
	// A Retry-After in seconds is when to come back.
	if at := (&webhookError{status: 429, retryAfter: "3"}).RetryAt(); time.Until(at) < 2*time.Second {
		t.Errorf("RetryAt = %v", at)
	}
}
