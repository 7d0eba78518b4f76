// Package state owns rostersync's state directory: the lock one run holds
// on a target, and the ledger.
//
// The ledger keeps, per target, the record of what rostersync last
// wrote to each user's write-only fields (Smartflo's caller_id, agent_group
// and password), which no read returns. Without it every run would rewrite
// them; Terraform keeps state for the same reason. Passwords are kept only
// as bcrypt hashes.
//
// A ledger is a JSON Lines file under the user's state directory, one file
// per target and base URL, appended to as writes succeed (so a crash loses
// nothing) and compacted when closed. Deleting the file, or running with
// --resend-write-only, makes the next apply send every write-only field
// again.
package state

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/rostersync/rostersync/sync/model"
	"golang.org/x/crypto/bcrypt"
)

// Dir returns the directory ledgers live in: $XDG_STATE_HOME/rostersync,
// else ~/.local/state/rostersync. It never falls back to the working
// directory.
func Dir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "rostersync"), nil
	}
	home := getenv("HOME")
	if !filepath.IsAbs(home) {
		return "", errors.New("no state directory: set XDG_STATE_HOME or HOME")
	}
	return filepath.Join(home, ".local", "state", "rostersync"), nil
}

// header is the first line of a ledger file, for people who open it.
type header struct {
	Target  string `json:"target"`
	BaseURL string `json:"base_url"`
}

// entry is one recorded write.
type entry struct {
	UserID string         `json:"user_id"`
	Fields map[string]any `json:"fields"`
}

// Ledger is one target's record. It implements plan.Ledger and
// apply.Ledger: it owns what it keeps of secrets and comparing with them
// (see verifier.go).
type Ledger struct {
	path  string
	head  header
	cost  int // bcrypt's cost, without a key
	keyed keyed

	mu      sync.Mutex
	users   map[string]map[string]any
	file    *os.File // open for appending once something is recorded
	written bool
	whole   int64 // when the file ends in a torn line, the length before it; else -1
}

// Options say how a ledger keeps secrets: as verifiers keyed by Key, a
// secret derived from the run's credentials that the state directory
// never holds; with no key, as bcrypt hashes of Cost (0:
// bcrypt.DefaultCost; tests lower it).
type Options struct {
	Key  []byte
	Cost int
}

// Open loads the ledger of a target at a base URL from dir, or starts an
// empty one. Nothing is written until Record is called.
func Open(dir, target, baseURL string, o Options) (*Ledger, error) {
	if o.Cost == 0 {
		o.Cost = bcrypt.DefaultCost
	}
	l := &Ledger{
		cost:  o.Cost,
		keyed: newKeyed(o.Key),
		path:  PathOf(dir, target, baseURL),
		head:  header{Target: target, BaseURL: baseURL},
		users: map[string]map[string]any{},
		whole: -1,
	}
	data, err := os.ReadFile(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the ledger: %w", err)
	}
	if err := l.load(data); err != nil {
		return nil, fmt.Errorf("ledger %s: %w (delete it to start afresh; the next apply resends write-only fields)", l.path, err)
	}
	return l, nil
}

// PathOf returns the file the ledger of a target at a base URL lives in.
func PathOf(dir, target, baseURL string) string {
	sum := sha256.Sum256([]byte(baseURL))
	return filepath.Join(dir, fmt.Sprintf("%s-%s.jsonl", target, hex.EncodeToString(sum[:6])))
}

func (l *Ledger) load(data []byte) error {
	if i := bytes.LastIndexByte(data, '\n'); i < len(data)-1 {
		data = data[:i+1] // a torn last line from a crash
		l.whole = int64(i + 1)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		if n == 1 {
			var h header
			if err := dec.Decode(&h); err != nil || h != l.head {
				return fmt.Errorf("line 1 is not the header of %s at %s", l.head.Target, l.head.BaseURL)
			}
			continue
		}
		var e entry
		if err := dec.Decode(&e); err != nil || e.UserID == "" {
			return fmt.Errorf("line %d is not a ledger entry", n)
		}
		l.merge(e)
	}
	return sc.Err()
}

