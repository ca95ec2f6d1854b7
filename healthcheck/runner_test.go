package healthcheck

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// guard bounds every wait on the code under test: it fails a test
// instead of hanging it, and says nothing about how long anything should
// take. Runner tests run on a fake clock; only the checks' sockets are
// real.
const guard = 5 * time.Second

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

// resultLog wraps every checker the Runner builds and keeps, per address
// probed, the results in the order they were made: it sees runs whose
// results the Runner drops.
type resultLog struct {
	mu  sync.Mutex
	oks map[netip.AddrPort][]bool
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
		if l.oks == nil {
			l.oks = map[netip.AddrPort][]bool{}
		}
		l.oks[t] = append(l.oks[t], err == nil)
		l.mu.Unlock()
		return err
	}), target, nil
}

// runs is how many checks of target ended so far.
func (l *resultLog) runs(target netip.AddrPort) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.oks[target])
}

// nextEvent waits for an event.
func nextEvent(t *testing.T, events <-chan Event) Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(guard):
		t.Fatal("no event")
		return Event{}
	}
}

// harness is a Runner on a fake clock, driven round by round: a round
// advances the clock by the checks' interval, which fires every batch
// once, and waits for each check's result.
type harness struct {
	t       *testing.T
	r       *Runner
	clock   *clockwork.FakeClock
	events  chan Event
	results chan Result
	fires   chan struct{} // a run of a batch's fire has returned
	log     *resultLog
	seen    []Result // collected by set and round, in order
	targets []Target
	marker  *Target // see quiet; nil until then
}

