package vrrp

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeWatcher is a Watcher the test feeds with sightings; it records
// probes and proxy announcements in the harness's log.
type fakeWatcher struct {
	log    *opLog
	own    net.HardwareAddr
	in     chan Sighting
	closed chan struct{}
	once   sync.Once
}

func (w *fakeWatcher) Read() (Sighting, error) {
	select {
	case s := <-w.in:
		return s, nil
	case <-w.closed:
		return Sighting{}, fmt.Errorf("fake watcher: %w", net.ErrClosed)
	}
}

func (w *fakeWatcher) Probe(addr netip.Addr) error {
	w.log.add("probe %v", addr)
	return nil
}

func (w *fakeWatcher) AnnounceAs(addr netip.Addr, mac net.HardwareAddr) (int, error) {
	w.log.add("announce %v at %v", addr, mac)
	return 2, nil
}

func (w *fakeWatcher) MAC() net.HardwareAddr { return w.own }

func (w *fakeWatcher) Close() error {
	w.once.Do(func() { close(w.closed) })
	return nil
}

var (
	ownMAC    = net.HardwareAddr{2, 0, 0, 0, 0, 0x10}
	otherMAC  = net.HardwareAddr{2, 0, 0, 0, 0, 0x05}
	winnerMAC = net.HardwareAddr{2, 0, 0, 0, 0, 0x20}
)

// newGuardHarness is a harness whose Node has a fake Watcher with MAC own.
func newGuardHarness(t *testing.T, cfg InstanceConfig, own net.HardwareAddr) (*harness, *fakeWatcher) {
	t.Helper()
	clk := &fakeClock{now: t0}
	w := &fakeWatcher{own: own, in: make(chan Sighting), closed: make(chan struct{})}
	h := newHarnessDeps(t, cfg, Deps{Watcher: w, Clock: clk})
	w.log = h.log
	return h, w
}

// see delivers a sighting and waits until the Node has handled it.
func (h *harness) see(w *fakeWatcher, s Sighting) {
	h.t.Helper()
	w.in <- s
	h.waitIdle()
}

// garp is a gratuitous ARP for addr from mac, as a host that takes the
// address sends it.
func garp(addr netip.Prefix, mac net.HardwareAddr) Sighting {
	return Sighting{Addr: addr.Addr(), MAC: mac, EthSrc: mac, Kind: ClaimAnnounce}
}

// settledMaster makes the Node master, lets its takeover announcements
// end, and returns the time of its last advert, with the clock 50 ms
// after it.
func (h *harness) settledMaster() time.Time {
	h.t.Helper()
	h.becomeMaster()
	h.advance(2 * time.Second)
	var last time.Time
	ops, times := h.log.takeTimed()
	for i, op := range ops {
		if strings.HasPrefix(op, "send") {
			last = times[i]
		}
	}
	if last.IsZero() {
		h.t.Fatal("no advert as master")
	}
	h.clk.set(last) // back in time: no deadline passes
	h.advance(50 * time.Millisecond)
	return last
}

// opsSince returns the operations since the last take, each with its
// time after origin.
func (h *harness) opsSince(origin time.Time) []string {
	ops, times := h.log.takeTimed()
	var out []string
	for i, op := range ops {
		out = append(out, fmt.Sprintf("%v %s", times[i].Sub(origin), op))
	}
	return out
}

