//go:build integration && !ipvs

package integration

import (
	"net/netip"
	"strings"
	"testing"
	"time"
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
