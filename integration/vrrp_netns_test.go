//go:build integration && !ipvs

package integration

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/lvsd/lvsd/vrrp"
)

var (
	vrrpVIP  = netip.MustParseAddr("192.0.2.100")
	vrrpVIP6 = netip.MustParseAddr("2001:db8::100")
	vrrpGW   = netip.MustParseAddr("198.51.100.100")
)

// vrrpPair is the usual lab: directors a (.1) and b (.2), client c (.9).
func vrrpPair(t *testing.T, segments int) *vrrpLab {
	return newVRRPLab(t, segments, map[string]int{"a": 1, "b": 2, "c": 9})
}

// onlyHolder waits until exactly want (of a and b) holds addr.
func (l *vrrpLab) onlyHolder(want string, addr netip.Addr, timeout time.Duration) time.Duration {
	l.TB.Helper()
	other := map[string]string{"a": "b", "b": "a"}[want]
	return l.WaitFor(timeout, want+" alone holds "+addr.String(), func() bool {
		return l.host(want).holds(addr) && !l.host(other).holds(addr)
	})
}

// elected waits until want alone holds addr, and checks that it stays so
// for longer than Master_Down_Interval: the other node hears want's
// adverts, or it would take over.
func (l *vrrpLab) elected(want string, addr netip.Addr) {
	l.TB.Helper()
	took := l.onlyHolder(want, addr, 3*time.Second)
	l.TB.Logf("%s alone holds %v after %v", want, addr, took)
	l.stable(want, addr, masterDown(1)+100*time.Millisecond)
}

// stable checks that exactly want holds addr at every 5ms sample for d.
func (l *vrrpLab) stable(want string, addr netip.Addr, d time.Duration) {
	l.TB.Helper()
	other := map[string]string{"a": "b", "b": "a"}[want]
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if !l.host(want).holds(addr) || l.host(other).holds(addr) {
			l.TB.Fatalf("%s no longer alone holds %v", want, addr)
		}
	}
}

// ping sends one echo request from the client to addr and waits for the
// reply, which fills the client's neighbour table.
func (l *vrrpLab) ping(addr netip.Addr) {
	l.TB.Helper()
	l.In(l.host("c").name, "ping", "-c", "1", "-W", "2", addr.String())
}

func TestVRRPElection(t *testing.T) {
	l := vrrpPair(t, 1)
	// A VIP left on b by a crash: b, a backup, removes it at start.
	l.In(l.host("b").name, "ip", "addr", "add", "192.0.2.100/24", "dev", "eth0")
	a := l.start(l.newNode("a", vrrpConfig("a", 200)))
	b := l.start(l.newNode("b", vrrpConfig("b", 100)))
	l.elected("a", vrrpVIP)
	if s := b.node.Status(); s.State != vrrp.Backup || s.Master != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("b: %v following %v, want BACKUP following 192.0.2.1", s.State, s.Master)
	}
	sa, sb := a.node.Status(), b.node.Status()
	if sa.State != vrrp.Master || sb.Counters.AdvertsReceived < 5 || sa.Counters.AdvertsSent < 5 {
		t.Errorf("a %v sent %d, b received %d", sa.State, sa.Counters.AdvertsSent, sb.Counters.AdvertsReceived)
	}
	l.ping(vrrpVIP)
	if got, want := l.host("c").neighbour(vrrpVIP), l.host("a").mac(t, "eth0"); !bytes.Equal(got, want) {
		t.Errorf("client resolves the VIP to %v, want a's %v", got, want)
	}
}

func TestVRRPMasterLinkCut(t *testing.T) {
	l := vrrpPair(t, 1)
	a := l.start(l.newNode("a", vrrpConfig("a", 200)))
	l.start(l.newNode("b", vrrpConfig("b", 100)))
	l.elected("a", vrrpVIP)
	// Cut a's cable: b hears nothing more and takes over after its
	// Master_Down_Interval; a loses carrier and faults (its interface is
	// tracked), so the VIP leaves it too.
	l.In(l.sw, "ip", "link", "set", "a0", "down")
	took := l.WaitFor(masterDown(100)+400*time.Millisecond, "b holds the VIP", func() bool { return l.host("b").holds(vrrpVIP) })
	t.Logf("takeover after the master's link was cut: %v (Master_Down_Interval %v)", took, masterDown(100))
	l.onlyHolder("b", vrrpVIP, time.Second)
	if s := a.node.Status(); s.State != vrrp.Fault {
		t.Errorf("a in %v with its link down, want FAULT", s.State)
	}
	l.ping(vrrpVIP)
	// Reconnect: a leaves Fault, preempts b, and the client follows.
	l.In(l.sw, "ip", "link", "set", "a0", "up")
	took = l.onlyHolder("a", vrrpVIP, 3*time.Second)
	t.Logf("a preempts %v after its link is back", took)
	l.WaitFor(time.Second, "client follows a", func() bool {
		return bytes.Equal(l.host("c").neighbour(vrrpVIP), l.host("a").mac(t, "eth0"))
	})
}