// TestGuardHealsASilentSplitBrain: the master sees another MAC announce a
// VIP (the other side of a split brain took over). It announces nothing
// while the other answers its probes, one per advert interval, 5 ms
// after each of its adverts; the first probe nobody answers (the other
// master heard us and let go, silently, as keepalived does) makes it
// announce again at once.
func TestGuardHealsASilentSplitBrain(t *testing.T) {
	h, w := newGuardHarness(t, nodeConfig(), ownMAC)
	h.run()
	origin := h.settledMaster() // an advert; now 50 ms later
	h.see(w, garp(vip1, otherMAC))
	if c := h.n.Status().Conflict; c.Addr != vip1.Addr() || c.MAC != otherMAC.String() || !c.Since.Equal(origin.Add(50*time.Millisecond)) {
		t.Errorf("conflict %+v, want %v claimed by %v since the claim", c, vip1.Addr(), otherMAC)
	}
	// The other master answers three probes: nothing but adverts and probes.
	h.advance(50 * time.Millisecond) // to the next advert
	for range 3 {
		h.advance(7 * time.Millisecond) // past the probe, within the wait
		h.see(w, Sighting{Addr: vip1.Addr(), MAC: otherMAC, EthSrc: otherMAC, Kind: ClaimReply})
		h.advance(93 * time.Millisecond)
	}
	want := []string{
		"100ms send 100 to 224.0.0.18", "105ms probe 192.0.2.100",
		"200ms send 100 to 224.0.0.18", "205ms probe 192.0.2.100",
		"300ms send 100 to 224.0.0.18", "305ms probe 192.0.2.100",
		"400ms send 100 to 224.0.0.18",
	}
	if got := h.opsSince(origin); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("during the split:\n got %q\nwant %q", got, want)
	}
	// The fourth probe goes unanswered: announce at the end of its wait.
	h.advance(30 * time.Millisecond)
	want = []string{
		"405ms probe 192.0.2.100",
		"410ms announce 192.0.2.100", "410ms announce 192.0.2.101",
	}
	if got := h.opsSince(origin); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("heal:\n got %q\nwant %q", got, want)
	}
	s := h.n.Status()
	if s.State != Master || s.Conflict != (ConflictStatus{}) {
		t.Errorf("after the heal: %v, conflict %+v; want MASTER, none", s.State, s.Conflict)
	}
	c := s.Counters
	if c.Conflicts != 1 || c.Heals != 1 || c.Probes != 4 || c.Claims[ClaimAnnounce] != 1 || c.Claims[ClaimReply] != 3 {
		t.Errorf("counters: conflicts %d heals %d probes %d claims %v", c.Conflicts, c.Heals, c.Probes, c.Claims)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewMetrics(func() []*Node { return []*Node{h.n} }))
	for name, want := range map[string]float64{"address_conflict": 0, "address_conflicts_total": 1,
		"address_conflict_heals_total": 1, "probes_sent_total": 4} {
		if got, ok := sample(t, reg, "lvsd_vrrp_"+name); !ok || got != want {
			t.Errorf("metric %s = %v (%v), want %v", name, got, ok, want)
		}
	}
	if got, _ := sample(t, reg, "lvsd_vrrp_address_claims_total", "kind", "reply"); got != 3 {
		t.Errorf("reply claims metric %v, want 3", got)
	}
	// No more probes once healed.
	h.advance(time.Second)
	for _, op := range h.log.take() {
		if strings.HasPrefix(op, "probe") {
			t.Errorf("probe after the heal: %s", op)
		}
	}
}

