package roster

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
)

// MaxRecord is the most bytes one record of a roster may take: a CSV
// record (a line, or the lines of a quoted cell that spans several), a
// line of JSON Lines, an element of a JSON array. Line ends are not
// counted, so blank lines cost nothing. A user's record is a few
// kilobytes (sync.MaxText characters a field); a record past this is not
// a roster's (a binary file, /dev/zero), and stops the run before the
// reader holds gigabytes of it.
const MaxRecord = 4 << 20

// tooLongError is a record past MaxRecord.
type tooLongError struct{ line int }

func (e *tooLongError) Error() string {
	return fmt.Sprintf("line %d: a record longer than %d MiB, which no user's record is: is this the roster?", e.line, MaxRecord>>20)
}

// budget passes a reader through, failing once more than MaxRecord bytes
// (line ends aside) have passed since next was last called: the parsers
// call next as each record starts. They read ahead, so a record may
// take a buffer's worth more before it fails; never without bound.
type budget struct {
	r    io.Reader
	left int
	line int // the line the next byte is on
	err  error
}

func newBudget(r io.Reader) *budget { return &budget{r: r, left: MaxRecord, line: 1} }

// next starts a record's budget.
func (b *budget) next() { b.left = MaxRecord }

func (b *budget) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	chunk := p[:n]
	lines := bytes.Count(chunk, []byte{'\n'})
	if spent := n - lines - bytes.Count(chunk, []byte{'\r'}); spent <= b.left {
		b.left -= spent
		b.line += lines
		return n, err
	}
	// Past the budget in this chunk: find the line it ran out on.
	for _, c := range chunk {
		switch {
		case c == '\n':
			b.line++
		case c != '\r':
			if b.left--; b.left < 0 {
				b.err = &tooLongError{line: b.line}
				return 0, b.err
			}
		}
	}
	return n, err // not reached: the chunk spends more than is left
}

// openFile opens a roster file under ctx: opening a FIFO waits for a
// writer, which may never come, so the open runs aside and is given up
// when ctx ends (the file, should it open later, is closed).
func openFile(ctx context.Context, path string) (*os.File, error) {
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		f, err := os.Open(path)
		ch <- opened{f, err}
	}()
	select {
	case o := <-ch:
		return o.f, o.err
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.f != nil {
				o.f.Close()
			}
		}()
		return nil, context.Cause(ctx)
	}
}

// ctxReader reads r under ctx: a Read returns ctx's cause as soon as ctx
// ends, even while a read of r blocks (a FIFO whose writer is silent, a
// terminal). The reads of r run in a goroutine of their own, one chunk
// ahead; stop ends it, unless a read of r still blocks, which it is then
// left to finish.
type ctxReader struct {
	ctx    context.Context
	chunks chan chunk
	free   chan []byte
	stop   context.CancelFunc
	cur    chunk
	off    int
}

type chunk struct {
	b   []byte
	err error
}

// chunkSize is what one read of the source asks for.
const chunkSize = 64 << 10

func newCtxReader(ctx context.Context, r io.Reader) *ctxReader {
	ctx, stop := context.WithCancelCause(ctx)
	c := &ctxReader{ctx: ctx, chunks: make(chan chunk), free: make(chan []byte, 2),
		stop: func() { stop(context.Canceled) }}
	c.free <- make([]byte, chunkSize)
	c.free <- make([]byte, chunkSize)
	go func() {
		for {
			var buf []byte
			select {
			case buf = <-c.free:
			case <-ctx.Done():
				return
			}
			if ctx.Err() != nil {
				return
			}
			n, err := r.Read(buf)
			select {
			case c.chunks <- chunk{buf[:n], err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return c
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for c.off == len(c.cur.b) {
		if c.cur.err != nil {
			return 0, c.cur.err
		}
		if err := c.ctx.Err(); err != nil {
			return 0, context.Cause(c.ctx)
		}
		if c.cur.b != nil {
			c.free <- c.cur.b[:cap(c.cur.b)]
			c.cur, c.off = chunk{}, 0
		}
		select {
		case c.cur = <-c.chunks:
			c.off = 0
		case <-c.ctx.Done():
			return 0, context.Cause(c.ctx)
		}
	}
	n := copy(p, c.cur.b[c.off:])
	c.off += n
	return n, nil
}
