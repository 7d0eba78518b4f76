package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rostersync/rostersync/sync/plan"
	"golang.org/x/crypto/bcrypt"
)

var _ plan.Ledger = (*Ledger)(nil)

const (
	target = "smartflo"
	base   = "https://api.example.com"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestDir(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		want string // "" for an error
	}{
		{"XDG_STATE_HOME", map[string]string{"XDG_STATE_HOME": "/xdg/state", "HOME": "/home/a"}, "/xdg/state/rostersync"},
		{"XDG_STATE_HOME without HOME", map[string]string{"XDG_STATE_HOME": "/xdg/state"}, "/xdg/state/rostersync"},
		{"HOME", map[string]string{"HOME": "/home/a"}, "/home/a/.local/state/rostersync"},
		{"relative XDG_STATE_HOME is ignored", map[string]string{"XDG_STATE_HOME": "state", "HOME": "/home/a"}, "/home/a/.local/state/rostersync"},
		{"neither", map[string]string{}, ""},
		{"relative HOME", map[string]string{"HOME": "home/a"}, ""},
		{"relative XDG_STATE_HOME and no HOME", map[string]string{"XDG_STATE_HOME": "state"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Dir(env(c.env))
			if c.want == "" {
				if err == nil {
					t.Errorf("Dir() = %q, want an error", got)
				} else if !strings.Contains(err.Error(), "XDG_STATE_HOME") {
					t.Errorf("error %q does not say what to set", err)
				}
				return
			}
			if err != nil || got != filepath.FromSlash(c.want) {
				t.Errorf("Dir() = %q, %v; want %q", got, err, c.want)
			}
		})
	}
}