// newHarness starts a Runner on a fake clock. Its events go to onEvent,
// or to h.events when onEvent is nil; opts come after the harness's own
// (clock, results, and checkers wrapped by h.log), so they may replace
// the factory.
func newHarness(t *testing.T, onEvent func(Event), opts ...Option) *harness {
	h := &harness{t: t, clock: clockwork.NewFakeClock(), events: make(chan Event, 100),
		results: make(chan Result, 1<<14), fires: make(chan struct{}, 1<<10), log: &resultLog{}}
	if onEvent == nil {
		onEvent = func(ev Event) { h.events <- ev }
	}
	base := []Option{WithClock(h.clock), WithFactory(h.log.factory), WithResults(func(r Result) { h.results <- r })}
	r, err := NewRunner(nil, onEvent, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	r.fired = func() { h.fires <- struct{}{} } // before any Set: no batch yet
	h.r = r
	t.Cleanup(func() {
		if err := r.Shutdown(); err != nil {
			t.Error(err)
		}
	})
	return h
}

// batches returns the Runner's batches and how many checks each holds.
func (h *harness) batches() map[bucketKey]int {
	h.r.setMu.Lock()
	defer h.r.setMu.Unlock()
	out := make(map[bucketKey]int, len(h.r.buckets))
	for k, b := range h.r.buckets {
		out[k] = len(*b.members.Load())
	}
	return out
}

// set gives the Runner ts (and the marker, once quiet made one) and waits
// for the runs that start at once, and their results: those of a new
// first batch (offset 0) of an interval. After it, every check runs once
// per round.
func (h *harness) set(ts ...Target) error {
	h.t.Helper()
	n, err := h.setOnly(ts...)
	h.collect(n, time.Time{})
	return err
}

// setOnly is set without waiting for results: it returns how many checks
// started at once.
func (h *harness) setOnly(ts ...Target) (int, error) {
	h.t.Helper()
	before := h.batches()
	h.targets = ts
	all := ts
	if h.marker != nil {
		all = append(slices.Clone(ts), *h.marker)
	}
	err := h.r.Set(all)
	batches, checks := 0, 0
	for k, members := range h.batches() {
		if _, old := before[k]; !old && k.index == 0 {
			batches, checks = batches+1, checks+members
		}
	}
	h.fired(batches)
	return checks, err
}

// fired waits for n runs of batches' fire to return.
func (h *harness) fired(n int) {
	h.t.Helper()
	timeout := time.After(guard)
	for ; n > 0; n-- {
		select {
		case <-h.fires:
		case <-timeout:
			h.t.Fatalf("%d batches did not fire", n)
		}
	}
}

// tick advances the clock by the checks' interval once every batch's job
// waits on it, and waits for each batch to fire once (each check then has
// started or been skipped). It returns how many checks the batches hold.
func (h *harness) tick() int {
	h.t.Helper()
	bs := h.batches()
	var iv time.Duration
	n := 0
	for k, members := range bs {
		if iv != 0 && k.interval != iv {
			h.t.Fatal("tick: checks of two intervals")
		}
		iv, n = k.interval, n+members
	}
	if n == 0 {
		h.t.Fatal("tick: no check to run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := h.clock.BlockUntilContext(ctx, len(bs)); err != nil {
		h.t.Fatalf("tick: %d batch jobs not all waiting on the clock", len(bs))
	}
	h.clock.Advance(iv)
	h.fired(len(bs))
	return n
}

// round is a tick that waits for each check's result. It returns the
// round's time, which stamps its results and events.
func (h *harness) round() time.Time {
	h.t.Helper()
	n := h.tick()
	now := h.clock.Now()
	h.collect(n, now)
	return now
}

// next waits for the next Result, run or skip.
func (h *harness) next() Result {
	h.t.Helper()
	select {
	case r := <-h.results:
		return r
	case <-time.After(guard):
		h.t.Fatal("no result")
		return Result{}
	}
}

// collect waits for n results of runs; each must be stamped at, unless at
// is zero.
func (h *harness) collect(n int, at time.Time) {
	h.t.Helper()
	for ; n > 0; n-- {
		r := h.next()
		if r.Skipped || (!at.IsZero() && !r.Done.Equal(at)) {
			h.t.Fatalf("result %+v in the round at %v", r, at)
		}
		h.seen = append(h.seen, r)
	}
}

// quiet fails the test if an event is queued, or will be, from a result
// recorded so far: it flips the marker, a check of type on or off beside
// the test's targets, and wants the marker's event next, as the Runner
// delivers events in the order states change.
func (h *harness) quiet() {
	h.t.Helper()
	if h.marker == nil {
		h.marker = &Target{"marker", netip.MustParseAddrPort("192.0.2.254:1"), new(Spec{Type: "on"})}
		if err := h.set(h.targets...); err != nil { // a new realserver: no event
			h.t.Fatal(err)
		}
	}
	up := h.marker.Check.Type == "off"
	// A new Spec, not an edit: the Runner keeps the one it was given.
	h.marker.Check = new(Spec{Type: map[bool]string{true: "on", false: "off"}[up]})
	if err := h.set(h.targets...); err != nil {
		h.t.Fatal(err)
	}
	if ev := nextEvent(h.t, h.events); ev.Service != "marker" || ev.Up != up {
		h.t.Fatalf("unexpected event %+v", ev)
	}
}

// tcpCheck is a connect check. Its interval passes on the fake clock; its
// timeout bounds real connects on loopback, so it is generous: a timeout
// would be a wrong result, not a slow test.
func tcpCheck(rise, fall int) Spec {
	return Spec{Type: "tcp", Interval: 10 * time.Second, Timeout: 2 * time.Second,
		Rise: rise, Fall: fall, Initial: "up"}
}

// HealthRows lists the tracked realservers in the order of the targets
// last given to Set, with the state the metrics read, updated in place
// when a result is recorded and carried over by a Set that keeps the
// check.
func TestHealthRowsFollowTargetsAndResults(t *testing.T) {
	r, err := NewRunner(nil, nil, WithClock(clockwork.NewFakeClock()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown()
	a, b := netip.MustParseAddrPort("192.0.2.1:80"), netip.MustParseAddrPort("192.0.2.2:80")
	on, off := &Spec{Type: "on"}, &Spec{Type: "off"}
	rows := func() (out []Pair, health []RealState) {
		r.HealthRows(func(rows []Pair, states []RealState) {
			out, health = slices.Clone(rows), slices.Clone(states)
		})
		return out, health
	}
	if err := r.Set([]Target{{"web", a, on}, {"web", b, off}, {"db", a, on}, {"web", a, on}}); err == nil {
		t.Fatal("a target listed twice was not reported")
	}
	got, health := rows()
	if want := []Pair{{"web", a}, {"web", b}, {"db", a}}; !slices.Equal(got, want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	if !health[0].Up || health[1].Up || !health[2].Up || !health[0].Tracked {
		t.Fatalf("health %+v, want up, down, up, tracked", health)
	}
	r.mu.Lock()
	e := r.job(key{"web", b})
	r.mu.Unlock()
	checks := health[1].Checks
	r.record(e, nil) // what a run's end does
	if _, health = rows(); health[1].Checks != checks+1 {
		t.Fatalf("after a result: checks %d, want %d", health[1].Checks, checks+1)
	}
	if err := r.Set([]Target{{"db", a, on}, {"web", b, off}}); err != nil {
		t.Fatal(err)
	}
	got, health = rows()
	if want := []Pair{{"db", a}, {"web", b}}; !slices.Equal(got, want) {
		t.Fatalf("rows after a reload %v, want %v", got, want)
	}
	if health[1].Checks != checks+1 {
		t.Fatalf("a kept check's row after a reload: checks %d, want %d", health[1].Checks, checks+1)
	}
	r.mu.Lock()
	e = r.job(key{"web", b})
	r.mu.Unlock()
	r.record(e, nil)
	if _, health = rows(); health[1].Checks != checks+2 || health[0].Checks == checks+2 {
		t.Fatalf("a result after a reload updated the wrong row: %+v", health)
	}
}
