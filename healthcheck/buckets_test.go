package healthcheck

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

func TestBucketLayout(t *testing.T) {
	for _, tt := range []struct {
		iv   time.Duration
		want int
	}{{time.Millisecond, 1}, {30 * time.Millisecond, 3}, {time.Second, 100}, {time.Minute, 100}} {
		if n := bucketCount(tt.iv); n != tt.want {
			t.Errorf("bucketCount(%v) = %d, want %d", tt.iv, n, tt.want)
		}
	}
	iv := time.Second
	counts := make([]int, bucketCount(iv))
	for i := range 10000 {
		k := key{"web", netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i / 100)}), uint16(10000+i%100))}
		p := spread(k, iv)
		b := bucketOf(iv, p)
		if b != bucketOf(iv, spread(k, iv)) {
			t.Fatalf("%v: bucket not deterministic", k)
		}
		if b.interval != iv || b.index < 0 || b.index >= len(counts) {
			t.Fatalf("%v: phase %v in bucket %+v", k, p, b)
		}
		if off := b.offset(); p < off || p >= off+iv/time.Duration(len(counts)) {
			t.Fatalf("%v: phase %v outside its bucket [%v, +%v)", k, p, off, iv/100)
		}
		counts[b.index]++
	}
	for i, n := range counts { // 100 expected in each
		if n < 60 || n > 140 {
			t.Errorf("bucket %d holds %d of 10,000 checks, want about 100", i, n)
		}
	}
}

// okFactory builds checkers that pass at once, counting their runs.
func okFactory(runs *atomic.Int64) Factory {
	return func(c Spec, real netip.AddrPort) (Checker, netip.AddrPort, error) {
		return CheckerFunc(func(context.Context, netip.AddrPort) error { runs.Add(1); return nil }), real, nil
	}
}

func manyTargets(n int, c Spec) []Target {
	ts := make([]Target, n)
	for i := range ts {
		ts[i] = Target{"svc", netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i / 250)}), uint16(1+i%250)), &c}
	}
	return ts
}

func TestRunnerBatchesIntoBoundedJobs(t *testing.T) {
	var runs atomic.Int64
	h := newHarness(t, nil, WithFactory(okFactory(&runs)))
	r := h.r
	second := Spec{Type: "tcp", Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 1}
	half := second
	half.Interval = 500 * time.Millisecond
	set := func(ts []Target) {
		t.Helper()
		if err := h.set(ts...); err != nil {
			t.Fatal(err)
		}
	}
	set(append(manyTargets(1000, second), Target{"other", netip.MustParseAddrPort("192.0.2.250:1"), &half}))
	if n := len(r.sched.Jobs()); n > maxBuckets+1 || n < maxBuckets/2 {
		t.Errorf("%d gocron jobs for 1,000 checks of one interval and 1 of another, want at most %d", n, maxBuckets+1)
	}
	ids := map[string]bool{}
	for _, j := range r.sched.Jobs() {
		ids[j.ID().String()] = true
	}
	set(manyTargets(1000, second)) // the same minus one: the jobs stay
	if n := len(r.sched.Jobs()); n != len(ids)-1 {
		t.Errorf("%d jobs after removing the only check of an interval, want %d", n, len(ids)-1)
	}
	for _, j := range r.sched.Jobs() {
		if !ids[j.ID().String()] {
			t.Errorf("job %q was replaced: an unchanged bucket keeps its job and phase", j.Name())
		}
	}
	h.round() // one interval: a run of every check
	for _, s := range r.Snapshot() {
		if s.Checks == 0 {
			t.Fatalf("%v: no run in an interval", s.Real)
		}
	}
	set(nil)
	if n := len(r.sched.Jobs()); n != 0 {
		t.Errorf("%d jobs left without checks", n)
	}
}

func TestRunnerSpreadsFirstRuns(t *testing.T) {
	var runs atomic.Int64
	h := newHarness(t, nil, WithFactory(okFactory(&runs)))
	iv := 500 * time.Millisecond
	start := h.clock.Now()
	if err := h.set(manyTargets(500, Spec{Type: "tcp", Interval: iv, Timeout: iv, Rise: 1, Fall: 1})...); err != nil {
		t.Fatal(err)
	}
	h.round() // the first run of every check is due in its first interval
	first := map[netip.AddrPort]time.Time{}
	for _, res := range h.seen {
		if _, ok := first[res.Real]; !ok {
			first[res.Real] = res.Due
		}
	}
	if len(first) != 500 {
		t.Fatalf("%d of 500 checks ran in the first interval", len(first))
	}
	slots := map[int]int{} // tenths of the interval
	for real, due := range first {
		off := due.Sub(start)
		k := key{"svc", real}
		if want := bucketOf(iv, spread(k, iv)).offset(); off != want {
			t.Errorf("%v: first run due %v after Set, want its bucket's offset %v", real, off, want)
		}
		slots[int(off*10/iv)]++
	}
	for s := range 10 {
		if slots[s] < 20 {
			t.Errorf("%d of 500 first runs in tenth %d of the interval: %v", slots[s], s, slots)
		}
	}
}

