package healthcheck

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunnerFallAndRise(t *testing.T) {
	srv := newFlipListener(t)
	h := newHarness(t)
	const rise, fall = 2, 3
	if err := h.r.Set([]Target{{"web", srv.addr, tcpCheck(rise, fall)}}); err != nil {
		t.Fatal(err)
	}
	// Calls to the clock: one by Set, then one per recorded result.
	const firstResult = 2
	waitFor(t, 2*time.Second, "3 results", func() bool { return len(h.log.snapshot()) >= 3 })
	if !h.r.Up("web", srv.addr) {
		t.Fatal("down while the port is open")
	}

	srv.close()
	down := nextEvent(t, h.events, 3*time.Second)
	oks, i := h.log.snapshot(), h.clock.index(down.At)-firstResult
	if down.Up || down.Service != "web" || down.Real != srv.addr || down.Reason != ReasonRefused {
		t.Errorf("down event %+v", down)
	}
	if i < 0 || i >= len(oks) || oks[i] || runLen(oks, i) != fall {
		t.Fatalf("down at result %d of %v, want at the %d-th consecutive failure", i, oks, fall)
	}
	if up, known := h.r.State("web", srv.addr); up || !known {
		t.Errorf("state up=%v known=%v after the down event", up, known)
	}

	srv.reopen()
	up := nextEvent(t, h.events, 3*time.Second)
	oks, i = h.log.snapshot(), h.clock.index(up.At)-firstResult
	if !up.Up || up.Reason != "" {
		t.Errorf("up event %+v", up)
	}
	if i < 0 || i >= len(oks) || !oks[i] || runLen(oks, i) != rise {
		t.Fatalf("up at result %d of %v, want at the %d-th consecutive success", i, oks, rise)
	}
	noEvent(t, h.events, 100*time.Millisecond)
}

func TestRunnerSetKeepsState(t *testing.T) {
	srv := newFlipListener(t)
	h := newHarness(t)
	targets := func(c Spec) []Target { return []Target{{"web", srv.addr, c}} }
	if err := h.r.Set(targets(tcpCheck(2, 2))); err != nil {
		t.Fatal(err)
	}
	srv.close()
	if ev := nextEvent(t, h.events, 3*time.Second); ev.Up {
		t.Fatalf("event %+v, want down", ev)
	}
	before := h.r.Snapshot()[0].Checks

	// The same check again: the job and its tracker carry on.
	if err := h.r.Set(targets(tcpCheck(2, 2))); err != nil {
		t.Fatal(err)
	}
	if h.r.Up("web", srv.addr) {
		t.Fatal("an unchanged check was reset to its initial state")
	}
	if after := h.r.Snapshot()[0].Checks; after < before {
		t.Errorf("checks went from %d to %d: the tracker was replaced", before, after)
	}

	// A changed check starts counting again but keeps the state.
	changed := tcpCheck(2, 2)
	changed.Timeout = 20 * time.Millisecond
	if err := h.r.Set(targets(changed)); err != nil {
		t.Fatal(err)
	}
	if h.r.Up("web", srv.addr) {
		t.Fatal("a changed check went back to its initial state")
	}
	noEvent(t, h.events, 100*time.Millisecond)
	srv.reopen()
	if ev := nextEvent(t, h.events, 3*time.Second); !ev.Up {
		t.Fatalf("event %+v, want up", ev)
	}

	// Removed: unknown, and its job stops.
	if err := h.r.Set(nil); err != nil {
		t.Fatal(err)
	}
	if _, known := h.r.State("web", srv.addr); known {
		t.Error("a removed target is still known")
	}
	time.Sleep(50 * time.Millisecond) // let a run in flight end
	n := len(h.log.snapshot())
	time.Sleep(150 * time.Millisecond)
	if m := len(h.log.snapshot()); m != n {
		t.Errorf("%d checks ran after the target was removed", m-n)
	}
}

func TestRunnerInitialAndStatic(t *testing.T) {
	srv := newFlipListener(t)
	h := newHarness(t)
	down := tcpCheck(2, 2)
	down.Initial = "down"
	a, b, c := srv.addr, netip.MustParseAddrPort("192.0.2.2:80"), netip.MustParseAddrPort("192.0.2.3:80")
	set := func(ts ...Target) {
		t.Helper()
		if err := h.r.Set(ts); err != nil {
			t.Fatal(err)
		}
	}
	set(Target{"web", a, down}, Target{"web", b, Spec{Type: "off"}}, Target{"web", c, Spec{Type: "on"}})
	if h.r.Up("web", a) || h.r.Up("web", b) || !h.r.Up("web", c) {
		t.Fatalf("initial states a=%v b=%v c=%v, want down, down, up", h.r.Up("web", a), h.r.Up("web", b), h.r.Up("web", c))
	}
	if ev := nextEvent(t, h.events, 3*time.Second); !ev.Up || ev.Real != a {
		t.Fatalf("event %+v, want %v up", ev, a)
	}

	// on → off flips at once, with the reason.
	set(Target{"web", a, down}, Target{"web", b, Spec{Type: "off"}}, Target{"web", c, Spec{Type: "off"}})
	ev := nextEvent(t, h.events, time.Second)
	if ev.Up || ev.Real != c || ev.Reason != ReasonForcedDown {
		t.Fatalf("event %+v, want %v forced down", ev, c)
	}
	// off → a real check keeps "down" until rise successes.
	set(Target{"web", a, Spec{Type: "off"}})
	if ev := nextEvent(t, h.events, time.Second); ev.Up || ev.Real != a {
		t.Fatalf("event %+v, want %v down", ev, a)
	}
	set(Target{"web", a, tcpCheck(2, 2)})
	if h.r.Up("web", a) {
		t.Fatal("forced-down state lost when a check replaced off")
	}
	if ev := nextEvent(t, h.events, 3*time.Second); !ev.Up || ev.Real != a {
		t.Fatalf("event %+v, want %v up", ev, a)
	}
}

