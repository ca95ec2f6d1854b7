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

func newFollowerDaemon(t *testing.T, syncYAML string) (*Director, *fakeSync, *fakeHandover) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "services.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "lvsd.yaml"), mainYAML+syncYAML)
	write(t, filepath.Join(dir, "services.d", "web.yaml"), webYAML)
	write(t, filepath.Join(dir, "services.d", "dns.yaml"), "name: dns\nvirtual: 192.0.2.10:53\nprotocol: udp\nforward: nat\ncheck: {type: none}\nreals: [{address: 192.0.2.21:53}]\n")
	fs, fh := &fakeSync{}, &fakeHandover{}
	d, err := New(filepath.Join(dir, "lvsd.yaml"), Options{Config: testOptions(), Sync: fs, Handover: fh, Sysctls: offSysctls{},
		OpenIPVS: func(*config.Config) (ipvs.IPVS, error) { return ipvs.NewMemory(), nil }})
	if err != nil {
		t.Fatal(err)
	}
	return d, fs, fh
}

// TestFollowerHandsOver walks a node through backup, takeover and release
// and checks the order of what it does to the kernel: the idle reset hold
// armed ahead of the VIPs, the short hold and the sync master on takeover,
// the table flushed to the peer twice on release and the hold re-armed.
func TestFollowerHandsOver(t *testing.T) {
	d, fs, fh := newFollowerDaemon(t, "sync: {interface: eth1, sync_id: 7, hold_resets: 2s}\n")
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
	fs.mu.Lock()
	running := fs.running[ipvs.SyncMaster]
	fs.mu.Unlock()
	if running != "eth1" {
		t.Fatalf("sync master daemon not started on takeover")
	}
	if n, _, _ := fh.snapshot(); n != 0 {
		t.Fatalf("%d flushes while taking over", n)
	}
	f.step(false)
	n, holds, _ := fh.snapshot()
	if n != 1 {
		t.Fatalf("%d flushes right after the release, want 1", n)
	}
	if last := holds[len(holds)-1]; last.d != idleHold {
		t.Errorf("after release the hold is %v, want the idle hold re-armed", last.d)
	}
	fs.mu.Lock()
	_, running2 := fs.running[ipvs.SyncMaster]
	fs.mu.Unlock()
	if running2 {
		t.Error("sync master daemon still running after the release")
	}
	if h := d.Status(context.Background()).Handover; h == nil || h.LastFlushed != 1 || h.LastFlushAt.IsZero() {
		t.Errorf("status after the release: handover %+v, want the flush of 1 connection", h)
	}
	eventually(t, "the straggler flush", func() bool { n, _, _ := fh.snapshot(); return n == 2 })
	fh.mu.Lock()
	gap := fh.flushes[1].Sub(fh.flushes[0])
	fh.mu.Unlock()
	if gap < stragglerDelay {
		t.Errorf("straggler flush %v after the first, want >= %v", gap, stragglerDelay)
	}
}

// TestFollowerFinal: a stop while master flushes twice and removes the
// hold; a stop as backup flushes nothing.
func TestFollowerFinal(t *testing.T) {
	d, _, fh := newFollowerDaemon(t, "sync: {interface: eth1}\n")
	d.follow.step(true)
	d.follow.final()
	if n, _, closed := fh.snapshot(); n != 2 || !closed {
		t.Errorf("stop as master: %d flushes, closed %v; want 2, true", n, closed)
	}
	d, _, fh = newFollowerDaemon(t, "sync: {interface: eth1}\n")
	d.follow.final()
	if n, _, closed := fh.snapshot(); n != 0 || !closed {
		t.Errorf("stop as backup: %d flushes, closed %v; want 0, true", n, closed)
	}
}

// TestFollowerHoldOff: hold_resets 0 holds nothing, and without sync
// nothing is flushed either.
func TestFollowerHoldOff(t *testing.T) {
	d, _, fh := newFollowerDaemon(t, "sync: {interface: eth1, hold_resets: 0s}\n")
	d.follow.step(true)
	_, holds, _ := fh.snapshot()
	for _, h := range holds {
		if len(h.h.Resets)+len(h.h.Replies) != 0 {
			t.Errorf("hold_resets 0 held %+v", h.h)
		}
	}
	d, _, fh = newFollowerDaemon(t, "")
	d.follow.step(true)
	d.follow.step(false)
	time.Sleep(stragglerDelay + 50*time.Millisecond)
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