// TestGuardReportsAThirdHost: a host that keeps a VIP (misconfigured, it
// answers every probe) is reported, not fought: no announcement, no state
// change, at most one probe per advert interval, for as long as it
// answers. Once it lets go, the master announces.
func TestGuardReportsAThirdHost(t *testing.T) {
	h, w := newGuardHarness(t, nodeConfig(), ownMAC)
	h.run()
	h.settledMaster()
	h.see(w, Sighting{Addr: vip2.Addr(), MAC: otherMAC, EthSrc: otherMAC, Kind: ClaimOther})
	h.advance(50 * time.Millisecond)
	for range 100 { // 10 s
		h.advance(7 * time.Millisecond)
		h.see(w, Sighting{Addr: vip2.Addr(), MAC: otherMAC, EthSrc: otherMAC, Kind: ClaimReply})
		h.advance(93 * time.Millisecond)
	}
	probes := 0
	for _, op := range h.log.take() {
		switch {
		case strings.HasPrefix(op, "probe 192.0.2.101"):
			probes++
		case !strings.HasPrefix(op, "send 100"):
			t.Errorf("while the third host answers: %s", op)
		}
	}
	if probes < 95 || probes > 100 {
		t.Errorf("%d probes in 10 s at a 100 ms advert interval, want about 100 and at most 100", probes)
	}
	s := h.n.Status()
	if s.State != Master || s.Counters.Transitions != 2 || s.Conflict.Addr != vip2.Addr() || s.Counters.Conflicts != 1 {
		t.Errorf("state %v, %d transitions, conflict %+v (%d); want MASTER, 2, one conflict on %v",
			s.State, s.Counters.Transitions, s.Conflict, s.Counters.Conflicts, vip2.Addr())
	}
	h.advance(200 * time.Millisecond)
	if ops := strings.Join(h.log.take(), ","); !strings.Contains(ops, "announce 192.0.2.101") {
		t.Errorf("no announcement once the third host let go: %s", ops)
	}
}

// TestGuardIgnores: what is not a conflict. A backup sees the master's
// claims; an announcement of our VIP at our own MAC (a loser speaking for
// us) claims nothing; neither does another address.
func TestGuardIgnores(t *testing.T) {
	h, w := newGuardHarness(t, nodeConfig(), ownMAC)
	h.run()
	h.see(w, garp(vip1, otherMAC)) // backup
	h.becomeMaster()
	h.see(w, Sighting{Addr: vip1.Addr(), MAC: ownMAC, EthSrc: otherMAC, Kind: ClaimAnnounce})
	h.see(w, Sighting{Addr: peerLow, MAC: otherMAC, EthSrc: otherMAC, Kind: ClaimAnnounce})
	h.advance(time.Second)
	for _, op := range h.log.take() {
		if strings.HasPrefix(op, "probe") {
			t.Errorf("probe without a conflict: %s", op)
		}
	}
	if c := h.n.Status().Counters; c.Conflicts != 0 || len(c.Claims) != 0 {
		t.Errorf("conflicts %d, claims %v; want none", c.Conflicts, c.Claims)
	}
}

// TestGuardVirtualMAC: with a virtual MAC both holders announce the same
// MAC; what tells them apart is that a frame from it arrives from the
// link, where our own frames never come back.
func TestGuardVirtualMAC(t *testing.T) {
	cfg := nodeConfig()
	cfg.VirtualMAC = true
	vmac := VirtualMAC(cfg.VRID, true)
	h, w := newGuardHarness(t, cfg, vmac)
	h.run()
	h.becomeMaster()
	h.see(w, garp(vip1, vmac))
	if c := h.n.Status(); c.Conflict.MAC != vmac.String() || c.Counters.Conflicts != 1 {
		t.Errorf("conflict %+v, %d; want one with the virtual MAC", c.Conflict, c.Counters.Conflicts)
	}
}

// TestGuardStopsOnStepDown: a conflict ends without announcing when we
// hear a better master: we never fight it.
func TestGuardStopsOnStepDown(t *testing.T) {
	h, w := newGuardHarness(t, nodeConfig(), ownMAC)
	h.run()
	h.becomeMaster()
	h.see(w, garp(vip1, otherMAC))
	for range 20 { // the better master keeps advertising
		h.recvAdvert(200, peerHigh)
		h.advance(100 * time.Millisecond)
	}
	for _, op := range h.log.take() {
		if strings.HasPrefix(op, "probe 192.0.2.1") || strings.HasPrefix(op, "announce 192.0.2.10") {
			t.Errorf("after stepping down: %s", op)
		}
	}
	if c := h.n.Status().Conflict; c != (ConflictStatus{}) {
		t.Errorf("conflict %+v after stepping down, want none", c)
	}
}
