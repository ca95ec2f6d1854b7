//go:build integration

package integration

import (
	"bytes"
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
	l.t.Helper()
	other := map[string]string{"a": "b", "b": "a"}[want]
	return l.waitFor(timeout, want+" alone holds "+addr.String(), func() bool {
		return l.host(want).holds(addr) && !l.host(other).holds(addr)
	})
}

// stable checks that exactly want holds addr at every 5ms sample for d.
func (l *vrrpLab) stable(want string, addr netip.Addr, d time.Duration) {
	l.t.Helper()
	other := map[string]string{"a": "b", "b": "a"}[want]
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if !l.host(want).holds(addr) || l.host(other).holds(addr) {
			l.t.Fatalf("%s no longer alone holds %v", want, addr)
		}
	}
}

// ping sends one echo request from the client to addr and waits for the
// reply, which fills the client's neighbour table.
func (l *vrrpLab) ping(addr netip.Addr) {
	l.t.Helper()
	l.run(l.host("c").name, "ping", "-c", "1", "-W", "2", addr.String())
}

func TestVRRPElection(t *testing.T) {
	l := vrrpPair(t, 1)
	a := l.start(l.newNode("a", vrrpConfig("a", 200)))
	b := l.start(l.newNode("b", vrrpConfig("b", 100)))
	took := l.onlyHolder("a", vrrpVIP, 3*time.Second)
	t.Logf("a holds the VIP %v after start", took)
	l.stable("a", vrrpVIP, time.Second)
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
	l.onlyHolder("a", vrrpVIP, 3*time.Second)
	l.stable("a", vrrpVIP, 300*time.Millisecond)
	// Cut a's cable: b hears nothing more and takes over after its
	// Master_Down_Interval; a loses carrier and faults (its interface is
	// tracked), so the VIP leaves it too.
	l.run(l.sw, "ip", "link", "set", "a0", "down")
	took := l.waitFor(masterDown(100)+400*time.Millisecond, "b holds the VIP", func() bool { return l.host("b").holds(vrrpVIP) })
	t.Logf("takeover after the master's link was cut: %v (Master_Down_Interval %v)", took, masterDown(100))
	l.onlyHolder("b", vrrpVIP, time.Second)
	if s := a.node.Status(); s.State != vrrp.Fault {
		t.Errorf("a in %v with its link down, want FAULT", s.State)
	}
	l.ping(vrrpVIP)
	// Reconnect: a leaves Fault, preempts b, and the client follows.
	l.run(l.sw, "ip", "link", "set", "a0", "up")
	took = l.onlyHolder("a", vrrpVIP, 3*time.Second)
	t.Logf("a preempts %v after its link is back", took)
	l.waitFor(time.Second, "client follows a", func() bool {
		return bytes.Equal(l.host("c").neighbour(vrrpVIP), l.host("a").mac(t, "eth0"))
	})
}

func TestVRRPHandoverOnStop(t *testing.T) {
	l := vrrpPair(t, 1)
	cfg := vrrpConfig("a", 200)
	cfg.Handover = vrrp.Handover{OnStop: true, Timeout: time.Second}
	a := l.start(l.newNode("a", cfg))
	l.start(l.newNode("b", vrrpConfig("b", 100)))
	l.onlyHolder("a", vrrpVIP, 3*time.Second)
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
	t.Logf("handover on stop: %v, %d samples, VIP on both in %d, on none in 0", time.Since(start), samples, both)
}

