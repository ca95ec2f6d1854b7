package vrrp

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	hbSelf = netip.MustParseAddr("198.51.100.10")
	hbPeer = netip.MustParseAddr("198.51.100.20")
)

// pathHarness runs a Node with one extra heartbeat path on hb0, unicast
// to hbPeer, whose Conn the test drives.
func pathHarness(t *testing.T) (*harness, *fakeConn) {
	t.Helper()
	cfg := nodeConfig()
	cfg.Paths = []Path{{Interface: "hb0", Unicast: Unicast{Source: hbSelf, Peers: []netip.Addr{hbPeer}}}}
	hb := newFakeConn(nil, hbSelf)
	h := newHarnessDeps(t, cfg, Deps{PathConns: []Conn{hb}})
	hb.log = h.log // before Run: nothing writes yet
	return h, hb
}

// recvOn delivers an advert of priority prio from src on path conn c.
func (h *harness) recvOn(c *fakeConn, prio uint8, src, dst netip.Addr) {
	h.t.Helper()
	c.in <- h.packet(Advert{Priority: prio}, src, dst)
	h.waitIdle()
}

func TestPathKeepsBackupWhileAnyPathHears(t *testing.T) {
	h, hb := pathHarness(t)
	h.run()
	// The master is heard on both paths: nothing is silent.
	for range 10 {
		h.recvAdvert(200, peerHigh)
		h.recvOn(hb, 200, hbPeer, hbSelf)
		h.advance(100 * time.Millisecond)
	}
	if c := h.n.Status().Counters.PathSilences; c != 0 {
		t.Fatalf("%d path silences with both paths hearing", c)
	}
	// The Machine follows the master by its LAN address: hb0's copies of
	// the LAN's adverts do not reach it.
	if m := h.n.Status().Master; m != peerHigh {
		t.Errorf("master %v with both paths hearing, want the LAN address %v", m, peerHigh)
	}
	// Then on hb0 only: that too resets Master_Down_Timer (RFC 5798
	// §6.4.2), for much longer than Master_Down_Interval.
	for range 20 {
		h.recvOn(hb, 200, hbPeer, hbSelf)
		h.advance(100 * time.Millisecond)
	}
	if s := h.state(); s != Backup {
		t.Fatalf("state %v with the master heard on hb0, want BACKUP", s)
	}
	if m := h.n.Status().Master; m != hbPeer {
		t.Errorf("master %v heard on hb0 only, want its hb0 address %v", m, hbPeer)
	}
	st := h.n.Status()
	if len(st.Paths) != 2 || st.Paths[0].Interface != "eth0" || st.Paths[1].Interface != "hb0" {
		t.Fatalf("paths %+v, want eth0 then hb0", st.Paths)
	}
	// The LAN went quiet while hb0 hears: silent, counted once.
	if !st.Paths[0].Silent || st.Paths[0].Silences != 1 || st.Counters.PathSilences != 1 || st.Paths[1].Silent {
		t.Errorf("paths %+v counters %d, want eth0 silent once, hb0 not", st.Paths, st.Counters.PathSilences)
	}
	if got := h.clk.Now().Sub(st.Paths[1].LastAdvert); got != 100*time.Millisecond {
		t.Errorf("hb0 last advert %v ago, want 100ms", got)
	}
	// The LAN hears again: no longer silent, the count stays.
	h.recvAdvert(200, peerHigh)
	st = h.n.Status()
	if st.Paths[0].Silent || st.Counters.PathSilences != 1 {
		t.Errorf("after the LAN heard again: %+v, %d silences", st.Paths, st.Counters.PathSilences)
	}
	// Silence on every path is a dead master: takeover as without paths.
	h.advance(time.Second)
	if s := h.state(); s != Master {
		t.Errorf("state %v after 1s of silence on both paths, want MASTER", s)
	}
}

func TestPathRejectsStrangersPerPath(t *testing.T) {
	h, hb := pathHarness(t)
	h.run()
	// hb0 accepts only its own unicast peer, whatever the LAN accepts.
	for range 20 {
		h.hbStranger(hb)
		h.advance(100 * time.Millisecond)
	}
	if s := h.state(); s != Master {
		t.Errorf("state %v, want MASTER: adverts from a stranger on hb0 do not count", s)
	}
	// The reader counts a drop after taking the packet: wait for it.
	for end := time.Now().Add(5 * time.Second); h.n.Status().Counters.Drops[ReasonNotPeer] < 20; {
		if time.Now().After(end) {
			t.Fatalf("not-peer drops %d, want 20", h.n.Status().Counters.Drops[ReasonNotPeer])
		}
		time.Sleep(time.Millisecond)
	}
}

// hbStranger sends an advert on hb0 from an address that is not its
// peer; no idle follows a drop.
func (h *harness) hbStranger(hb *fakeConn) {
	hb.in <- h.packet(Advert{Priority: 200}, peerHigh, hbSelf)
}

func TestPathMasterFaultSendsZeroOnEveryPath(t *testing.T) {
	h, hb := pathHarness(t)
	h.run()
	h.becomeMaster()
	h.advance(100 * time.Millisecond)
	h.expectOps("send 100 to 224.0.0.18", "send 100 to 198.51.100.20")
	// The LAN goes down and its sends fail: the priority-0 advert of
	// RFC 5798 §6.4.3 still reaches the backup over hb0.
	h.conn.mu.Lock()
	h.conn.err = errors.New("fake: network is down")
	h.conn.mu.Unlock()
	h.links.ch <- linkState{name: "eth0", up: false}
	h.waitIdle()
	h.expectOps("send 0 to 198.51.100.20", "remove 192.0.2.100/24", "remove 192.0.2.101/24")
	if s := h.state(); s != Fault {
		t.Errorf("state %v with the LAN down, want FAULT", s)
	}
	if e := h.n.Status().Counters.SendErrors; e == 0 {
		t.Errorf("the failed LAN send was not counted")
	}
	if n := len(hb.sent); n == 0 || hb.sent[n-1].Priority != 0 {
		t.Errorf("hb0 sent %+v, want the last advert of priority 0", hb.sent)
	}
}

func TestPathMetrics(t *testing.T) {
	h, hb := pathHarness(t)
	m := NewMetrics(func() []*Node { return []*Node{h.n} })
	m.now = h.clk.Now
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	get := func(name, path string) (float64, bool) {
		t.Helper()
		return sample(t, reg, "lvsd_vrrp_"+name, "vrrp_instance", "web", "path", path)
	}
	h.run()
	for range 10 {
		h.recvOn(hb, 200, hbPeer, hbSelf)
		h.advance(100 * time.Millisecond)
	}
	if v, ok := get("path_advert_age_seconds", "hb0"); !ok || v < 0.099 || v > 0.101 {
		t.Errorf("hb0 advert age %v (%v), want 0.1", v, ok)
	}
	if _, ok := get("path_advert_age_seconds", "eth0"); ok {
		t.Error("eth0 advert age exported before any advert on it")
	}
	if v, _ := get("path_silent", "eth0"); v != 1 {
		t.Errorf("eth0 silent %v, want 1", v)
	}
	if v, _ := get("path_silences_total", "eth0"); v != 1 {
		t.Errorf("eth0 silences %v, want 1", v)
	}
	if v, ok := get("path_silent", "hb0"); !ok || v != 0 {
		t.Errorf("hb0 silent %v (%v), want 0", v, ok)
	}
}
