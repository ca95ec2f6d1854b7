//go:build integration && !ipvs

package integration

import (
	"bytes"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/vrrp"
)

// The VRRP tests of this file cover the modes and features beyond the
// basic pair of vrrp_netns_test.go: unicast, IPv6, virtual MAC, tracking
// and groups.

func TestVRRPUnicast(t *testing.T) {
	l := vrrpPair(t, 1)
	ipA, ipB := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	cfgA, cfgB := vrrpConfig("a", 200), vrrpConfig("b", 100)
	cfgA.Unicast = vrrp.Unicast{Source: ipA, Peers: []netip.Addr{ipB}}
	cfgB.Unicast = vrrp.Unicast{Peers: []netip.Addr{ipA}} // source: eth0's primary
	a := l.start(l.newNode("a", cfgA))
	b := l.start(l.newNode("b", cfgB))
	l.elected("a", vrrpVIP)
	// A stranger advertising to a and b is not a peer of theirs.
	cfgC := vrrpConfig("c", 250)
	cfgC.Unicast = vrrp.Unicast{Peers: []netip.Addr{ipA, ipB}}
	l.start(l.newNode("c", cfgC))
	l.WaitFor(2*time.Second, "stranger's adverts dropped", func() bool {
		return a.node.Status().Counters.Drops[vrrp.ReasonNotPeer] > 3 && b.node.Status().Counters.Drops[vrrp.ReasonNotPeer] > 3
	})
	l.stable("a", vrrpVIP, 300*time.Millisecond)
	if s := b.node.Status(); s.Master != ipA || s.Counters.AdvertsReceived < 3 {
		t.Errorf("b follows %v after %d adverts, want %v", s.Master, s.Counters.AdvertsReceived, ipA)
	}
	l.In(l.sw, "ip", "link", "set", "a0", "down")
	took := l.WaitFor(masterDown(100)+400*time.Millisecond, "b holds the VIP", func() bool { return l.host("b").holds(vrrpVIP) })
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
	l.elected("a", vrrpVIP6)
	if s := b.node.Status(); !s.Master.IsLinkLocalUnicast() || s.State != vrrp.Backup {
		t.Errorf("b: %v following %v, want BACKUP following a's link-local address", s.State, s.Master)
	}
	l.ping(vrrpVIP6)
	macA, macB := l.host("a").mac(t, "eth0"), l.host("b").mac(t, "eth0")
	if got := l.host("c").neighbour(vrrpVIP6); !bytes.Equal(got, macA) {
		t.Fatalf("client resolves the VIP to %v, want a's %v", got, macA)
	}
	l.In(l.sw, "ip", "link", "set", "a0", "down")
	took := l.WaitFor(masterDown(100)+400*time.Millisecond, "b holds the VIP", func() bool { return l.host("b").holds(vrrpVIP6) })
	t.Logf("IPv6 takeover: %v", took)
	// Only b's unsolicited Neighbor Advertisement can move the client's
	// entry: the client sends nothing meanwhile.
	l.WaitFor(time.Second, "client follows b (unsolicited NA)", func() bool {
		return bytes.Equal(l.host("c").neighbour(vrrpVIP6), macB)
	})
	l.ping(vrrpVIP6)
}

func TestVRRPVirtualMAC(t *testing.T) {
	for _, vip := range []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24"), netip.MustParsePrefix("2001:db8::100/64")} {
		t.Run(map[bool]string{true: "IPv4", false: "IPv6"}[vip.Addr().Is4()], func(t *testing.T) {
			testVRRPVirtualMAC(t, vip)
		})
	}
}

func testVRRPVirtualMAC(t *testing.T, vip netip.Prefix) {
	l := vrrpPair(t, 1)
	cfg := func(name string, prio uint8) vrrp.InstanceConfig {
		c := vrrpConfig(name, prio)
		c.VirtualMAC, c.VIPs = true, []netip.Prefix{vip}
		return c
	}
	a := l.start(l.newNode("a", cfg("a", 200)))
	l.start(l.newNode("b", cfg("b", 100)))
	vmac, addr := vrrp.VirtualMAC(51, vip.Addr().Is4()), vip.Addr()
	l.elected("a", addr)
	l.ping(addr)
	if got := l.host("c").neighbour(addr); !bytes.Equal(got, vmac) {
		an := l.host("a").name
		t.Fatalf("client resolves the VIP to %v, want the virtual MAC %v\n%s\n%s", got, vmac,
			l.In(an, "ip", "-d", "link"), l.In(an, "ip", "addr"))
	}
	// The switch learnt the virtual MAC on a's port: adverts come from it.
	l.WaitFor(time.Second, "virtual MAC on a's port", func() bool { return l.fdbPort(vmac) == "a0" })
	l.In(l.sw, "ip", "link", "set", "a0", "down")
	took := l.WaitFor(masterDown(100)+400*time.Millisecond, "b holds the VIP", func() bool { return l.host("b").holds(addr) })
	t.Logf("virtual MAC takeover: %v", took)
	l.WaitFor(time.Second, "virtual MAC on b's port", func() bool { return l.fdbPort(vmac) == "b0" })
	l.ping(addr)
	if got := l.host("c").neighbour(addr); !bytes.Equal(got, vmac) {
		t.Errorf("client resolves the VIP to %v after failover, want the virtual MAC", got)
	}
	// Stopping removes the macvlan.
	if err := a.stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if out := l.In(l.host("a").name, "ip", "-o", "link", "show", "type", "macvlan"); out != "" {
		t.Errorf("macvlan left behind on a: %s", out)
	}
}

