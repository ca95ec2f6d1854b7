package director

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/handover/rstguard"
	"github.com/lvsd/lvsd/director/ipvs"
)

// newFollowerDaemon returns a director, not running, whose follower runs
// on a fake clock.
func newFollowerDaemon(t *testing.T, syncYAML string) (*Director, *fakeSync, *fakeHandover, *afterClock) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "services.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "lvsd.yaml"), mainYAML+syncYAML)
	write(t, filepath.Join(dir, "services.d", "web.yaml"), webYAML)
	write(t, filepath.Join(dir, "services.d", "dns.yaml"), "name: dns\nvirtual: 192.0.2.10:53\nprotocol: udp\nforward: nat\ncheck: {type: none}\nreals: [{address: 192.0.2.21:53}]\n")
	clock := newAfterClock()
	fs, fh := &fakeSync{}, &fakeHandover{now: clock.Now}
	d, err := New(filepath.Join(dir, "lvsd.yaml"), Options{Config: testOptions(), Sync: fs, Handover: fh, Sysctls: offSysctls{},
		OpenIPVS: func(*config.Config) (ipvs.IPVS, error) { return ipvs.NewMemory(), nil }})
	if err != nil {
		t.Fatal(err)
	}
	d.clock = clock
	return d, fs, fh, clock
}

// TestFollowerHandsOver walks a node through backup, takeover and release
// and checks the order of what it does to the kernel: the idle reset hold
// armed ahead of the VIPs, the short hold and the sync master on takeover,
// the table flushed to the peer twice on release and the hold re-armed.
func TestFollowerHandsOver(t *testing.T) {
	d, fs, fh, clock := newFollowerDaemon(t, "sync: {interface: eth1, sync_id: 7, hold_resets: 2s}\n")
	f := d.follow
	// TCP only (the UDP service has no resets); the NAT realserver's
	// untranslated replies are held too.
	web := rstguard.Holds{Resets: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.10:80")},
		Replies: []netip.AddrPort{netip.MustParseAddrPort("198.51.100.11:8080")}}
	f.arm(d.Current().Config)
	f.step(false) // a backup's transitions re-arm
	f.step(true)
	_, holds, _ := fh.snapshot()
	want := []holdCall{{web, idleHold}, {web, idleHold}, {web, 2 * time.Second}}
	if !equalHolds(holds, want) {
		t.Fatalf("holds %+v, want %+v", holds, want)
	}
	running, _ := fs.on(ipvs.SyncMaster)
	if running != "eth1" {
		t.Fatalf("sync master daemon not started on takeover")
	}
	if n, _, _ := fh.snapshot(); n != 0 {
		t.Fatalf("%d flushes while taking over", n)
	}
	f.step(false)
	f.flushing.Wait()
	n, holds, _ := fh.snapshot()
	if n != 1 {
		t.Fatalf("%d flushes right after the release, want 1", n)
	}
	if last := holds[len(holds)-1]; last.d != idleHold {
		t.Errorf("after release the hold is %v, want the idle hold re-armed", last.d)
	}
	_, running2 := fs.on(ipvs.SyncMaster)
	if running2 {
		t.Error("sync master daemon still running after the release")
	}
	if h := d.Status(context.Background()).Handover; h == nil || h.LastFlushed != 1 || h.LastFlushAt.IsZero() {
		t.Errorf("status after the release: handover %+v, want the flush of 1 connection", h)
	}
	clock.advance(t, stragglerDelay-time.Nanosecond)
	if n, _, _ := fh.snapshot(); n != 1 {
		t.Fatalf("%d flushes before stragglerDelay, want 1", n)
	}
	clock.advance(t, time.Nanosecond)
	if n, _, _ := fh.snapshot(); n != 2 {
		t.Fatalf("%d flushes at stragglerDelay, want 2 (the stragglers)", n)
	}
	fh.mu.Lock()
	gap := fh.flushes[1].Sub(fh.flushes[0])
	fh.mu.Unlock()
	if gap != stragglerDelay {
		t.Errorf("straggler flush %v after the first, want %v", gap, stragglerDelay)
	}
}