func open(t *testing.T, dir string) *Ledger {
	t.Helper()
	l, err := Open(dir, target, base, Options{Cost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func record(t *testing.T, l *Ledger, id string, fields map[string]any) {
	t.Helper()
	if err := l.Record(id, vals(fields)); err != nil {
		t.Fatal(err)
	}
}

// crash stops using l as a killed process would: the file is left as it
// is, without compaction.
func crash(t *testing.T, l *Ledger) {
	t.Helper()
	if l.file != nil {
		if err := l.file.Close(); err != nil {
			t.Fatal(err)
		}
		l.file = nil
	}
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(data), "\n")
}

func TestPath(t *testing.T) {
	dir := t.TempDir()
	a := open(t, dir).path
	if filepath.Dir(a) != dir || !strings.HasPrefix(filepath.Base(a), target+"-") || !strings.HasSuffix(a, ".jsonl") {
		t.Errorf("Path() = %q", a)
	}
	if b := open(t, dir).path; b != a {
		t.Errorf("the same target and URL give %q and %q", a, b)
	}
	other, err := Open(dir, target, "https://other.example.com", Options{Cost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	if other.path == a {
		t.Error("two base URLs share a ledger file")
	}
	dnl, err := Open(dir, "dnl", base, Options{Cost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	if dnl.path == a {
		t.Error("two targets share a ledger file")
	}
}

func TestNothingWritten(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "rostersync")
	l := open(t, dir)
	if got := l.Written("1"); got != nil {
		t.Errorf("Written of an empty ledger = %v", got)
	}
	record(t, l, "1", nil)
	record(t, l, "1", map[string]any{})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a ledger with nothing recorded created %s (%v)", dir, err)
	}
}

func TestRecordReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "rostersync")
	l := open(t, dir)
	record(t, l, "7", map[string]any{"caller_id": []any{"101", "102"}, "password": "$2a$10$hash"})
	record(t, l, "8", map[string]any{"agent_group": []any{}, "n": 5})

	// Written gives what a later run would load: numbers as json.Number.
	want := map[string]map[string]any{
		"7": {"caller_id": []any{"101", "102"}, "password": "$2a$10$hash"},
		"8": {"agent_group": []any{}, "n": json.Number("5")},
	}
	check := func(l *Ledger) {
		t.Helper()
		for id, w := range want {
			if got := l.Written(id); !reflect.DeepEqual(got, w) {
				t.Errorf("Written(%s) = %#v, want %#v", id, got, w)
			}
		}
		if got := l.Written("9"); got != nil {
			t.Errorf("Written(9) = %v", got)
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]fs.FileMode{dir: 0o700, l.path: 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s has mode %v, want %v", path, st.Mode().Perm(), mode)
		}
	}
	check(open(t, dir))
}

func TestMergeAndCompaction(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	record(t, l, "2", map[string]any{"caller_id": []any{"a"}, "password": "h1"})
	record(t, l, "1", map[string]any{"agent_group": []any{"g"}})
	record(t, l, "2", map[string]any{"agent_group": []any{"g2"}})
	record(t, l, "2", map[string]any{"caller_id": []any{"b"}})
	want2 := map[string]any{"caller_id": []any{"b"}, "password": "h1", "agent_group": []any{"g2"}}
	if got := l.Written("2"); !reflect.DeepEqual(got, want2) {
		t.Errorf("Written(2) = %v, want %v", got, want2)
	}

	// Before Close the file holds every write, and loads merged.
	if got := lines(t, l.path); len(got) != 6 || got[5] != "" {
		t.Errorf("before Close the file has lines %q, want a header and 4 entries", got)
	}
	if got := open(t, dir).Written("2"); !reflect.DeepEqual(got, want2) {
		t.Errorf("reopened before Close: Written(2) = %v, want %v", got, want2)
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := lines(t, l.path)
	wantLines := []string{
		`{"target":"smartflo","base_url":"https://api.example.com"}` + "\n",
		`{"user_id":"1","fields":{"agent_group":["g"]}}` + "\n",
		`{"user_id":"2","fields":{"agent_group":["g2"],"caller_id":["b"],"password":"h1"}}` + "\n",
		"",
	}
	if !reflect.DeepEqual(got, wantLines) {
		t.Errorf("compacted file\n got %q\nwant %q", got, wantLines)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{filepath.Base(l.path)}) {
		t.Errorf("after compaction the folder holds %q, want the ledger alone", names)
	}
	if got := open(t, dir).Written("2"); !reflect.DeepEqual(got, want2) {
		t.Errorf("after compaction: Written(2) = %v, want %v", got, want2)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// Recording after Close appends again, and a new Close compacts again.
	record(t, l, "3", map[string]any{"caller_id": []any{"c"}})
	if n := len(lines(t, l.path)); n != 5 {
		t.Errorf("after another Record the file has %d lines, want 5", n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(lines(t, l.path)); n != 5 {
		t.Errorf("after another Close the file has %d lines, want 5", n)
	}
	if got := open(t, dir).Written("3"); !reflect.DeepEqual(got, map[string]any{"caller_id": []any{"c"}}) {
		t.Errorf("Written(3) = %v", got)
	}
}

func TestCloseWithoutRecordLeavesTheFile(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	record(t, l, "1", map[string]any{"caller_id": []any{"a"}})
	record(t, l, "1", map[string]any{"caller_id": []any{"b"}})
	crash(t, l)
	before, err := os.ReadFile(l.path)
	if err != nil {
		t.Fatal(err)
	}
	l2 := open(t, dir)
	_ = l2.Written("1")
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(l.path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("a run that recorded nothing changed the ledger:\n%s\n->\n%s", before, after)
	}
}

func TestWrittenIsACopy(t *testing.T) {
	l := open(t, t.TempDir())
	record(t, l, "1", map[string]any{"password": "h"})
	got := l.Written("1")
	got["password"] = "changed"
	delete(got, "password")
	if w := l.Written("1"); w["password"] != "h" {
		t.Errorf("changing what Written returned changed the ledger: %v", w)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

const head = `{"target":"smartflo","base_url":"https://api.example.com"}` + "\n"

func TestTornLine(t *testing.T) {
	for _, c := range []struct {
		name, data string
		want       map[string]map[string]any
	}{
		{"torn entry", head + `{"user_id":"1","fields":{"caller_id":["a"]}}` + "\n" + `{"user_id":"2","fie`,
			map[string]map[string]any{"1": {"caller_id": []any{"a"}}}},
		{"torn header", `{"target":"smartflo","ba`, map[string]map[string]any{}},
		{"empty file", "", map[string]map[string]any{}},
		{"header only", head, map[string]map[string]any{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			l := open(t, dir)
			writeFile(t, l.path, c.data)
			l = open(t, dir)
			for id, w := range c.want {
				if got := l.Written(id); !reflect.DeepEqual(got, w) {
					t.Errorf("Written(%s) = %v, want %v", id, got, w)
				}
			}
			if got := l.Written("2"); got != nil {
				t.Errorf("the torn entry loaded: %v", got)
			}

			// A crash after appending to the torn file leaves a
			// ledger the next run can still read.
			record(t, l, "3", map[string]any{"caller_id": []any{"c"}})
			crash(t, l)
			l2, err := Open(dir, target, base, Options{Cost: bcrypt.MinCost})
			if err != nil {
				data, _ := os.ReadFile(l.path)
				t.Fatalf("reopening after a crash: %v\n%s", err, data)
			}
			if got := l2.Written("3"); !reflect.DeepEqual(got, map[string]any{"caller_id": []any{"c"}}) {
				t.Errorf("Written(3) = %v", got)
			}
			for id, w := range c.want {
				if got := l2.Written(id); !reflect.DeepEqual(got, w) {
					t.Errorf("after the crash Written(%s) = %v, want %v", id, got, w)
				}
			}

			// And a clean Close compacts it.
			record(t, l2, "4", map[string]any{"password": "h"})
			if err := l2.Close(); err != nil {
				t.Fatal(err)
			}
			got := lines(t, l2.path)
			if got[0] != head || len(got) != len(c.want)+4 {
				t.Errorf("compacted file: %q", got)
			}
		})
	}
}

func TestBadLedger(t *testing.T) {
	for _, c := range []struct{ name, data, wantErr string }{
		{"another target's header", `{"target":"dnl","base_url":"https://api.example.com"}` + "\n", "line 1"},
		{"another base URL", `{"target":"smartflo","base_url":"https://other.example.com"}` + "\n", "line 1"},
		{"not a header", `{"user_id":"1","fields":{}}` + "\n", "line 1"},
		{"not JSON", "hello\n", "line 1"},
		{"a bad line in the middle", head + "{oops\n" + `{"user_id":"1","fields":{}}` + "\n", "line 2"},
		{"an entry without a user", head + `{"user_id":"","fields":{"a":1}}` + "\n", "line 2"},
		{"a blank line", head + "\n" + `{"user_id":"1","fields":{}}` + "\n", "line 2"},
		{"fields not an object", head + `{"user_id":"1","fields":[1]}` + "\n", "line 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := open(t, dir).path
			writeFile(t, path, c.data)
			_, err := Open(dir, target, base, Options{Cost: bcrypt.MinCost})
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range []string{c.wantErr, path, "delete it"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestUnreadable(t *testing.T) {
	dir := t.TempDir()
	path := open(t, dir).path
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, target, base, Options{Cost: bcrypt.MinCost}); err == nil || !strings.Contains(err.Error(), "reading the ledger") {
		t.Errorf("Open with a folder for the file: %v", err)
	}
}

func TestRecordErrors(t *testing.T) {
	t.Run("the state folder cannot be made", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "rostersync")
		l := open(t, dir)
		writeFile(t, dir, "") // a file where the folder would go
		if err := l.Record("1", vals(map[string]any{"a": "b"})); err == nil {
			t.Error("no error")
		}
		if got := l.Written("1"); got != nil {
			t.Errorf("a failed Record is remembered: %v", got)
		}
		if err := l.Close(); err != nil {
			t.Errorf("Close after a failed Record: %v", err)
		}
	})
	t.Run("a value JSON cannot hold", func(t *testing.T) {
		l := open(t, t.TempDir())
		if err := l.Record("1", vals(map[string]any{"a": make(chan int)})); err == nil {
			t.Error("no error")
		}
		if _, err := os.Stat(l.path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a failed Record wrote the file (%v)", err)
		}
	})
}

// TestConcurrent records and reads from many goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	dir := t.TempDir()
	l := open(t, dir)
	const workers, each = 16, 25
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprint(g*each + i)
				if err := l.Record(id, vals(map[string]any{"caller_id": []any{id}})); err != nil {
					t.Error(err)
					return
				}
				if got := l.Written(id); len(got) != 1 {
					t.Errorf("Written(%s) = %v", id, got)
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := open(t, dir)
	for i := range workers * each {
		id := fmt.Sprint(i)
		if got := l2.Written(id); !reflect.DeepEqual(got, map[string]any{"caller_id": []any{id}}) {
			t.Fatalf("Written(%s) = %v", id, got)
		}
	}
	if n := len(lines(t, l.path)); n != workers*each+2 {
		t.Errorf("compacted file has %d lines, want %d", n, workers*each+2)
	}
}

// FuzzLoad checks that no ledger file, however damaged, panics the load,
// and that a torn last line never makes a good file unreadable.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(head + `{"user_id":"1","fields":{"caller_id":["a"],"n":1.5}}` + "\n"))
	f.Add([]byte(head + `{"user_id":"1","fie`))
	f.Add([]byte(`{"target":"smartflo"`))
	f.Add([]byte(""))
	f.Add([]byte("\n\n"))
	f.Add([]byte(head + `{"user_id":"1","fields":null}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l := &Ledger{head: header{Target: target, BaseURL: base}, users: map[string]map[string]any{}, whole: -1}
		err := l.load(data)
		if len(data) > 0 && data[len(data)-1] != '\n' {
			return
		}
		torn := &Ledger{head: l.head, users: map[string]map[string]any{}, whole: -1}
		err2 := torn.load(append(append([]byte(nil), data...), `{"user_id":"x","fi`...))
		if (err == nil) != (err2 == nil) || !reflect.DeepEqual(l.users, torn.users) {
			t.Errorf("a torn line changed the load: %v, %v / %v, %v", l.users, err, torn.users, err2)
		}
	})
}

// TestLockIsExclusive takes a target's lock twice: the second fails at
// once, naming the holder; after release it can be taken again, and other
// targets or base URLs have locks of their own.
func TestLockIsExclusive(t *testing.T) {
	dir := t.TempDir()
	first, err := Acquire(dir, "dnl", "https://a.example", "apply")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir, "dnl", "https://a.example", "plan")
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "held by rostersync apply") {
		t.Fatalf("second acquire: %v, want ErrLocked naming the holder", err)
	}
	other, err := Acquire(dir, "dnl", "https://b.example", "apply")
	if err != nil {
		t.Fatalf("another base URL: %v", err)
	}
	defer other.Release()
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	again, err := Acquire(dir, "dnl", "https://a.example", "plan")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again.Release()
}

// vals makes the values Record takes of plain fields, whose values go into
// the ledger as they are.
func vals(fields map[string]any) []model.Value {
	var out []model.Value
	for name, v := range fields {
		out = append(out, model.Value{Field: &model.Field{Name: name, Kind: model.Text}, V: v})
	}
	return out
}

// TestSecretsKeptAsVerifiers records a password: with a key the ledger
// keeps a keyed verifier, never the password or a hash of it alone; the
// verifier tells the password from another; under another key it is
// unknown (left out of Written, never equal); with no key the ledger falls
// back to a bcrypt hash of the cost asked for.
func TestSecretsKeptAsVerifiers(t *testing.T) {
	pw := &model.Field{Name: "password", Kind: model.Text, Secret: true}
	dir := t.TempDir()
	keyA, keyB := Options{Key: []byte("key A")}, Options{Key: []byte("key B")}
	l := must(Open(dir, target, base, keyA))
	if err := l.Record("7", []model.Value{{Field: pw, V: "Tr1cky-pass"}}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data := must(os.ReadFile(l.path))
	if strings.Contains(string(data), "Tr1cky-pass") || strings.Contains(string(data), "$2a$") {
		t.Fatalf("the ledger file holds the password or a bcrypt hash:\n%s", data)
	}
	again := must(Open(dir, target, base, keyA))
	kept, _ := again.Written("7")["password"].(string)
	if !strings.HasPrefix(kept, "v1$") || !again.SameSecret("7", "password", kept, "Tr1cky-pass") ||
		again.SameSecret("7", "password", kept, "tr1cky-pass") || again.SameSecret("8", "password", kept, "Tr1cky-pass") {
		t.Errorf("kept %q: want a verifier that tells this user's password from any other", kept)
	}
	other := must(Open(dir, target, base, keyB))
	if _, ok := other.Written("7")["password"]; ok || other.SameSecret("7", "password", kept, "Tr1cky-pass") {
		t.Error("a verifier made under another key must count as unknown")
	}

	noKey := must(Open(t.TempDir(), target, base, Options{Cost: bcrypt.MinCost}))
	if err := noKey.Record("7", []model.Value{{Field: pw, V: "Tr1cky-pass"}}); err != nil {
		t.Fatal(err)
	}
	hash, _ := noKey.Written("7")["password"].(string)
	if cost, err := bcrypt.Cost([]byte(hash)); err != nil || cost != bcrypt.MinCost || !noKey.SameSecret("7", "password", hash, "Tr1cky-pass") {
		t.Fatalf("without a key: kept %q (cost %d, %v); want a bcrypt hash of cost %d that matches", hash, cost, err, bcrypt.MinCost)
	}
}

// TestServerHashMatchRemembered compares a roster password with the hash
// the API returned (DNL's passwd): the match is remembered, keyed, for as
// long as the server's hash is the same; a new hash, or a wrong password,
// is not taken for a match.
func TestServerHashMatchRemembered(t *testing.T) {
	dir := t.TempDir()
	key := Options{Key: []byte("run key")}
	server := string(must(bcrypt.GenerateFromPassword([]byte("pw-1"), bcrypt.MinCost)))
	l := must(Open(dir, target, base, key))
	if !l.SameSecret("3", "passwd", server, "pw-1") {
		t.Fatal("the password does not match the server's hash")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	data := string(must(os.ReadFile(l.path)))
	if !strings.Contains(data, `"passwd@server":"m1$`) || strings.Contains(data, server) || strings.Contains(data, "pw-1") {
		t.Fatalf("the ledger should hold a keyed memo, neither the hash nor the password:\n%s", data)
	}
	again := must(Open(dir, target, base, key))
	if _, ok := again.Written("3")["passwd@server"]; ok {
		t.Error("Written shows the ledger's memo as if it were a field")
	}
	if !again.SameSecret("3", "passwd", server, "pw-1") || again.SameSecret("3", "passwd", server, "pw-2") {
		t.Error("the remembered match does not tell the password from another")
	}
	renewed := string(must(bcrypt.GenerateFromPassword([]byte("pw-2"), bcrypt.MinCost)))
	if again.SameSecret("3", "passwd", renewed, "pw-1") || !again.SameSecret("3", "passwd", renewed, "pw-2") {
		t.Error("a new server hash must be compared afresh")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