func TestVRRPPreempt(t *testing.T) {
	for _, preempt := range []bool{true, false} {
		name := map[bool]string{true: "preempt", false: "nopreempt"}[preempt]
		t.Run(name, func(t *testing.T) {
			l := vrrpPair(t, 1)
			l.start(l.newNode("b", vrrpConfig("b", 100)))
			l.onlyHolder("b", vrrpVIP, 3*time.Second)
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
	l.onlyHolder("a", vrrpVIP, 3*time.Second)
	l.ping(vrrpVIP)
	macA, macB := l.host("a").mac(t, "eth0"), l.host("b").mac(t, "eth0")
	// Drop VRRP in b's namespace, both ways, so neither hears the other.
	bns := l.host("b").name
	l.run(bns, "nft", "add", "table", "inet", "t")
	l.run(bns, "nft", "add", "chain", "inet", "t", "in", "{ type filter hook input priority 0; }")
	l.run(bns, "nft", "add", "chain", "inet", "t", "out", "{ type filter hook output priority 0; }")
	l.run(bns, "nft", "add", "rule", "inet", "t", "in", "meta", "l4proto", "112", "drop")
	l.run(bns, "nft", "add", "rule", "inet", "t", "out", "meta", "l4proto", "112", "drop")
	l.waitFor(masterDown(100)+time.Second, "both hold the VIP", func() bool {
		return l.host("a").holds(vrrpVIP) && l.host("b").holds(vrrpVIP)
	})
	// b's gratuitous ARP took the client.
	l.waitFor(time.Second, "client follows b", func() bool { return bytes.Equal(l.host("c").neighbour(vrrpVIP), macB) })
	time.Sleep(3 * time.Second)
	if !l.host("a").holds(vrrpVIP) || !l.host("b").holds(vrrpVIP) {
		t.Fatal("split brain ended while VRRP was dropped")
	}
	healed := time.Now()
	l.run(bns, "nft", "delete", "table", "inet", "t")
	took := l.onlyHolder("a", vrrpVIP, 300*time.Millisecond)
	t.Logf("split brain healed %v after the rule was removed", took)
	l.waitFor(time.Second, "client follows a again", func() bool {
		return bytes.Equal(l.host("c").neighbour(vrrpVIP), macA)
	})
	t.Logf("client re-pointed at a %v after the heal", time.Since(healed))
	l.stable("a", vrrpVIP, 500*time.Millisecond)
	l.ping(vrrpVIP)
}

func TestVRRPUnicast(t *testing.T) {
	l := vrrpPair(t, 1)
	ipA, ipB, ipC := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.9")
	cfgA, cfgB := vrrpConfig("a", 200), vrrpConfig("b", 100)
	cfgA.Unicast = vrrp.Unicast{Source: ipA, Peers: []netip.Addr{ipB}}
	cfgB.Unicast = vrrp.Unicast{Peers: []netip.Addr{ipA}} // source: eth0's primary
	a := l.start(l.newNode("a", cfgA))
	b := l.start(l.newNode("b", cfgB))
	l.onlyHolder("a", vrrpVIP, 3*time.Second)
	// A stranger advertising to a and b is not a peer of theirs.
	cfgC := vrrpConfig("c", 250)
	cfgC.Unicast = vrrp.Unicast{Peers: []netip.Addr{ipA, ipB}}
	l.start(l.newNode("c", cfgC))
	l.waitFor(2*time.Second, "stranger's adverts dropped", func() bool {
		return a.node.Status().Counters.Drops[vrrp.ReasonNotPeer] > 3 && b.node.Status().Counters.Drops[vrrp.ReasonNotPeer] > 3
	})
	l.stable("a", vrrpVIP, 300*time.Millisecond)
	if s := b.node.Status(); s.Master != ipA || s.Counters.AdvertsReceived < 3 {
		t.Errorf("b follows %v after %d adverts, want %v", s.Master, s.Counters.AdvertsReceived, ipA)
	}
	_ = ipC
	l.run(l.sw, "ip", "link", "set", "a0", "down")
	took := l.waitFor(masterDown(100)+400*time.Millisecond, "b holds the VIP", func() bool { return l.host("b").holds(vrrpVIP) })
	t.Logf("unicast takeover after the master's link was cut: %v", took)
}

func TestVRRPIPv6(t *testing.T) {
	l := vrrpPair(t, 1)
	cfg := func(name string, prio uint8) vrrp.InstanceConfig {
		c := vrrpConfig(name, prio)
		c.VIPs = []netip.Prefix{netip.MustParsePrefix("2001:db8::100/64")}
		return c
	}
	l.start(l.newNode("a", cfg("a", 200)))
	b := l.start(l.newNode("b", cfg("b", 100)))
	l.onlyHolder("a", vrrpVIP6, 3*time.Second)
	if s := b.node.Status(); !s.Master.IsLinkLocalUnicast() || s.State != vrrp.Backup {
		t.Errorf("b: %v following %v, want BACKUP following a's link-local address", s.State, s.Master)
	}
	l.ping(vrrpVIP6)
	macA, macB := l.host("a").mac(t, "eth0"), l.host("b").mac(t, "eth0")
	if got := l.host("c").neighbour(vrrpVIP6); !bytes.Equal(got, macA) {
		t.Fatalf("client resolves the VIP to %v, want a's %v", got, macA)
	}
	l.run(l.sw, "ip", "link", "set", "a0", "down")
	took := l.waitFor(masterDown(100)+400*time.Millisecond, "b holds the VIP", func() bool { return l.host("b").holds(vrrpVIP6) })
	t.Logf("IPv6 takeover: %v", took)
	// Only b's unsolicited Neighbor Advertisement can move the client's
	// entry: the client sends nothing meanwhile.
	l.waitFor(time.Second, "client follows b (unsolicited NA)", func() bool {
		return bytes.Equal(l.host("c").neighbour(vrrpVIP6), macB)
	})
	l.ping(vrrpVIP6)
}

func TestVRRPVirtualMAC(t *testing.T) {
	l := vrrpPair(t, 1)
	cfg := func(name string, prio uint8) vrrp.InstanceConfig {
		c := vrrpConfig(name, prio)
		c.VirtualMAC = true
		return c
	}
	a := l.start(l.newNode("a", cfg("a", 200)))
	l.start(l.newNode("b", cfg("b", 100)))
	vmac := vrrp.VirtualMAC(51, true)
	l.onlyHolder("a", vrrpVIP, 3*time.Second)
	l.ping(vrrpVIP)
	if got := l.host("c").neighbour(vrrpVIP); !bytes.Equal(got, vmac) {
		an := l.host("a").name
		t.Fatalf("client resolves the VIP to %v, want the virtual MAC %v\n%s\n%s\n%s", got, vmac,
			l.run(an, "ip", "-d", "link"), l.run(an, "ip", "addr"),
			l.run(an, "sh", "-c", "grep . /proc/sys/net/ipv4/conf/*/arp_ignore"))
	}
	// The switch learnt the virtual MAC on a's port: adverts come from it.
	l.waitFor(time.Second, "virtual MAC on a's port", func() bool { return l.fdbPort(vmac) == "a0" })
	l.run(l.sw, "ip", "link", "set", "a0", "down")
	took := l.waitFor(masterDown(100)+400*time.Millisecond, "b holds the VIP", func() bool { return l.host("b").holds(vrrpVIP) })
	t.Logf("virtual MAC takeover: %v", took)
	l.waitFor(time.Second, "virtual MAC on b's port", func() bool { return l.fdbPort(vmac) == "b0" })
	l.ping(vrrpVIP)
	if got := l.host("c").neighbour(vrrpVIP); !bytes.Equal(got, vmac) {
		t.Errorf("client resolves the VIP to %v after failover, want the virtual MAC", got)
	}
	// Stopping removes the macvlan.
	if err := a.stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if out := l.run(l.host("a").name, "ip", "-o", "link", "show", "type", "macvlan"); out != "" {
		t.Errorf("macvlan left behind on a: %s", out)
	}
}

// fdbPort returns the bridge port the switch learnt mac on.
func (l *vrrpLab) fdbPort(mac []byte) string {
	out, _ := l.try(l.sw, "bridge", "fdb", "show", "br", "br0")
	for _, line := range bytes.Split([]byte(out), []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) >= 3 && string(f[0]) == vrrpMACString(mac) && string(f[1]) == "dev" {
			return string(f[2])
		}
	}
	return ""
}

func vrrpMACString(mac []byte) string {
	const hex = "0123456789abcdef"
	var b []byte
	for i, x := range mac {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hex[x>>4], hex[x&0xf])
	}
	return string(b)
}

func TestVRRPTrackInterface(t *testing.T) {
	l := vrrpPair(t, 1)
	l.run(l.host("a").name, "ip", "link", "add", "track0", "type", "dummy")
	l.run(l.host("a").name, "ip", "link", "set", "track0", "up")
	cfg := vrrpConfig("a", 200)
	cfg.TrackInterfaces = []vrrp.TrackInterface{{Name: "track0", Weight: -150}}
	a := l.start(l.newNode("a", cfg))
	l.start(l.newNode("b", vrrpConfig("b", 100)))
	l.onlyHolder("a", vrrpVIP, 3*time.Second)
	l.run(l.host("a").name, "ip", "link", "set", "track0", "down")
	took := l.onlyHolder("b", vrrpVIP, masterDown(100)+time.Second)
	t.Logf("b preempted %v after a's tracked interface went down", took)
	if s := a.node.Status(); s.Priority != 50 || s.State != vrrp.Backup {
		t.Errorf("a: %v at priority %d, want BACKUP at 50", s.State, s.Priority)
	}
	l.run(l.host("a").name, "ip", "link", "set", "track0", "up")
	took = l.onlyHolder("a", vrrpVIP, masterDown(200)+time.Second)
	t.Logf("a preempted back %v after its tracked interface came up", took)
}

func TestVRRPGroup(t *testing.T) {
	l := vrrpPair(t, 2)
	pair := func(host string, prio uint8) (*vrrp.Node, *vrrp.Node) {
		front := vrrpConfig(host+"-front", prio)
		gw := vrrpConfig(host+"-gw", prio)
		gw.Interface, gw.VRID = "eth1", 52
		gw.VIPs = []netip.Prefix{netip.MustParsePrefix("198.51.100.100/24")}
		nf, ng := l.newNode(host, front), l.newNode(host, gw)
		if _, err := vrrp.NewGroup("nat", nf, ng); err != nil {
			t.Fatal(err)
		}
		return nf, ng
	}
	af, ag := pair("a", 200)
	bf, bg := pair("b", 100)
	for _, n := range []*vrrp.Node{af, ag, bf, bg} {
		l.start(n)
	}
	l.onlyHolder("a", vrrpVIP, 3*time.Second)
	l.onlyHolder("a", vrrpGW, time.Second)
	// a's inside link fails: its gateway instance faults, the group takes
	// the front instance with it, and b takes both (priority 0 adverts:
	// after Skew_Time, not Master_Down_Interval).
	start := time.Now()
	l.run(l.sw, "ip", "link", "set", "a1", "down")
	l.onlyHolder("b", vrrpVIP, 2*time.Second)
	l.onlyHolder("b", vrrpGW, time.Second)
	t.Logf("group moved to b %v after a's inside link went down", time.Since(start))
	if s := af.Status(); s.State != vrrp.Fault || len(s.Faults) == 0 {
		t.Errorf("a's front instance: %v %q, want FAULT because of the group", s.State, s.Faults)
	}
	if s := bg.Status(); s.State != vrrp.Master {
		t.Errorf("b's gateway instance: %v", s.State)
	}
	start = time.Now()
	l.run(l.sw, "ip", "link", "set", "a1", "up")
	l.onlyHolder("a", vrrpVIP, 3*time.Second)
	l.onlyHolder("a", vrrpGW, time.Second)
	t.Logf("group back on a %v after its link came up", time.Since(start))
	_ = ag
	_ = bf
}
