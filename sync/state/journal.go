package state

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The journal is the record of every change runs made at a target: one
// JSON Lines file per target and base URL beside the ledger, appended to
// (each entry written through as its row finishes, so kill -9 loses
// nothing) and never rewritten. Each apply writes a start entry, one
// change entry per applied row, and an end entry; a run cut short has no
// end. It answers "who changed this user, and when?" (history), lists the
// runs (runs), and is what revert undoes.

// Entry is one line of the journal.
type Entry struct {
	Run  string    `json:"run"`
	Type string    `json:"type"` // "start", "change" or "end"
	At   time.Time `json:"at"`

	// start
	Command string `json:"command,omitempty"`
	Target  string `json:"target,omitempty"`
	BaseURL string `json:"base_url,omitempty"`
	Plan    string `json:"plan,omitempty"`    // the digest of the plan file applied, if any
	Reverts string `json:"reverts,omitempty"` // the run a revert plan undoes, if any

	// change
	Row    int           `json:"row,omitempty"`
	Key    string        `json:"key,omitempty"`
	User   string        `json:"user,omitempty"`
	Fields []FieldChange `json:"fields,omitempty"`

	// end
	Counts map[string]int `json:"counts,omitempty"`
	Exit   *int           `json:"exit,omitempty"`
}

// FieldChange is one field a change wrote: its value before and after, as
// they travel in JSON. A secret is recorded only as changed; a write-only
// field whose value before no read or ledger told is recorded as unknown.
type FieldChange struct {
	Field   string          `json:"field"`
	Before  json.RawMessage `json:"before,omitempty"`
	After   json.RawMessage `json:"after,omitempty"`
	Unknown bool            `json:"unknown,omitempty"` // the value before is not known
	Secret  bool            `json:"secret,omitempty"`  // a password: neither value is kept
}

// NewRunID returns a new run id: the UTC time to the second and four
// random bytes, so ids sort by time and never collide.
func NewRunID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// journalPath names the journal of a target at a base URL.
func journalPath(dir, target, baseURL string) string {
	return strings.TrimSuffix(PathOf(dir, target, baseURL), ".jsonl") + ".journal.jsonl"
}

// Journal appends one run's entries to its target's journal.
type Journal struct {
	run string
	mu  sync.Mutex
	f   *os.File
}