// fdbPort returns the bridge port the switch learnt mac on.
func (l *vrrpLab) fdbPort(mac net.HardwareAddr) string {
	out, _ := l.Try(l.sw, "bridge", "fdb", "show", "br", "br0")
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == mac.String() && f[1] == "dev" {
			return f[2]
		}
	}
	return ""
}

func TestVRRPTrackInterface(t *testing.T) {
	l := vrrpPair(t, 1)
	// No dummy module here: a veth pair inside a serves as well.
	l.In(l.host("a").name, "ip", "link", "add", "track0", "type", "veth", "peer", "name", "track0p")
	l.In(l.host("a").name, "ip", "link", "set", "track0p", "up")
	l.In(l.host("a").name, "ip", "link", "set", "track0", "up")
	cfg := vrrpConfig("a", 200)
	cfg.TrackInterfaces = []vrrp.TrackInterface{{Name: "track0", Weight: -150}}
	a := l.start(l.newNode("a", cfg))
	l.start(l.newNode("b", vrrpConfig("b", 100)))
	l.elected("a", vrrpVIP)
	l.In(l.host("a").name, "ip", "link", "set", "track0", "down")
	took := l.onlyHolder("b", vrrpVIP, masterDown(100)+time.Second)
	t.Logf("b preempted %v after a's tracked interface went down", took)
	// a steps down when b's first advert reaches it, a moment after b
	// holds the address: wait for that (bounded), then check the priority.
	l.WaitFor(time.Second, "a back to BACKUP", func() bool { return a.node.Status().State == vrrp.Backup })
	if s := a.node.Status(); s.Priority != 50 || s.State != vrrp.Backup {
		t.Errorf("a: %v at priority %d, want BACKUP at 50", s.State, s.Priority)
	}
	l.In(l.host("a").name, "ip", "link", "set", "track0", "up")
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
	nodes := []*vrrp.Node{af, ag, bf, bg}
	for _, n := range nodes {
		l.start(n)
	}
	l.elected("a", vrrpVIP)
	l.onlyHolder("a", vrrpGW, time.Second)
	// a's inside link fails: its gateway instance faults, the group takes
	// the front instance with it, and b takes both (priority 0 adverts:
	// after Skew_Time, not Master_Down_Interval).
	start := time.Now()
	l.In(l.sw, "ip", "link", "set", "a1", "down")
	l.onlyHolder("b", vrrpVIP, 2*time.Second)
	l.onlyHolder("b", vrrpGW, time.Second)
	t.Logf("group moved to b %v after a's inside link went down", time.Since(start))
	if s := af.Status(); s.State != vrrp.Fault || len(s.Faults) == 0 {
		t.Errorf("a's front instance: %v %q, want FAULT because of the group", s.State, s.Faults)
	}
	// The node adds the address before it publishes its status: wait
	// for the status to follow (bounded), rather than read it at once.
	for end := time.Now().Add(time.Second); bg.Status().State != vrrp.Master && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	if s := bg.Status(); s.State != vrrp.Master {
		t.Errorf("b's gateway instance: %v", s.State)
	}
	start = time.Now()
	l.In(l.sw, "ip", "link", "set", "a1", "up")
	l.onlyHolder("a", vrrpVIP, 3*time.Second)
	l.onlyHolder("a", vrrpGW, time.Second)
	t.Logf("group back on a %v after its link came up", time.Since(start))
	l.stable("a", vrrpVIP, 500*time.Millisecond)
	l.stable("a", vrrpGW, 10*time.Millisecond)
	for _, n := range nodes {
		if c := n.Status().Counters; c.AddrErrors+c.SendErrors+c.AnnounceErrors > 0 {
			t.Errorf("%s: errors %+v", n.Status().Name, c)
		}
	}
}

func TestVRRPTrackScript(t *testing.T) {
	l := vrrpPair(t, 1)
	an := l.host("a").name
	l.In(an, "ip", "link", "add", "probe0", "type", "veth", "peer", "name", "probe0p")
	cfg := vrrpConfig("a", 200)
	// The script runs in a's namespace, where probe0 exists.
	cfg.TrackScripts = []vrrp.TrackScript{{Name: "probe", Command: []string{"ip", "link", "show", "dev", "probe0"},
		Interval: 100 * time.Millisecond, Timeout: time.Second, Weight: -150, Fall: 2, Rise: 2}}
	a := l.start(l.newNode("a", cfg))
	l.start(l.newNode("b", vrrpConfig("b", 100)))
	l.elected("a", vrrpVIP)
	l.In(an, "ip", "link", "del", "probe0")
	took := l.onlyHolder("b", vrrpVIP, 2*time.Second)
	t.Logf("b took over %v after a's track script began to fail (fall 2, every 100ms)", took)
	if s := a.node.Status(); s.Priority != 50 {
		t.Errorf("a's priority %d, want 50", s.Priority)
	}
}