// TestFollowerFinal: a stop while master flushes twice and removes the
// hold; a stop as backup flushes nothing.
func TestFollowerFinal(t *testing.T) {
	d, _, fh, clock := newFollowerDaemon(t, "sync: {interface: eth1}\n")
	d.follow.step(true)
	done := make(chan struct{})
	go func() { d.follow.final(); close(done) }()
	// final waits out stragglerDelay itself, on the clock: a timer could
	// fire after lvsd exits.
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if err := clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatalf("final does not wait for the stragglers: %v", err)
	}
	if n, _, closed := fh.snapshot(); n != 1 || closed {
		t.Errorf("stop as master, before stragglerDelay: %d flushes, closed %v; want 1, false", n, closed)
	}
	clock.Advance(stragglerDelay)
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("final did not return after stragglerDelay")
	}
	if n, _, closed := fh.snapshot(); n != 2 || !closed {
		t.Errorf("stop as master: %d flushes, closed %v; want 2, true", n, closed)
	}
	d, _, fh, _ = newFollowerDaemon(t, "sync: {interface: eth1}\n")
	d.follow.final()
	if n, _, closed := fh.snapshot(); n != 0 || !closed {
		t.Errorf("stop as backup: %d flushes, closed %v; want 0, true", n, closed)
	}
}

// TestFollowerHoldOff: hold_resets 0 holds nothing, and without sync
// nothing is flushed either.
func TestFollowerHoldOff(t *testing.T) {
	d, _, fh, _ := newFollowerDaemon(t, "sync: {interface: eth1, hold_resets: 0s}\n")
	d.follow.step(true)
	_, holds, _ := fh.snapshot()
	for _, h := range holds {
		if len(h.h.Resets)+len(h.h.Replies) != 0 {
			t.Errorf("hold_resets 0 held %+v", h.h)
		}
	}
	d, _, fh, clock := newFollowerDaemon(t, "")
	d.follow.step(true)
	d.follow.step(false)
	d.follow.flushing.Wait()
	clock.advance(t, stragglerDelay) // the straggler timer has run
	if n, holds, _ := fh.snapshot(); n != 0 {
		t.Errorf("no sync: %d flushes", n)
	} else {
		for _, h := range holds {
			if len(h.h.Resets)+len(h.h.Replies) != 0 {
				t.Errorf("no sync: held %+v", h.h)
			}
		}
	}
}

// TestFollowerRearms: a backup re-arms the idle reset hold every hour, well
// before the kernel drops it (idleHold), without any VRRP transition.
func TestFollowerRearms(t *testing.T) {
	d, _, fh, clock := newFollowerDaemon(t, "sync: {interface: eth1}\n")
	fh.called = make(chan string, 10)
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	done := make(chan struct{})
	go func() { d.follow.run(ctx, &vrrpSet{}, vrrpEvents{}); close(done) }()
	defer func() { cancel(); <-done }()
	for i := range 3 {
		if err := clock.BlockUntilContext(ctx, 1); err != nil { // run's ticker
			t.Fatal(err)
		}
		if _, holds, _ := fh.snapshot(); len(holds) != i {
			t.Fatalf("%d holds before hour %d, want %d", len(holds), i+1, i)
		}
		clock.Advance(time.Hour)
		select {
		case what := <-fh.called:
			if what != "hold" {
				t.Fatalf("hour %d: %s, want the hold re-armed", i+1, what)
			}
		case <-ctx.Done():
			t.Fatalf("hour %d: hold not re-armed", i+1)
		}
	}
	if _, holds, _ := fh.snapshot(); holds[2].d != idleHold {
		t.Errorf("re-armed for %v, want %v", holds[2].d, idleHold)
	}
}

func equalHolds(a, b []holdCall) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].d != b[i].d || !slices.Equal(a[i].h.Resets, b[i].h.Resets) || !slices.Equal(a[i].h.Replies, b[i].h.Replies) {
			return false
		}
	}
	return true
}