func TestRunnerSkipsOverlap(t *testing.T) {
	var inside, most, starts atomic.Int32
	began, gate := make(chan struct{}, 1), make(chan struct{})
	slow := func(Spec, netip.AddrPort) (Checker, netip.AddrPort, error) {
		return CheckerFunc(func(context.Context, netip.AddrPort) error {
			starts.Add(1)
			n := inside.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			began <- struct{}{}
			<-gate // ignores ctx, against the contract: runs over several intervals
			inside.Add(-1)
			return nil
		}), netip.AddrPort{}, nil
	}
	h := newHarness(t, nil, WithFactory(slow))
	c := Spec{Type: "tcp", Interval: 40 * time.Millisecond, Timeout: 40 * time.Millisecond, Rise: 1, Fall: 1}
	if _, err := h.setOnly(Target{"svc", netip.MustParseAddrPort("192.0.2.1:80"), &c}); err != nil {
		t.Fatal(err)
	}
	for k := range h.batches() {
		if k.index != 0 { // the first batch of an interval starts at Set, the others at their offset
			h.tick()
		}
	}
	skipped := 0
	for run := range 3 {
		select {
		case <-began:
		case <-time.After(guard):
			t.Fatalf("run %d did not start", run+1)
		}
		for range 2 { // two intervals pass while the run goes on
			h.tick()
			if r := h.next(); !r.Skipped {
				t.Fatalf("run %d: %+v while it went on, want a skip", run+1, r)
			}
			skipped++
		}
		gate <- struct{}{}
		if r := h.next(); r.Skipped || r.Err != nil {
			t.Fatalf("run %d: %+v, want its result", run+1, r)
		}
		if run < 2 {
			h.tick() // the run is over: the next interval starts another
		}
	}
	if m := most.Load(); m != 1 {
		t.Errorf("%d runs of one check at once, want 1", m)
	}
	if n := starts.Load(); n != 3 || skipped != 6 {
		t.Errorf("%d runs and %d skips, want 3 and 6", n, skipped)
	}
}

func TestRunnerConnectEngine(t *testing.T) {
	srv := newFlipListener(t)
	h := newHarness(t, nil, WithFactory(New))
	r := h.r
	if r.engine == nil {
		t.Skip("no connect engine on this system")
	}
	c := tcpCheck(2, 2)
	sendExpect := c
	sendExpect.Send = "x"
	other := closedPort(t, "tcp", "127.0.0.1")
	targets := []Target{{"web", srv.addr, &c}, {"web", other, &sendExpect}}
	if err := h.set(targets...); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	onEngine, onPool := r.job(key{"web", srv.addr}).connect, r.job(key{"web", other}).connect
	r.mu.Unlock()
	if !onEngine || onPool {
		t.Fatalf("connect-only check on the engine: %v; send/expect check on the engine: %v", onEngine, onPool)
	}
	h.round()
	h.round()
	if !r.Up("web", srv.addr) {
		t.Fatal("down while the port is open")
	}
	srv.close()
	h.round()
	h.round() // fall 2
	for ev := nextEvent(t, h.events); ev.Real != srv.addr; ev = nextEvent(t, h.events) {
	}
	if r.Up("web", srv.addr) {
		t.Fatal("up after the port closed")
	}
	checks := func() uint64 {
		for _, st := range r.Snapshot() {
			if st.Real == srv.addr {
				if st.LastReason != ReasonRefused || st.LastDetail != "connect "+srv.addr.String()+": refused" {
					t.Errorf("snapshot %+v", st)
				}
				return st.Checks
			}
		}
		t.Fatal("not in the snapshot")
		return 0
	}
	before := checks()
	if err := h.set(targets...); err != nil {
		t.Fatal(err)
	}
	if r.Up("web", srv.addr) || checks() != before {
		t.Fatal("Set with the same targets reset the check's state")
	}
	srv.reopen()
	h.round()
	h.round() // rise 2
	for ev := nextEvent(t, h.events); ev.Real != srv.addr || !ev.Up; ev = nextEvent(t, h.events) {
	}
}
