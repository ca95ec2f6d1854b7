//go:build integration && !ipvs

package integration

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"

	"github.com/lvsd/lvsd/vrrp"
)

// TestAddressConflictThirdHost: a misconfigured host (b, running no VRRP)
// takes lvsd's VIP and announces it with gratuitous ARP while lvsd (a) is
// master. lvsd reports the conflict (status, Warn log) and does not fight:
// for 3 s it stays master, announces nothing and probes at most once per
// advert interval, and the client stays with the host it last heard.
// When the host lets the address go, lvsd announces again at once and
// the client comes back.
func TestAddressConflictThirdHost(t *testing.T) {
	l := newKadLab(t)
	spec := kadSpec{Version: 3, Advert: 100 * time.Millisecond, VRID: 97, Priority: 150}
	a := l.node("a", "lvsd", spec)
	defer a.stop()
	a.start()
	l.WaitFor(spec.masterDown(150)+3*time.Second, "a holds the VIP", func() bool { return l.holdsNL("a") }, a.log)
	l.answered("a", 2*time.Second)
	time.Sleep(1500 * time.Millisecond) // the takeover's announcements are over
	vip, b := netip.MustParseAddr(kadVIP), l.ns["b"]
	aMAC, bMAC := l.MAC(l.ns["a"], "e0").String(), l.MAC(b, "e0").String()

	l.In(b, "ip", "addr", "add", kadVIP+"/24", "dev", "e0")
	l.In(b, "arping", "-U", "-c", "1", "-I", "e0", "-s", kadVIP, kadVIP)
	l.WaitFor(time.Second, "a reports the conflict", func() bool {
		c := a.vrrpStatus().Conflict
		return c != nil && c.Addr == vip && c.MAC == bMAC
	}, a.log)
	before := a.vrrpStatus().Counters
	l.answered("b", time.Second) // the client followed b's announcement
	time.Sleep(3 * time.Second)
	st := a.vrrpStatus()
	c := st.Counters
	t.Logf("after 3 s of conflict: conflicts %d, claims %v, probes %d (%d before), announces %d (%d before)",
		c.Conflicts, c.Claims, c.Probes, before.Probes, c.AnnouncesSent, before.AnnouncesSent)
	if st.State != "MASTER" || st.Conflict == nil || c.Conflicts != 1 || c.Transitions != before.Transitions {
		t.Errorf("a: state %s, conflict %+v, %d conflicts, %d transitions (%d before); want MASTER, one conflict, no transition",
			st.State, st.Conflict, c.Conflicts, c.Transitions, before.Transitions)
	}
	if c.AnnouncesSent != before.AnnouncesSent {
		t.Errorf("a announced %d packets while b held the VIP: it fought", c.AnnouncesSent-before.AnnouncesSent)
	}
	if n := c.Probes - before.Probes; n < 20 || n > 32 {
		t.Errorf("a probed %d times in 3 s at 100 ms adverts, want about 30 and at most one per advert", n)
	}
	if who, err := l.ask(100 * time.Millisecond); err != nil || who != "b" {
		t.Errorf("the client reached %q (%v), want b still: nobody fought", who, err)
	}
	if !strings.Contains(a.log(), "address conflict") {
		t.Errorf("a logged no warning about the conflict\n%s", a.log())
	}

	l.In(b, "ip", "addr", "del", kadVIP+"/24", "dev", "e0")
	l.WaitFor(time.Second, "a announces once b let go", func() bool {
		s := a.vrrpStatus()
		return s.Conflict == nil && s.Counters.Heals == 1 && s.Counters.AnnouncesSent > c.AnnouncesSent
	}, a.log)
	l.WaitFor(time.Second, "the client has a's MAC for the VIP", func() bool {
		return l.Neighbour(l.ns["c"], vip).String() == aMAC
	})
	l.answered("a", time.Second)
}

