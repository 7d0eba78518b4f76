package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ErrLocked means another run against the same target and base URL holds
// the state directory's lock.
var ErrLocked = errors.New("another run holds the lock")

// Lock is the exclusive hold one run has on a target's state (its ledger
// and what later runs read of it), for as long as the run lasts. The
// operating system drops it when the process ends, even by kill -9.
type Lock struct {
	f *os.File
}

// Acquire takes the lock of a target at a base URL in dir, or fails at once
// with ErrLocked, naming the lock file and the run that holds it. who
// describes this run for the next one to read ("apply").
func Acquire(dir, target, baseURL, who string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	path := strings.TrimSuffix(PathOf(dir, target, baseURL), ".jsonl") + ".lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w on %s at %s (%s: %s); wait for it to end, or stop it",
				ErrLocked, target, baseURL, filepath.Clean(path), strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("state lock %s: %w", path, err)
	}
	// Say who holds it, for the run that is refused.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "held by rostersync %s, pid %d, since %s\n", who, os.Getpid(), time.Now().Format(time.RFC3339))
	}
	return &Lock{f: f}, nil
}

// Release gives the lock up. It unlocks before it closes: closing alone
// frees the lock only once no descriptor shares the open file, and a
// process forked at that moment (one starting a child, as tests do) holds
// a copy until it execs.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	uerr := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	err := l.f.Close()
	l.f = nil
	if uerr != nil {
		return uerr
	}
	return err
}
