package director

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director/config"
)

// sweepYAML is a backup with sync and one preempting instance.
const sweepYAML = "sync: {interface: eth1, sync_id: 7, hold_resets: 2s}\n" +
	"vrrp:\n  instances:\n    - {name: front, interface: eth0, vrid: 10, virtual_ips: [192.0.2.10/24]}\n"

// sweepRig runs a follower's sweeps on a fake clock with backup as the
// node's role; each Sweep returns what result says.
type sweepRig struct {
	t      *testing.T
	d      *Director
	fh     *fakeHandover
	clock  *afterClock
	backup atomic.Bool
	log    *syncWriter
}

func newSweepRig(t *testing.T, yaml string, result func(*afterClock) (int, error)) *sweepRig {
	t.Helper()
	d, _, fh, clock := newFollowerDaemon(t, yaml)
	r := &sweepRig{t: t, d: d, fh: fh, clock: clock, log: &syncWriter{}}
	l := logrus.New()
	l.SetOutput(r.log)
	d.log = logrus.NewEntry(l)
	r.backup.Store(true)
	fh.swept = make(chan int, 16)
	fh.sweep = func(backup func() bool) (int, error) {
		if !backup() {
			t.Error("Sweep called on a node that holds the VIPs")
		}
		return result(clock)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.follow.sweeps(ctx, r.backup.Load) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// waiting waits until the sweeps wait on the clock (they have nothing else
// to do), so that whatever a sweep sent is in fh.swept by then.
func (r *sweepRig) waiting() {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := r.clock.BlockUntilContext(ctx, 1); err != nil {
		r.t.Fatalf("the sweeps do not wait on the clock: %v", err)
	}
}

// advance moves the clock by d once the sweeps wait, and returns the
// result of the sweep that ran meanwhile (-1 for none).
func (r *sweepRig) advance(d time.Duration) int {
	r.t.Helper()
	r.waiting()
	r.clock.Advance(d)
	r.waiting()
	select {
	case n := <-r.fh.swept:
		return n
	default:
		return -1
	}
}

// TestBackupSweepsClosedConnections: a backup sweeps at once and every
// sweepEvery; the first sweep that expired entries releases the
// preemption hold sweepSettle later (the kernel drops them a second after
// the message), and kicks the gate; a master does not sweep; a slow sweep
// spaces the next ones by sweepFactor times its duration.
func TestBackupSweepsClosedConnections(t *testing.T) {
	var took atomic.Int64 // how long each sweep takes, on the fake clock
	r := newSweepRig(t, sweepYAML, func(clock *afterClock) (int, error) {
		clock.Advance(time.Duration(took.Load()))
		return 3, nil
	})
	cfg := r.d.Current().Config
	select {
	case n := <-r.fh.swept:
		if n != 3 {
			t.Fatalf("first sweep %d", n)
		}
	case <-time.After(guard):
		t.Fatal("no sweep at start")
	}
	r.waiting()
	if !r.d.follow.sweepPending(cfg) {
		t.Fatal("the hold released as the first sweep's messages went out, before the kernel dropped the entries")
	}
	select {
	case <-r.d.gateKick:
		t.Fatal("gate kicked before the first sweep settled")
	default:
	}
	if n := r.advance(sweepSettle); n != -1 || r.d.follow.sweepPending(cfg) {
		t.Fatalf("after sweepSettle: sweep %d, pending %v; want no sweep and the hold released", n, r.d.follow.sweepPending(cfg))
	}
	select {
	case <-r.d.gateKick:
	default:
		t.Fatal("the first sweep did not kick the gate")
	}
	if !strings.Contains(r.log.String(), "closed connections expired on this backup") || !strings.Contains(r.log.String(), "connections=3") {
		t.Errorf("no info line for the sweep:\n%s", r.log.String())
	}
	// The next one sweepEvery after the first began.
	if n := r.advance(sweepEvery - sweepSettle - time.Nanosecond); n != -1 {
		t.Fatalf("a sweep %v after the first, want none before %v", sweepEvery-time.Nanosecond, sweepEvery)
	}
	if n := r.advance(time.Nanosecond); n != 3 {
		t.Fatalf("no sweep at %v", sweepEvery)
	}
	// A master does not sweep; back as a backup it does.
	r.backup.Store(false)
	for range 3 {
		if n := r.advance(sweepEvery); n != -1 {
			t.Fatal("a master swept")
		}
	}
	r.backup.Store(true)
	if n := r.advance(sweepEvery); n != 3 {
		t.Fatal("no sweep once a backup again")
	}
	// A sweep that takes 1 s: the next comes 20 s later, not 5.
	took.Store(int64(time.Second))
	if n := r.advance(sweepEvery); n != 3 {
		t.Fatal("no slow sweep")
	}
	took.Store(0)
	if n := r.advance(sweepFactor*time.Second - time.Second - time.Nanosecond); n != -1 {
		t.Fatalf("a sweep %v after a 1 s sweep, want the next %v after it began", sweepFactor*time.Second-time.Nanosecond, sweepFactor*time.Second)
	}
	if n := r.advance(time.Nanosecond); n != 3 {
		t.Fatalf("no sweep %v after the slow one began", sweepFactor*time.Second)
	}
}

// TestFailedSweepReleasesTheHold: a sweep that fails logs a warning and
// releases the preemption hold at once: the hold must never outlive a
// broken sweep (a dead master is taken over from anyway).
func TestFailedSweepReleasesTheHold(t *testing.T) {
	r := newSweepRig(t, sweepYAML, func(*afterClock) (int, error) { return 0, errors.New("connsync: no ip_vs_conn") })
	<-r.fh.swept
	r.waiting()
	if r.d.follow.sweepPending(r.d.Current().Config) {
		t.Fatal("a failed first sweep left the hold in place")
	}
	if !strings.Contains(r.log.String(), "level=warning") || !strings.Contains(r.log.String(), "no ip_vs_conn") {
		t.Errorf("no warning for the failed sweep:\n%s", r.log.String())
	}
	for range 3 {
		if n := r.advance(sweepEvery); n != 0 {
			t.Fatalf("sweep %d, want the failing sweeps to go on", n)
		}
	}
	if w := strings.Count(r.log.String(), "level=warning"); w != 1 {
		t.Errorf("%d warnings for 4 sweeps failing alike, want 1:\n%s", w, r.log.String())
	}
}

// TestNoSweepWithoutSyncOrVRRP: without sync there is no backup daemon to
// send to and no hold; a director without VRRP instances is master for
// good, and its table is live.
func TestNoSweepWithoutSyncOrVRRP(t *testing.T) {
	for name, yaml := range map[string]string{
		"no sync": "vrrp:\n  instances:\n    - {name: front, interface: eth0, vrid: 10, virtual_ips: [192.0.2.10/24]}\n",
		"no vrrp": "sync: {interface: eth1}\n",
	} {
		t.Run(name, func(t *testing.T) {
			r := newSweepRig(t, yaml, func(*afterClock) (int, error) { return 1, nil })
			r.waiting()
			for range 2 {
				if n := r.advance(sweepEvery); n != -1 {
					t.Fatal("swept")
				}
			}
			if cfg := r.d.Current().Config; r.d.follow.sweepPending(cfg) {
				t.Error("preemption held for a sweep")
			}
		})
	}
}

// TestSweepHoldReason: until the first sweep, every preempting instance
// is held for it, after any other reason it has; others are not. After
// it, an instance the health gate does not hold is released.
func TestSweepHoldReason(t *testing.T) {
	cfg := gateConfig()
	cfg.Instances = append(cfg.Instances, config.Instance{Name: "nopreempt"})
	health := func() map[string]string {
		return map[string]string{"front": "service echo: no realserver up", "gateway": ""}
	}
	got := withSweepHold(cfg, health(), true, map[string]string{})
	want := map[string]string{
		"front":   "service echo: no realserver up; " + whySweeping,
		"gateway": whySweeping,
		"other":   whySweeping,
	}
	if !maps.Equal(got, want) {
		t.Fatalf("reasons while the first sweep runs %q, want %q", got, want)
	}
	got = withSweepHold(cfg, health(), false, want)
	want = map[string]string{"front": "service echo: no realserver up", "gateway": "", "other": ""}
	if !maps.Equal(got, want) {
		t.Fatalf("reasons after the first sweep %q, want %q (other released)", got, want)
	}
	d, _, _, _ := newFollowerDaemon(t, sweepYAML)
	if !d.follow.sweepPending(d.Current().Config) {
		t.Error("a director with sync that has not swept yet does not hold preemption")
	}
}
