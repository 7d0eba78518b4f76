package state

import (
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile replaces path with data, with mode perm (whatever the umask),
// so that a reader or a crash sees either the old file or the new one,
// never half of either: it writes a temporary file beside path, syncs it
// to disk, and renames it over path. The ledger's compaction and the
// run's --summary and --metrics-file all write this way.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
