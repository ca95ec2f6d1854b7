package healthcheck

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunnerFallAndRise(t *testing.T) {
	srv := newFlipListener(t)
	h := newHarness(t, nil)
	const rise, fall = 2, 3
	if err := h.set(Target{"web", srv.addr, new(tcpCheck(rise, fall))}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		h.round()
	}
	if !h.r.Up("web", srv.addr) {
		t.Fatal("down while the port is open")
	}
	h.quiet()

	srv.close()
	for i := 1; i < fall; i++ {
		h.round()
		if !h.r.Up("web", srv.addr) {
			t.Fatalf("down after %d failures, want %d", i, fall)
		}
	}
	at := h.round()
	if up, known := h.r.State("web", srv.addr); up || !known {
		t.Fatalf("state up=%v known=%v after %d failures, want down", up, known, fall)
	}
	down := nextEvent(t, h.events)
	if down.Up || down.Service != "web" || down.Real != srv.addr || down.Reason != ReasonRefused || !down.At.Equal(at) {
		t.Errorf("down event %+v, want refused at the %d-th failure (%v)", down, fall, at)
	}
	h.quiet()

	srv.reopen()
	for i := 1; i < rise; i++ {
		h.round()
		if h.r.Up("web", srv.addr) {
			t.Fatalf("up after %d successes, want %d", i, rise)
		}
	}
	at = h.round()
	if !h.r.Up("web", srv.addr) {
		t.Fatalf("down after %d successes", rise)
	}
	up := nextEvent(t, h.events)
	if !up.Up || up.Reason != "" || !up.At.Equal(at) {
		t.Errorf("up event %+v, want at the %d-th success (%v)", up, rise, at)
	}
	for range 3 {
		h.round()
	}
	h.quiet()
}

func TestRunnerSetKeepsState(t *testing.T) {
	srv := newFlipListener(t)
	h := newHarness(t, nil)
	set := func(c Spec) {
		t.Helper()
		if err := h.set(Target{"web", srv.addr, &c}); err != nil {
			t.Fatal(err)
		}
	}
	checks := func() uint64 {
		t.Helper()
		for _, s := range h.r.Snapshot() {
			if s.Real == srv.addr {
				return s.Checks
			}
		}
		t.Fatal("not in the snapshot")
		return 0
	}
	set(tcpCheck(2, 2))
	srv.close()
	h.round()
	h.round()
	if ev := nextEvent(t, h.events); ev.Up {
		t.Fatalf("event %+v, want down", ev)
	}
	before := checks()

	// The same check again: the job and its tracker carry on.
	set(tcpCheck(2, 2))
	if h.r.Up("web", srv.addr) {
		t.Fatal("an unchanged check was reset to its initial state")
	}
	if after := checks(); after != before {
		t.Errorf("checks went from %d to %d: the tracker was replaced", before, after)
	}

	// A changed check starts counting again but keeps the state.
	changed := tcpCheck(2, 2)
	changed.Timeout = time.Second
	set(changed)
	if h.r.Up("web", srv.addr) {
		t.Fatal("a changed check went back to its initial state")
	}
	h.quiet()
	srv.reopen()
	h.round()
	h.round()
	if ev := nextEvent(t, h.events); !ev.Up {
		t.Fatalf("event %+v, want up", ev)
	}

	// Removed: unknown, and its job stops.
	runs := h.log.runs(srv.addr)
	if err := h.set(); err != nil {
		t.Fatal(err)
	}
	if _, known := h.r.State("web", srv.addr); known {
		t.Error("a removed target is still known")
	}
	if n := len(h.r.sched.Jobs()); n != 0 {
		t.Errorf("%d jobs left after the only check was removed", n)
	}
	h.clock.Advance(10 * changed.Interval)
	// A new check runs, as the removed one would have by then.
	other := newFlipListener(t)
	if err := h.set(Target{"web", other.addr, new(tcpCheck(1, 1))}); err != nil {
		t.Fatal(err)
	}
	h.round()
	if n := h.log.runs(srv.addr); n != runs {
		t.Errorf("%d checks ran after the target was removed", n-runs)
	}
}

