package state

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestWriteFile writes a new file and replaces it: each time the file
// holds exactly the data, with the mode asked for whatever the umask, and
// no temporary file is left beside it.
func TestWriteFile(t *testing.T) {
	old := syscall.Umask(0o077) // a umask that would hide 0644's read bits
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "out.prom")
	for _, tt := range []struct {
		data string
		perm fs.FileMode
	}{
		{"first\n", 0o644},
		{"second, longer than the first\n", 0o644},
		{"third\n", 0o600},
	} {
		if err := WriteFile(path, []byte(tt.data), tt.perm); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != tt.data {
			t.Errorf("the file holds %q (%v), want %q", got, err, tt.data)
		}
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != tt.perm {
			t.Errorf("stat: %v, %v; want mode %v", st, err, tt.perm)
		}
		if names := dirNames(t, dir); !slices.Equal(names, []string{"out.prom"}) {
			t.Errorf("the folder holds %q, want the file alone", names)
		}
	}
}

// TestWriteFileFailureKeepsTheOld makes the rename fail (the path is a
// folder that is not empty): WriteFile fails, and neither the old content
// nor a temporary file is left changed or behind.
func TestWriteFileFailureKeepsTheOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "taken")
	if err := os.MkdirAll(filepath.Join(path, "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new"), 0o600); err == nil {
		t.Fatal("WriteFile over a folder that is not empty succeeded")
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"taken"}) {
		t.Errorf("the folder holds %q after a failed write, want what it held", names)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600); err == nil {
		t.Error("WriteFile into a folder that does not exist succeeded")
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