func (l *Ledger) merge(e entry) {
	u := l.users[e.UserID]
	if u == nil {
		u = map[string]any{}
		l.users[e.UserID] = u
	}
	maps.Copy(u, e.Fields)
}

// Written implements plan.Ledger.
// A secret's verifier made under another key is left out: it cannot be
// checked, so the secret counts as unknown; and so are the memos of
// server hashes, which are the ledger's own business.
func (l *Ledger) Written(userID string) map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := maps.Clone(l.users[userID])
	for name, v := range out {
		if s, _ := v.(string); strings.HasSuffix(name, memoSuffix) || !l.keyed.checkable(s) {
			delete(out, name)
		}
	}
	return out
}

// SameSecret implements plan.Ledger: stored is what the ledger keeps of
// the secret of a user's field, or the hash the API returned for it
// (DNL's passwd), whose match the ledger remembers.
func (l *Ledger) SameSecret(userID, field, stored, plain string) bool {
	if !strings.HasPrefix(stored, "$2") { // the ledger's own
		same, _ := l.keyed.matches(userID, field, stored, plain)
		return same
	}
	l.mu.Lock()
	memo, _ := l.users[userID][field+memoSuffix].(string)
	l.mu.Unlock()
	if l.keyed.remembered(memo, userID, field, stored, plain) {
		return true
	}
	same, _ := l.keyed.matches(userID, field, stored, plain)
	if same && l.keyed.key != nil {
		_ = l.append(userID, map[string]any{field + memoSuffix: l.keyed.memo(userID, field, stored, plain)}) // a memo lost costs a bcrypt next time
	}
	return same
}

// Record implements apply.Ledger: it appends the write to the file, then
// remembers it. A secret is kept as a bcrypt hash, never as it is.
func (l *Ledger) Record(userID string, values []model.Value) error {
	if len(values) == 0 {
		return nil
	}
	fields := make(map[string]any, len(values))
	for _, v := range values {
		if !v.Field.Secret {
			fields[v.Field.Name] = v.Field.Kind.Encode(v.V)
			continue
		}
		plain, _ := v.V.(string)
		kept, err := l.keyed.verifier(userID, v.Field.Name, plain, l.cost)
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		fields[v.Field.Name] = kept
	}
	return l.append(userID, fields)
}

// append writes one entry to the file, then remembers it.
func (l *Ledger) append(userID string, fields map[string]any) error {
	line, err := json.Marshal(entry{UserID: userID, Fields: fields})
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		if l.file, err = l.openAppend(); err != nil {
			return err
		}
	}
	if _, err := l.file.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("ledger %s: %w", l.path, err)
	}
	l.written = true
	// Round-trip so Written returns what a later run would load.
	var e entry
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if err := dec.Decode(&e); err == nil {
		l.merge(e)
	}
	return nil
}

func (l *Ledger) openAppend() (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if l.whole >= 0 {
		// Appending after a torn line would glue the next entry to it,
		// leaving a bad line that is no longer the last.
		if err := f.Truncate(l.whole); err != nil {
			f.Close()
			return nil, fmt.Errorf("ledger %s: %w", l.path, err)
		}
		l.whole = -1
	}
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		h, _ := json.Marshal(l.head)
		if _, err := f.Write(append(h, '\n')); err != nil {
			f.Close()
			return nil, fmt.Errorf("ledger %s: %w", l.path, err)
		}
	}
	return f, nil
}

// Close compacts the file to one line per user, when anything was
// recorded, by writing a new file and renaming it over the old.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		return nil
	}
	err := l.file.Close()
	l.file = nil
	if err != nil || !l.written {
		return err
	}
	var buf bytes.Buffer
	h, _ := json.Marshal(l.head)
	buf.Write(append(h, '\n'))
	for _, id := range slices.Sorted(maps.Keys(l.users)) {
		line, err := json.Marshal(entry{UserID: id, Fields: l.users[id]})
		if err != nil {
			return err
		}
		buf.Write(append(line, '\n'))
	}
	if err := WriteFile(l.path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}
