package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rostersync/rostersync/sync/model"
	"github.com/rs/zerolog"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progress shows how a run advances, phase by phase (reading users, then
// applying changes), so a run of thousands of rows at a few requests a
// second never looks frozen.
type progress interface {
	model.Progress
	// Close ends the display.
	Close()
}

// newProgress returns a bar on a terminal, where log lines print above
// it, and periodic progress log lines elsewhere (cron, a log shipper).
func newProgress(stderr io.Writer, logs *swapWriter, log zerolog.Logger, every time.Duration) progress {
	if isTerminal(stderr) {
		return newBarProgress(stderr, logs)
	}
	return newLineProgress(log, every)
}

// swapWriter is the logger's output, which the bar takes over while it is
// drawn so that log lines print above it.
type swapWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *swapWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *swapWriter) swap(w io.Writer) io.Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.w
	s.w = w
	return old
}

// barProgress draws an mpb bar per phase: done/total, rate, ETA and the
// failures so far.
type barProgress struct {
	once   sync.Once
	p      *mpb.Progress
	logs   *swapWriter
	prev   io.Writer
	bar    *mpb.Bar
	failed atomic.Int64
}

func newBarProgress(out io.Writer, logs *swapWriter) *barProgress {
	b := &barProgress{p: mpb.New(mpb.WithOutput(out), mpb.WithWidth(72), mpb.WithRefreshRate(150*time.Millisecond)), logs: logs}
	b.prev = logs.swap(b.p)
	return b
}

// Phase implements model.Progress.
func (b *barProgress) Phase(name string, total int) {
	b.finish()
	failures := decor.Any(func(decor.Statistics) string {
		if n := b.failed.Load(); n > 0 {
			return fmt.Sprintf("%d failed", n)
		}
		return ""
	}, decor.WCSyncSpaceR)
	if total <= 0 {
		b.bar = b.p.New(0, mpb.SpinnerStyle(), mpb.BarFillerClearOnComplete(),
			mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.CurrentNoUnit("%d", decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.OnComplete(decor.AverageSpeed(nil, "%.1f/s", decor.WCSyncSpaceR), "done"), failures))
		return
	}
	b.bar = b.p.AddBar(int64(total),
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d", decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.AverageSpeed(nil, "%.1f/s", decor.WCSyncSpaceR),
			decor.OnComplete(decor.AverageETA(decor.ET_STYLE_GO, decor.WCSyncSpaceR), "done"), failures))
}

// Step implements model.Progress.
func (b *barProgress) Step(n int, failed bool) {
	if failed {
		b.failed.Add(1)
	}
	if b.bar != nil {
		b.bar.IncrBy(n)
	}
}

// finish completes the current bar, whatever its count.
func (b *barProgress) finish() {
	if b.bar != nil {
		b.bar.SetTotal(-1, true)
		b.bar = nil
	}
}

// Close ends the display; later calls do nothing.
func (b *barProgress) Close() {
	b.once.Do(func() {
		b.finish()
		b.p.Wait()
		b.logs.swap(b.prev)
	})
}

// lineProgress logs a progress line at a fixed interval.
type lineProgress struct {
	log    zerolog.Logger
	every  time.Duration
	mu     sync.Mutex
	name   string
	total  int
	done   int
	failed int
	start  time.Time
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

func newLineProgress(log zerolog.Logger, every time.Duration) *lineProgress {
	l := &lineProgress{log: log, every: every, stop: make(chan struct{})}
	if every > 0 {
		l.wg.Go(l.loop)
	}
	return l
}

func (l *lineProgress) loop() {
	t := time.NewTicker(l.every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.report()
		}
	}
}

// report logs where the current phase stands.
func (l *lineProgress) report() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.name == "" {
		return
	}
	took := time.Since(l.start)
	rate := float64(l.done) / took.Seconds()
	ev := l.log.Info().Str("phase", l.name).Int("done", l.done).Int("failed", l.failed).
		Str("rate", fmt.Sprintf("%.1f/s", rate)).Dur("elapsed", took.Round(time.Second))
	if l.total > 0 {
		ev = ev.Int("total", l.total)
		if rate > 0 {
			ev = ev.Str("eta", time.Duration(float64(l.total-l.done)/rate*float64(time.Second)).Round(time.Second).String())
		}
	}
	ev.Msg("progress")
}

// Phase implements model.Progress.
func (l *lineProgress) Phase(name string, total int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.name, l.total, l.done, l.failed, l.start = name, total, 0, 0, time.Now()
}

// Step implements model.Progress.
func (l *lineProgress) Step(n int, failed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done += n
	if failed {
		l.failed++
	}
}

// Close stops the progress lines; later calls do nothing.
func (l *lineProgress) Close() {
	l.once.Do(func() {
		close(l.stop)
		l.wg.Wait()
	})
}