// TestFollowerHoldsBeforeTheFlushOnRelease: a released node keeps its
// VIP:ports local for the window, so its own stack sees what its IPVS
// does not know; the reset hold must be in place before the connection
// table is flushed (which took 725 ms in the VM), not after it.
func TestFollowerHoldsBeforeTheFlushOnRelease(t *testing.T) {
	d, _, fh, _ := newFollowerDaemon(t, "sync: {interface: eth1, sync_id: 7, hold_resets: 2s}\n")
	f := d.follow
	f.step(true)
	fh.mu.Lock()
	fh.order = nil
	fh.mu.Unlock()
	f.step(false)
	f.flushing.Wait()
	fh.mu.Lock()
	order := slices.Clone(fh.order)
	fh.mu.Unlock()
	hold, flush := slices.Index(order, "hold"), slices.Index(order, "flush")
	if hold < 0 || flush < 0 || hold > flush {
		t.Fatalf("calls on release %v: want the hold before the flush", order)
	}
}

// TestFollowerHoldsFromTheConflict: a master that sees another host claim
// its VIP (a split brain in progress) holds resets for as long as the
// conflict may last, and the heal shortens the hold to sync.hold_resets;
// a backup does neither.
func TestFollowerHoldsFromTheConflict(t *testing.T) {
	d, _, fh, _ := newFollowerDaemon(t, "sync: {interface: eth1, sync_id: 7, hold_resets: 2s}\n")
	f := d.follow
	f.conflicted() // a backup: nothing
	_, before, _ := fh.snapshot()
	f.step(true)
	f.conflicted()
	_, holds, _ := fh.snapshot()
	if len(holds) != len(before)+2 || holds[len(holds)-1].d != idleHold {
		t.Fatalf("holds %+v after a conflict as master, want the takeover's and then the idle hold", holds[len(before):])
	}
	f.healed()
	_, holds, _ = fh.snapshot()
	if last := holds[len(holds)-1]; last.d != 2*time.Second {
		t.Errorf("hold after the heal %v, want sync.hold_resets (2s)", last.d)
	}
}

// TestSoakTakeoverWaitedForTheReleaseFlush is the regression test of the
// VM soak's "new connection failed: read tcp 192.0.2.100:51622->
// 192.0.2.10:7000: i/o timeout" (issue 14, seed 7, #72-73): a's link went
// down, it released the VIPs and flushed its connection table (7,641
// connections, 3.8 s under emulation); its link came back and it took the
// VIPs back 1.3 s into the flush, but the follower, flushing inside its
// step, armed the takeover's relay and short reset hold and started the
// sync master daemon only 2.6 s later. A takeover during a flush now arms
// at once; the flush ends on its own, and its stragglers follow it.
func TestSoakTakeoverWaitedForTheReleaseFlush(t *testing.T) {
	d, fs, fh, clock := newFollowerDaemon(t, "sync: {interface: eth1, sync_id: 7, hold_resets: 2s}\n")
	f := d.follow
	fh.block = make(chan struct{})
	f.step(true)
	f.step(false) // the release: its flush blocks
	_, before, _ := fh.snapshot()
	took := make(chan struct{})
	go func() { f.step(true); close(took) }()
	select {
	case <-took:
	case <-time.After(guard):
		close(fh.block)
		t.Fatal("the takeover waited for the release's flush")
	}
	_, holds, _ := fh.snapshot()
	if len(holds) != len(before)+1 || holds[len(holds)-1].d != 2*time.Second {
		t.Errorf("holds after the takeover %+v, want the short hold of a takeover", holds[len(before):])
	}
	running, _ := fs.on(ipvs.SyncMaster)
	if running != "eth1" {
		t.Error("sync master daemon not started by the takeover during the flush")
	}
	if n, _, _ := fh.snapshot(); n != 0 {
		t.Fatalf("%d flushes done while the first is blocked", n)
	}
	fh.block <- struct{}{} // the release's flush ends
	f.flushing.Wait()
	if n, _, _ := fh.snapshot(); n != 1 {
		t.Fatalf("%d flushes after the release's ended, want 1", n)
	}
	close(fh.block)
	clock.advance(t, stragglerDelay)
	if n, _, _ := fh.snapshot(); n != 2 {
		t.Errorf("%d flushes after stragglerDelay, want 2 (the stragglers)", n)
	}
}
