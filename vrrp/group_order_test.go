package vrrp

import (
	"net/netip"
	"slices"
	"testing"
)

// newSharedLogRig is newGroupRig with one operation log for both members,
// so that the order of their announces shows.
func newSharedLogRig(t *testing.T) (*groupRig, *opLog) {
	r := &groupRig{t: t, clk: &fakeClock{now: t0}}
	log := &opLog{clock: r.clk}
	r.logA, r.logB = log, log
	mk := func(name, ifname string, vrid uint8, vip netip.Prefix) *Node {
		cfg := nodeConfig()
		cfg.Name, cfg.Interface, cfg.VRID, cfg.VIPs = name, ifname, vrid, []netip.Prefix{vip}
		n, err := NewNode(cfg, Deps{Conn: newFakeConn(log, nodeSelf), Addrs: newFakeAddrs(log),
			Announcer: fakeAnnouncer{log}, Clock: r.clk})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	r.a = mk("front", "eth0", 1, vip1)
	r.b = mk("gateway", "eth1", 2, netip.MustParsePrefix("198.51.100.1/24"))
	if _, err := NewGroup("nat", r.a, r.b); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*Node{r.a, r.b} {
		if err := n.setup(); err != nil {
			t.Fatal(err)
		}
		n.started.Store(true)
		n.begin()
	}
	r.deliver()
	log.take()
	return r, log
}

// announces returns the announce operations of ops, in order.
func announces(ops []string) []string {
	return slices.DeleteFunc(slices.Clone(ops), func(op string) bool { return len(op) < 9 || op[:9] != "announce " })
}

// TestGroupFrontAnnouncesAfterGateway: a member set to announce last (a
// NAT pair's front, SetAnnounceLast) announces only after the rest of its
// group has, whichever member took its VIPs first; without it, the member
// that completes the group announces first. Seen in the VM NAT end-to-end
// test: the front announced 23 ms before the gateway, clients reached the
// new master, and realservers sent their SYN-ACKs to the old master.
func TestGroupFrontAnnouncesAfterGateway(t *testing.T) {
	gatewayThenFront := []string{"announce 198.51.100.1", "announce 192.0.2.100"}
	for _, tc := range []struct {
		name      string
		last      bool
		firstTime func(r *groupRig) *Node // whose timer fires first
		want      []string
	}{
		{"gateway takes first, front last", true, func(r *groupRig) *Node { return r.b }, gatewayThenFront},
		{"front takes first, front last", true, func(r *groupRig) *Node { return r.a }, gatewayThenFront},
		// The order before SetAnnounceLast: the member completing the group
		// announces at once, the other when its mail arrives.
		{"gateway takes first, no order", false, func(r *groupRig) *Node { return r.b },
			[]string{"announce 192.0.2.100", "announce 198.51.100.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, log := newSharedLogRig(t)
			r.a.SetAnnounceLast(tc.last)
			r.clk.set(t0.Add(mdi100))
			tc.firstTime(r).onTimer()
			r.deliver()
			if a, b := r.states(); a != Master || b != Master {
				t.Fatalf("states %v %v, want both MASTER", a, b)
			}
			if got := announces(log.take()); !slices.Equal(got, tc.want) {
				t.Errorf("announces %q, want %q", got, tc.want)
			}
		})
	}

	// The gateway took its VIPs first and waits for the group, but its
	// loop never gets to announce (its mail is not delivered): the front
	// follows, holds its VIPs, and announces at the group's bound all the
	// same, never later.
	r, log := newSharedLogRig(t)
	r.a.SetAnnounceLast(true)
	r.clk.set(t0.Add(mdi100))
	r.b.onTimer()
	<-r.a.mbox.signal
	r.a.onMailbox() // the front follows the gateway's lead
	if a, b := r.states(); a != Master || b != Master {
		t.Fatalf("states %v %v, want both MASTER", a, b)
	}
	if got := announces(log.take()); len(got) != 0 {
		t.Fatalf("announced %q before the gateway's loop ran", got)
	}
	if d := r.a.nextDeadline(); !d.Equal(t0.Add(mdi100 + groupAnnounce)) {
		t.Fatalf("front's next deadline %v, want the group's bound %v", d.Sub(t0), mdi100+groupAnnounce)
	}
	r.clk.set(t0.Add(mdi100 + groupAnnounce))
	r.a.onTimer()
	if got := announces(log.take()); !slices.Equal(got, []string{"announce 192.0.2.100"}) {
		t.Errorf("at the bound: announces %q, want the front's", got)
	}
}