func TestRunnerBadTargets(t *testing.T) {
	h := newHarness(t)
	real := netip.MustParseAddrPort("192.0.2.9:80")
	bad := Spec{Type: "http", BodyRegex: "(", Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1}
	err := h.r.Set([]Target{{"web", real, bad}, {"dup", real, Spec{Type: "on"}}, {"dup", real, Spec{Type: "on"}}})
	if err == nil {
		t.Fatal("no error for a broken check and a duplicate")
	}
	if up, known := h.r.State("web", real); up || !known {
		t.Errorf("broken check: up=%v known=%v, want tracked and down", up, known)
	}
	snap := h.r.Snapshot()
	if len(snap) != 2 || snap[1].Service != "web" || snap[1].LastReason != ReasonLocal || snap[1].LastDetail == "" {
		t.Errorf("snapshot %+v", snap)
	}
	if err := h.r.Set([]Target{{"web", real, bad}}); err == nil {
		t.Error("the same broken check was accepted the second time")
	}
}

func TestRunnerSnapshot(t *testing.T) {
	srv := newFlipListener(t)
	h := newHarness(t)
	c := tcpCheck(1, 1)
	c.Port = int(srv.addr.Port())
	r1 := netip.AddrPortFrom(srv.addr.Addr(), 1) // checked on srv's port
	r2 := netip.AddrPortFrom(srv.addr.Addr(), 2)
	if err := h.r.Set([]Target{{"web", r2, c}, {"mail", r1, c}, {"web", r1, c}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "a result for each", func() bool {
		for _, s := range h.r.Snapshot() {
			if s.Checks == 0 {
				return false
			}
		}
		return true
	})
	snap := h.r.Snapshot()
	want := []struct {
		svc  string
		real netip.AddrPort
	}{{"mail", r1}, {"web", r1}, {"web", r2}}
	for i, w := range want {
		s := snap[i]
		if s.Service != w.svc || s.Real != w.real || s.Target != srv.addr || s.Type != "tcp" || !s.Up ||
			s.Successes < 1 || s.LastCheck.IsZero() || s.LastReason != "" {
			t.Errorf("snapshot[%d] = %+v", i, s)
		}
	}
}

func TestRunnerEventsOneAtATime(t *testing.T) {
	closed := closedPort(t, "tcp", "127.0.0.1")
	var inside, overlaps, count atomic.Int32
	r, err := NewRunner(nil, func(Event) {
		if inside.Add(1) > 1 {
			overlaps.Add(1)
		}
		time.Sleep(2 * time.Millisecond)
		inside.Add(-1)
		count.Add(1)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown()
	var ts []Target
	for i := range 30 {
		ts = append(ts, Target{"svc", netip.AddrPortFrom(closed.Addr(), uint16(i+1)), Spec{
			Type: "tcp", Port: int(closed.Port()), Interval: 20 * time.Millisecond, Timeout: 15 * time.Millisecond, Rise: 1, Fall: 1, Initial: "up"}})
	}
	if err := r.Set(ts); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "30 down events", func() bool { return count.Load() == 30 })
	if n := overlaps.Load(); n > 0 {
		t.Errorf("the callback ran concurrently %d times", n)
	}
}

func TestRunnerShutdown(t *testing.T) {
	started := make(chan struct{}, 1)
	hang := func(Spec, netip.AddrPort) (Checker, netip.AddrPort, error) {
		return CheckerFunc(func(ctx context.Context, _ netip.AddrPort) error {
			select {
			case started <- struct{}{}:
			default:
			}
			<-ctx.Done()
			return ctx.Err()
		}), netip.AddrPort{}, nil
	}
	r, err := NewRunner(nil, nil, WithFactory(hang))
	if err != nil {
		t.Fatal(err)
	}
	c := Spec{Type: "tcp", Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1}
	if err := r.Set([]Target{{"svc", netip.MustParseAddrPort("192.0.2.1:80"), c}}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(2 * time.Second):
		t.Fatal("the check never started")
	}
	within(t, 300*time.Millisecond, func() { // the running check is cancelled, not awaited
		if err := r.Shutdown(); err != nil {
			t.Error(err)
		}
	})
	if err := r.Shutdown(); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
	if err := r.Set(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Set after Shutdown: %v, want ErrClosed", err)
	}
}

func TestSpread(t *testing.T) {
	k := key{"web", netip.MustParseAddrPort("192.0.2.1:80")}
	iv := 2 * time.Second
	d := spread(k, iv)
	if d < 0 || d >= iv || spread(k, iv) != d {
		t.Fatalf("spread %v: not deterministic in [0, %v)", d, iv)
	}
	seen := map[time.Duration]bool{}
	for i := range 100 {
		seen[spread(key{"web", netip.AddrPortFrom(k.real.Addr(), uint16(i))}, iv)] = true
	}
	if len(seen) < 95 {
		t.Errorf("only %d distinct offsets for 100 reals", len(seen))
	}
}
