package main

import (
	"os"
	"path/filepath"
)

// namedPath is a file a run reads or writes, with the flag that names it.
type namedPath struct {
	flag, path string
}

// checkPaths refuses a run whose outputs would overwrite one of its inputs
// or each other: every output must name a file that no input and no other
// output names, through symbolic and hard links too. Empty paths and "-"
// (stdin) are passed over.
func checkPaths(inputs, outputs []namedPath) error {
	all := append(append([]namedPath(nil), outputs...), inputs...)
	files := make([]fileID, len(all))
	for i, p := range all {
		files[i] = identify(p.path)
	}
	for i, out := range outputs {
		if !files[i].named {
			continue
		}
		for j := i + 1; j < len(all); j++ {
			if files[j].named && files[i].same(files[j]) {
				what := "the file " + all[j].flag + " writes"
				if j >= len(outputs) {
					what = "the file " + all[j].flag + " reads"
				}
				return usageError("%s %s names %s (%s): name another file", out.flag, out.path, what, all[j].path)
			}
		}
	}
	return nil
}

// fileID identifies the file a path names: its inode when it exists (so
// hard links match), and its absolute path with every link resolved.
type fileID struct {
	named bool
	path  string
	info  os.FileInfo // nil when the file does not exist yet
}

func identify(path string) fileID {
	if path == "" || path == "-" {
		return fileID{}
	}
	id := fileID{named: true, path: resolve(path)}
	if info, err := os.Stat(path); err == nil {
		id.info = info
	}
	return id
}

func (a fileID) same(b fileID) bool {
	if a.info != nil && b.info != nil {
		return os.SameFile(a.info, b.info)
	}
	return a.path == b.path
}

// resolve returns path made absolute with its symbolic links resolved, as
// far as they lead: a file not there yet resolves through its folder, and
// a dangling link through what it points to.
func resolve(path string) string {
	for range 40 { // as many links as Linux follows
		abs, err := filepath.Abs(path)
		if err != nil {
			return path
		}
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			return real
		}
		dir, base := filepath.Split(abs)
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			dir = real
		}
		target, err := os.Readlink(filepath.Join(dir, base))
		if err != nil {
			return filepath.Join(dir, base) // not there yet
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(dir, target)
		}
		path = target
	}
	return path
}