func TestRunnerInitialAndStatic(t *testing.T) {
	srv := newFlipListener(t)
	h := newHarness(t, nil)
	const rise = 2
	down := tcpCheck(rise, 2)
	down.Initial = "down"
	a, b, c := srv.addr, netip.MustParseAddrPort("192.0.2.2:80"), netip.MustParseAddrPort("192.0.2.3:80")
	set := func(ts ...Target) {
		t.Helper()
		if err := h.set(ts...); err != nil {
			t.Fatal(err)
		}
	}
	// untilUp runs rounds until a is up: rise of them, or one fewer when
	// its check ran at once at Set.
	untilUp := func() {
		t.Helper()
		for i := 0; !h.r.Up("web", a); i++ {
			if i == rise {
				t.Fatalf("down after %d rounds of successes", rise)
			}
			h.round()
		}
	}
	set(Target{"web", a, &down}, Target{"web", b, new(Spec{Type: "off"})}, Target{"web", c, new(Spec{Type: "on"})})
	if h.r.Up("web", a) || h.r.Up("web", b) || !h.r.Up("web", c) {
		t.Fatalf("initial states a=%v b=%v c=%v, want down, down, up", h.r.Up("web", a), h.r.Up("web", b), h.r.Up("web", c))
	}
	untilUp()
	if ev := nextEvent(t, h.events); !ev.Up || ev.Real != a {
		t.Fatalf("event %+v, want %v up", ev, a)
	}

	// on → off flips at once, with the reason.
	set(Target{"web", a, &down}, Target{"web", b, new(Spec{Type: "off"})}, Target{"web", c, new(Spec{Type: "off"})})
	ev := nextEvent(t, h.events)
	if ev.Up || ev.Real != c || ev.Reason != ReasonForcedDown {
		t.Fatalf("event %+v, want %v forced down", ev, c)
	}
	// off → a real check keeps "down" until rise successes.
	set(Target{"web", a, new(Spec{Type: "off"})})
	if ev := nextEvent(t, h.events); ev.Up || ev.Real != a {
		t.Fatalf("event %+v, want %v down", ev, a)
	}
	set(Target{"web", a, new(tcpCheck(rise, 2))})
	if h.r.Up("web", a) {
		t.Fatal("forced-down state lost when a check replaced off")
	}
	untilUp()
	if ev := nextEvent(t, h.events); !ev.Up || ev.Real != a {
		t.Fatalf("event %+v, want %v up", ev, a)
	}
}

func TestRunnerBadTargets(t *testing.T) {
	h := newHarness(t, nil)
	real := netip.MustParseAddrPort("192.0.2.9:80")
	bad := Spec{Type: "http", BodyRegex: "(", Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1}
	err := h.set(Target{"web", real, &bad}, Target{"dup", real, new(Spec{Type: "on"})}, Target{"dup", real, new(Spec{Type: "on"})})
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
	if err := h.set(Target{"web", real, &bad}); err == nil {
		t.Error("the same broken check was accepted the second time")
	}
}

func TestRunnerSnapshot(t *testing.T) {
	srv := newFlipListener(t)
	h := newHarness(t, nil)
	c := tcpCheck(1, 1)
	c.Port = int(srv.addr.Port())
	r1 := netip.AddrPortFrom(srv.addr.Addr(), 1) // checked on srv's port
	r2 := netip.AddrPortFrom(srv.addr.Addr(), 2)
	if err := h.set(Target{"web", r2, &c}, Target{"mail", r1, &c}, Target{"web", r1, &c}); err != nil {
		t.Fatal(err)
	}
	h.round() // a result for each
	snap := h.r.Snapshot()
	want := []struct {
		svc  string
		real netip.AddrPort
	}{{"mail", r1}, {"web", r1}, {"web", r2}}
	if len(snap) != len(want) {
		t.Fatalf("snapshot %+v", snap)
	}
	for i, w := range want {
		s := snap[i]
		if s.Service != w.svc || s.Real != w.real || s.Target != srv.addr || s.Type != "tcp" || !s.Up ||
			s.Successes < 1 || !s.LastCheck.Equal(h.clock.Now()) || s.LastReason != "" {
			t.Errorf("snapshot[%d] = %+v", i, s)
		}
	}
}

// TestRunnerEventsOneAtATime holds the first event in the callback while
// every other check fails and queues its own: a callback run beside
// another would show in inside.
func TestRunnerEventsOneAtATime(t *testing.T) {
	closed := closedPort(t, "tcp", "127.0.0.1")
	var inside, overlaps, count atomic.Int32
	hold, all := make(chan struct{}), make(chan struct{})
	h := newHarness(t, func(Event) {
		if inside.Add(1) > 1 {
			overlaps.Add(1)
		}
		<-hold
		inside.Add(-1)
		if count.Add(1) == 30 {
			close(all)
		}
	})
	release := sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release) // before the harness's Shutdown, which waits for the callback
	var ts []Target
	for i := range 30 {
		ts = append(ts, Target{"svc", netip.AddrPortFrom(closed.Addr(), uint16(i+1)), new(Spec{
			Type: "tcp", Port: int(closed.Port()), Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1, Initial: "up"})})
	}
	if err := h.set(ts...); err != nil {
		t.Fatal(err)
	}
	h.round() // every check has failed once: 30 down events
	release()
	select {
	case <-all:
	case <-time.After(guard):
		t.Fatalf("%d of 30 events delivered", count.Load())
	}
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
	h := newHarness(t, nil, WithFactory(hang))
	c := Spec{Type: "tcp", Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1}
	if _, err := h.setOnly(Target{"svc", netip.MustParseAddrPort("192.0.2.1:80"), &c}); err != nil {
		t.Fatal(err)
	}
	h.tick() // the first run is due by now, whatever the check's phase
	select {
	case <-started:
	case <-time.After(guard):
		t.Fatal("the check never started")
	}
	within(t, 300*time.Millisecond, func() { // the running check is cancelled, not awaited
		if err := h.r.Shutdown(); err != nil {
			t.Error(err)
		}
	})
	if err := h.r.Shutdown(); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
	if err := h.r.Set(nil); !errors.Is(err, ErrClosed) {
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
