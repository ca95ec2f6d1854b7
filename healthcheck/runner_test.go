package healthcheck

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// flipListener is a TCP port on 127.0.0.1 that can be closed (connections
// refused) and opened again on the same port.
type flipListener struct {
	t    *testing.T
	addr netip.AddrPort
	mu   sync.Mutex
	l    net.Listener
}

func newFlipListener(t *testing.T) *flipListener {
	f := &flipListener{t: t}
	f.open("127.0.0.1:0")
	f.addr = addrPort(t, f.l.Addr())
	t.Cleanup(f.close)
	return f
}

func (f *flipListener) open(addr string) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		f.t.Fatalf("listen %s: %v", addr, err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	f.mu.Lock()
	f.l = l
	f.mu.Unlock()
}

func (f *flipListener) reopen() { f.open(f.addr.String()) }

func (f *flipListener) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.l != nil {
		f.l.Close()
		f.l = nil
	}
}

// tickClock returns t0 plus one second per call, so an Event's time says
// which call to Now (one per recorded result) produced it.
type tickClock struct{ n atomic.Int64 }

func (c *tickClock) Now() time.Time { return t0.Add(time.Duration(c.n.Add(1)) * time.Second) }

func (c *tickClock) index(at time.Time) int { return int(at.Sub(t0) / time.Second) }

// resultLog wraps every checker the Runner builds and keeps the results in
// the order they were made.
type resultLog struct {
	mu  sync.Mutex
	oks []bool
}

func (l *resultLog) factory(c Spec, real netip.AddrPort) (Checker, netip.AddrPort, error) {
	ch, target, err := New(c, real)
	if err != nil {
		return nil, target, err
	}
	if _, ok := ch.(Static); ok {
		return ch, target, nil
	}
	return CheckerFunc(func(ctx context.Context, t netip.AddrPort) error {
		err := ch.Check(ctx, t)
		l.mu.Lock()
		l.oks = append(l.oks, err == nil)
		l.mu.Unlock()
		return err
	}), target, nil
}

func (l *resultLog) snapshot() []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bool(nil), l.oks...)
}

// runLen is the length of the run of identical results that ends at index i.
func runLen(oks []bool, i int) int {
	n := 0
	for j := i; j >= 0 && oks[j] == oks[i]; j-- {
		n++
	}
	return n
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// nextEvent waits for an event, failing the test after d.
func nextEvent(t *testing.T, events <-chan Event, d time.Duration) Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(d):
		t.Fatalf("no event within %v", d)
		return Event{}
	}
}

// noEvent asserts that no event comes within d.
func noEvent(t *testing.T, events <-chan Event, d time.Duration) {
	t.Helper()
	select {
	case ev := <-events:
		t.Fatalf("unexpected event %+v", ev)
	case <-time.After(d):
	}
}

type harness struct {
	r      *Runner
	events chan Event
	clock  *tickClock
	log    *resultLog
}

func newHarness(t *testing.T) *harness {
	h := &harness{events: make(chan Event, 100), clock: &tickClock{}, log: &resultLog{}}
	r, err := NewRunner(nil, func(ev Event) { h.events <- ev }, WithClock(h.clock), WithFactory(h.log.factory))
	if err != nil {
		t.Fatal(err)
	}
	h.r = r
	t.Cleanup(func() {
		if err := r.Shutdown(); err != nil {
			t.Error(err)
		}
	})
	return h
}

func tcpCheck(rise, fall int) Spec {
	return Spec{Type: "tcp", Interval: 30 * time.Millisecond, Timeout: 25 * time.Millisecond,
		Rise: rise, Fall: fall, Initial: "up"}
}