// TestAddressConflictIPv6: the same with an IPv6 VIP, in process: b takes
// the VIP and announces it (an unsolicited Neighbor Advertisement); the master a reports the conflict, probes
// with Neighbor Solicitations from :: that b answers, announces nothing,
// and announces again once b lets the address go, so the client, which
// had followed b, comes back.
func TestAddressConflictIPv6(t *testing.T) {
	l := vrrpPair(t, 1)
	cfg := vrrpConfig("a", 200)
	cfg.VIPs = []netip.Prefix{netip.MustParsePrefix("2001:db8::100/64")}
	a := l.start(l.newNode("a", cfg))
	l.WaitFor(masterDown(200)+3*time.Second, "a holds the VIP", func() bool { return l.host("a").holds(vrrpVIP6) })
	l.ping(vrrpVIP6) // the client has a neighbour entry for the VIP
	time.Sleep(1500 * time.Millisecond)
	b, macA, macB := l.host("b").name, l.host("a").mac(t, "eth0"), l.host("b").mac(t, "eth0")

	// Linux announces an address only after duplicate address detection,
	// which would find a's: the misconfigured host is made by hand.
	l.In(b, "ip", "addr", "add", "2001:db8::100/64", "dev", "eth0", "nodad")
	l.Must(<-l.Go(b, func() error { return conflictNA("eth0", vrrpVIP6, macB) }))
	l.WaitFor(time.Second, "a reports the conflict", func() bool {
		c := a.node.Status().Conflict
		return c.Addr == vrrpVIP6 && c.MAC == macB.String()
	})
	l.WaitFor(time.Second, "the client follows b", func() bool { return l.host("c").neighbour(vrrpVIP6).String() == macB.String() })
	before := a.node.Status().Counters
	time.Sleep(time.Second)
	st := a.node.Status()
	t.Logf("after 1 s of conflict: claims %v, probes %d (%d before)", st.Counters.Claims, st.Counters.Probes, before.Probes)
	if st.State != vrrp.Master || st.Counters.AnnouncesSent != before.AnnouncesSent {
		t.Errorf("a: %v, announced %d packets during the conflict; want MASTER, none", st.State, st.Counters.AnnouncesSent-before.AnnouncesSent)
	}
	// Each probe is answered: the claims grow with the probes.
	if n := st.Counters.Probes - before.Probes; n < 5 || n > 11 || st.Counters.Claims[vrrp.ClaimAnnounce] < before.Claims[vrrp.ClaimAnnounce]+5 {
		t.Errorf("%d probes in 1 s, claims %v (%v before); want about 10, each answered", n, st.Counters.Claims, before.Claims)
	}

	l.In(b, "ip", "addr", "del", "2001:db8::100/64", "dev", "eth0")
	l.WaitFor(time.Second, "a announces once b let go", func() bool {
		s := a.node.Status()
		return s.Counters.Heals == 1 && !s.Conflict.Addr.IsValid() && s.Counters.AnnouncesSent > st.Counters.AnnouncesSent
	})
	l.WaitFor(time.Second, "the client comes back to a", func() bool { return l.host("c").neighbour(vrrpVIP6).String() == macA.String() })
}

// conflictNA sends an unsolicited Neighbor Advertisement for target at mac
// to all nodes on ifname (RFC 4861 §7.2.6), from the calling thread's
// namespace.
func conflictNA(ifname string, target netip.Addr, mac net.HardwareAddr) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	na := &ndp.NeighborAdvertisement{Override: true, TargetAddress: target,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}}}
	dst := netip.IPv6LinkLocalAllNodes()
	icmp, err := ndp.MarshalMessageChecksum(na, target, dst)
	if err != nil {
		return err
	}
	pkt := make([]byte, 40, 40+len(icmp))
	pkt[0] = 6 << 4
	binary.BigEndian.PutUint16(pkt[4:], uint16(len(icmp)))
	pkt[6], pkt[7] = 58, 255
	s16, d16 := target.As16(), dst.As16()
	copy(pkt[8:], s16[:])
	copy(pkt[24:], d16[:])
	pc, err := packet.Listen(ifi, packet.Datagram, 0x86dd, nil)
	if err != nil {
		return err
	}
	defer pc.Close()
	_, err = pc.WriteTo(append(pkt, icmp...), &packet.Addr{HardwareAddr: net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}})
	return err
}
