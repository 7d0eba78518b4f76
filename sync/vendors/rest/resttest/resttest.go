// Package resttest serves an http.Handler over an in-memory network, so
// that tests can run the real HTTP client against the shipped fakes inside
// a testing/synctest bubble: there time is fake and exact, and a TCP socket
// never counts as durably blocked, so it would stop the clock. It owns
// nothing but the network (and, in reading.go, what both vendors' client
// tests check of a reading); what the fakes answer stays with them.
package resttest

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
)

// NewServer starts an httptest.Server for h on an in-memory listener. Its
// Client() reaches it; no other client can. Call it inside the bubble that
// uses it, and Close the server before the bubble ends.
func NewServer(h http.Handler) *httptest.Server {
	ln := &listener{conns: make(chan net.Conn), done: make(chan struct{})}
	srv := httptest.NewUnstartedServer(h)
	_ = srv.Listener.Close() // the loopback socket it opened is not used
	srv.Listener = ln
	srv.Start()
	srv.Client().Transport.(*http.Transport).DialContext = ln.dial
	return srv
}

// listener hands the server one end of a net.Pipe per dial.
type listener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *listener) Addr() net.Addr { return addr{} }

func (l *listener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// addr names the in-memory listener; the ".test" domain is reserved.
type addr struct{}

func (addr) Network() string { return "pipe" }
func (addr) String() string  { return "fake.test:80" }