// OpenJournal starts run in the journal of target at baseURL under dir,
// writing its start entry. Hold the target's Lock while it is open.
func OpenJournal(dir string, start Entry) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	path := journalPath(dir, start.Target, start.BaseURL)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := cutTornLine(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	j := &Journal{run: start.Run, f: f}
	start.Type = "start"
	if err := j.append(start); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// cutTornLine drops a last line a crash left without its newline, so the
// next entry starts on a line of its own.
func cutTornLine(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	tail := make([]byte, min(st.Size(), 64<<10))
	for off := st.Size(); off > 0; {
		n := int64(len(tail))
		if off < n {
			n = off
		}
		off -= n
		if _, err := f.ReadAt(tail[:n], off); err != nil {
			return err
		}
		if i := bytes.LastIndexByte(tail[:n], '\n'); i >= 0 {
			if end := off + int64(i) + 1; end < st.Size() {
				return f.Truncate(end)
			}
			return nil
		}
	}
	return f.Truncate(0)
}

// Change records one applied row.
func (j *Journal) Change(e Entry) error {
	e.Type = "change"
	return j.append(e)
}

// End records how the run ended and closes the journal.
func (j *Journal) End(counts map[string]int, exit int) error {
	err := j.append(Entry{Type: "end", Counts: counts, Exit: &exit})
	j.mu.Lock()
	defer j.mu.Unlock()
	if serr := j.f.Sync(); err == nil {
		err = serr
	}
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (j *Journal) append(e Entry) error {
	e.Run = j.run
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	line, err := marshalEntry(e)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// Run is one run as the journal holds it.
type Run struct {
	Entry           // its start entry
	Changes []Entry // its change entries, in order
	End     *Entry  // its end entry; nil when the run was cut short
}

// Runs reads every journal under dir, oldest run first. A journal's torn
// last line (a crash mid-write) is passed over; damage elsewhere is an
// error naming the file and line.
func Runs(dir string) ([]*Run, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.journal.jsonl"))
	if err != nil {
		return nil, err
	}
	var runs []*Run
	for _, p := range paths {
		rs, err := readJournal(p)
		if err != nil {
			return nil, err
		}
		runs = append(runs, rs...)
	}
	slices.SortStableFunc(runs, func(a, b *Run) int { return a.At.Compare(b.At) })
	return runs, nil
}

func readJournal(path string) ([]*Run, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i < len(data)-1 {
		data = data[:i+1] // a torn last line
	}
	byID := map[string]*Run{}
	var runs []*Run
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for n := 1; sc.Scan(); n++ {
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Run == "" {
			return nil, fmt.Errorf("journal %s: line %d is not a journal entry", path, n)
		}
		r := byID[e.Run]
		switch {
		case e.Type == "start":
			r = &Run{Entry: e}
			byID[e.Run] = r
			runs = append(runs, r)
		case r == nil:
			return nil, fmt.Errorf("journal %s: line %d belongs to run %s, which has no start", path, n, e.Run)
		case e.Type == "change":
			r.Changes = append(r.Changes, e)
		case e.Type == "end":
			r.End = &e
		default:
			return nil, fmt.Errorf("journal %s: line %d has an unknown type %q", path, n, e.Type)
		}
	}
	return runs, sc.Err()
}

// FindRun returns the run with the given id.
func FindRun(runs []*Run, id string) (*Run, error) {
	for _, r := range runs {
		if r.Run == id {
			return r, nil
		}
	}
	return nil, errors.New("no run " + id + " in the journal")
}

// jsonZone reports whether encoding/json can write t's zone offset (it
// refuses one of a day or more).
func jsonZone(t time.Time) bool {
	_, off := t.Zone()
	return off > -24*60*60 && off < 24*60*60
}

// marshalEntry is json.Marshal(e), written by hand for a change, the one
// entry a run writes for every row (TestMarshalEntry holds it to
// encoding/json's bytes): reflection cost as much as the write.
func marshalEntry(e Entry) ([]byte, error) {
	if e.Type != "change" || e.Command != "" || e.Target != "" || e.BaseURL != "" || e.Plan != "" || e.Reverts != "" ||
		e.Counts != nil || e.Exit != nil || e.At.Year() < 0 || e.At.Year() > 9999 || !jsonZone(e.At) {
		return json.Marshal(e)
	}
	b := make([]byte, 0, 256)
	b = appendString(append(b, `{"run":`...), e.Run)
	b = appendString(append(b, `,"type":`...), e.Type)
	b = append(b, `,"at":"`...)
	b = e.At.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if e.Row != 0 {
		b = strconv.AppendInt(append(b, `,"row":`...), int64(e.Row), 10)
	}
	if e.Key != "" {
		b = appendString(append(b, `,"key":`...), e.Key)
	}
	if e.User != "" {
		b = appendString(append(b, `,"user":`...), e.User)
	}
	if len(e.Fields) > 0 {
		b = append(b, `,"fields":[`...)
		for i, f := range e.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(append(b, `{"field":`...), f.Field)
			for _, raw := range []struct {
				key string
				v   json.RawMessage
			}{{`,"before":`, f.Before}, {`,"after":`, f.After}} {
				if len(raw.v) == 0 {
					continue
				}
				b = append(b, raw.key...)
				var err error
				if b, err = appendCompact(b, raw.v); err != nil {
					return nil, err
				}
			}
			if f.Unknown {
				b = append(b, `,"unknown":true`...)
			}
			if f.Secret {
				b = append(b, `,"secret":true`...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// appendCompact appends a raw JSON value as encoding/json writes a
// json.RawMessage: compacted, with HTML escaped.
func appendCompact(b []byte, raw json.RawMessage) ([]byte, error) {
	if json.Valid(raw) && plainJSON(raw) {
		return append(b, raw...), nil // as json.Marshal wrote it: compact and escaped already
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	var esc bytes.Buffer
	json.HTMLEscape(&esc, buf.Bytes())
	return append(b, esc.Bytes()...), nil
}

// appendString appends s quoted as encoding/json quotes it: plain
// printable ASCII as it is, anything it escapes through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			out, _ := json.Marshal(s) // a string always marshals
			return append(b, out...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainJSON reports whether valid JSON is as Compact and HTMLEscape leave
// it: no white space outside strings, nothing HTML-escaped needs.
func plainJSON(raw []byte) bool {
	in := false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return false
		case c == '<' || c == '>' || c == '&' || c == 0xE2: // 0xE2: U+2028 and U+2029 start so
			return false
		}
	}
	return true
}
