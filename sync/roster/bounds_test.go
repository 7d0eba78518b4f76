package roster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/sync/roster"
)

// zeros reads as /dev/zero does: NUL bytes without end.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// exes reads x without end.
type exes struct{}

func (exes) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// rowsForever reads as a CSV roster that never ends: a header, then rows.
type rowsForever struct {
	n    int
	line []byte
}

func (r *rowsForever) Read(p []byte) (int, error) {
	if len(r.line) == 0 {
		if r.n == 0 {
			r.line = []byte("id,designation\n")
		} else {
			r.line = fmt.Appendf(nil, "%d,Lead\n", r.n)
		}
		r.n++
	}
	n := copy(p, r.line)
	r.line = r.line[n:]
	return n, nil
}

// blocked reads as a FIFO whose writer sends nothing: its Read never
// returns.
type blocked struct{}

func (blocked) Read([]byte) (int, error) { select {} }

// TestRecordBounds reads records past MaxRecord: the run stops with the
// line and the limit, holding no more than a few records' worth; records
// within the limit, and any number of blank lines, are fine.
func TestRecordBounds(t *testing.T) {
	// The readers read ahead, so a record may pass the limit by a buffer
	// (64 KiB) before it fails: past it by a megabyte, each must.
	big := strings.Repeat("x", roster.MaxRecord+1<<20)
	for _, tt := range []struct {
		name   string
		format roster.Format
		r      io.Reader
		want   []string
	}{
		{"CSV from /dev/zero", roster.CSV, zeros{}, []string{"line 1: a record longer than 4 MiB"}},
		{"JSON Lines from /dev/zero", roster.JSONL, zeros{}, []string{"line 1: a record longer than 4 MiB"}},
		{"JSON from /dev/zero", roster.JSON, zeros{}, []string{"not JSON"}},
		{"a CSV line past the limit", roster.CSV, strings.NewReader("id,designation\n1,a\n2," + big + "\n3,c\n"), []string{"line 3: a record longer than 4 MiB"}},
		{"a CSV cell past it over many lines", roster.CSV, strings.NewReader("id,designation\n1,\"" + strings.Repeat("xxxxxxx\n", (roster.MaxRecord+1<<20)/7) + "\"\n"), []string{"a record longer than 4 MiB"}},
		{"a JSON Lines line past the limit", roster.JSONL, strings.NewReader("{\"id\": 1}\n{\"id\": 2, \"name\": \"" + big + "\"}\n"), []string{"line 2: a record longer than 4 MiB"}},
		{"a JSON element past the limit", roster.JSON, strings.NewReader("[\n{\"id\": 1},\n{\"id\": 2, \"name\": \"" + big + "\"}]"), []string{"line 3: a record longer than 4 MiB"}},
		{"a JSON string that never ends", roster.JSON, io.MultiReader(strings.NewReader(`[{"id": 1, "name": "`), exes{}), []string{"line 1: a record longer than 4 MiB"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := roster.Read(t.Context(), tt.r, tt.format, smartfloSchema())
			runtime.ReadMemStats(&after)
			checkErr(t, err, tt.want)
			if grown := after.TotalAlloc - before.TotalAlloc; grown > 16*roster.MaxRecord+uint64(len(big))*3 {
				t.Errorf("allocated %d MiB before stopping", grown>>20)
			}
		})
	}
	blank := "id,designation\n" + strings.Repeat("\r\n", roster.MaxRecord) + "1," + strings.Repeat("é", 1000) + "\n"
	rows, err := roster.Read(t.Context(), strings.NewReader(blank), roster.CSV, smartfloSchema())
	if err != nil || len(rows) != 1 || rows[0].Err != nil {
		t.Errorf("blank lines and a row at the limits: %v %+v", err, rows)
	}
}

// TestReadStopsWithItsContext reads rosters that never end, one that
// streams rows and one that blocks, and cancels: Read returns the cause
// at once.
func TestReadStopsWithItsContext(t *testing.T) {
	stop := errors.New("interrupted by a test")
	for _, tt := range []struct {
		name string
		r    io.Reader
	}{
		{"rows without end", &rowsForever{}},
		{"a silent writer", blocked{}},
		{"a silent writer, after the header", io.MultiReader(strings.NewReader("id,designation\n1,Lead\n"), blocked{})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(t.Context())
			time.AfterFunc(100*time.Millisecond, func() { cancel(stop) })
			done := make(chan error, 1)
			go func() {
				_, err := roster.Read(ctx, tt.r, roster.CSV, smartfloSchema())
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, stop) {
					t.Errorf("Read = %v, want the cause %v", err, stop)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Read went on reading after its context ended")
			}
		})
	}
}