func TestVRRPHandoverOnStop(t *testing.T) {
	l := vrrpPair(t, 1)
	cfg := vrrpConfig("a", 200)
	cfg.Handover = vrrp.Handover{OnStop: true, Timeout: time.Second}
	a := l.start(l.newNode("a", cfg))
	l.start(l.newNode("b", vrrpConfig("b", 100)))
	l.elected("a", vrrpVIP)
	start := time.Now()
	go a.cancel()
	samples, both := 0, 0
	for deadline := start.Add(3 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		ha, hb := l.host("a").holds(vrrpVIP), l.host("b").holds(vrrpVIP)
		samples++
		if !ha && !hb {
			t.Fatalf("after %v nobody holds the VIP", time.Since(start))
		}
		if ha && hb {
			both++
		}
		if hb && !ha && len(a.done) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("handover not done after 3s: a holds %v, b holds %v", ha, hb)
		}
	}
	if err := <-a.done; err != nil {
		t.Errorf("a's Run: %v", err)
	}
	a.done <- nil
	t.Logf("handover on stop: %v, %d samples, VIP on both in %d, on none in 0", time.Since(start), samples, both)
}

func TestVRRPPreempt(t *testing.T) {
	for _, preempt := range []bool{true, false} {
		name := map[bool]string{true: "preempt", false: "nopreempt"}[preempt]
		t.Run(name, func(t *testing.T) {
			l := vrrpPair(t, 1)
			l.start(l.newNode("b", vrrpConfig("b", 100)))
			l.elected("b", vrrpVIP)
			cfg := vrrpConfig("a", 200)
			cfg.Preempt = preempt
			a := l.start(l.newNode("a", cfg))
			if preempt {
				took := l.onlyHolder("a", vrrpVIP, 3*time.Second)
				t.Logf("a preempted b %v after starting", took)
				return
			}
			l.stable("b", vrrpVIP, 2*time.Second)
			if s := a.node.Status(); s.State != vrrp.Backup {
				t.Errorf("a in %v, want BACKUP", s.State)
			}
		})
	}
}

func TestVRRPSplitBrain(t *testing.T) {
	l := vrrpPair(t, 1)
	l.start(l.newNode("a", vrrpConfig("a", 200)))
	l.start(l.newNode("b", vrrpConfig("b", 100)))
	l.elected("a", vrrpVIP)
	l.ping(vrrpVIP)
	macA, macB := l.host("a").mac(t, "eth0"), l.host("b").mac(t, "eth0")
	// Drop VRRP in b's namespace, both ways, so neither hears the other.
	bns := l.host("b").name
	l.DropVRRP(bns)
	l.WaitFor(masterDown(100)+time.Second, "both hold the VIP", func() bool {
		return l.host("a").holds(vrrpVIP) && l.host("b").holds(vrrpVIP)
	})
	// b's gratuitous ARP took the client.
	l.WaitFor(time.Second, "client follows b", func() bool { return bytes.Equal(l.host("c").neighbour(vrrpVIP), macB) })
	time.Sleep(3 * time.Second)
	if !l.host("a").holds(vrrpVIP) || !l.host("b").holds(vrrpVIP) {
		t.Fatal("split brain ended while VRRP was dropped")
	}
	healed := time.Now()
	l.AllowVRRP(bns)
	took := l.onlyHolder("a", vrrpVIP, 300*time.Millisecond)
	t.Logf("split brain healed %v after the rule was removed", took)
	l.WaitFor(time.Second, "client follows a again", func() bool {
		return bytes.Equal(l.host("c").neighbour(vrrpVIP), macA)
	})
	t.Logf("client re-pointed at a %v after the heal", time.Since(healed))
	l.stable("a", vrrpVIP, 500*time.Millisecond)
	l.ping(vrrpVIP)
}

func TestVRRPSwitchover(t *testing.T) {
	l := vrrpPair(t, 1)
	a := l.start(l.newNode("a", vrrpConfig("a", 200)))
	b := l.start(l.newNode("b", vrrpConfig("b", 100)))
	l.elected("a", vrrpVIP)
	// Lower a first, or it preempts b again after its yield.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.node.SetPriority(ctx, 50); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	errc := make(chan error, 1)
	go func() { errc <- a.node.Switchover(ctx) }()
	for deadline := start.Add(3 * time.Second); len(errc) == 0; time.Sleep(5 * time.Millisecond) {
		if !l.host("a").holds(vrrpVIP) && !l.host("b").holds(vrrpVIP) {
			t.Fatalf("after %v nobody holds the VIP", time.Since(start))
		}
		if time.Now().After(deadline) {
			t.Fatal("Switchover did not return within 3s")
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("Switchover: %v", err)
	}
	t.Logf("Switchover returned after %v", time.Since(start))
	l.onlyHolder("b", vrrpVIP, time.Second)
	l.stable("b", vrrpVIP, time.Second)
	if s := b.node.Status(); s.State != vrrp.Master {
		t.Errorf("b in %v", s.State)
	}
	if err := b.node.Switchover(ctx); err != nil {
		t.Errorf("switching back: %v", err)
	}
	l.onlyHolder("a", vrrpVIP, time.Second)
	if err := b.node.Switchover(ctx); !errors.Is(err, vrrp.ErrNotMaster) {
		t.Errorf("Switchover of a backup: %v, want ErrNotMaster", err)
	}
}
