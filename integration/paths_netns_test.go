//go:build integration && !ipvs

package integration

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/integration/netlab"
)

// hbPair is the pair of pair_netns_test.go (a priority 150, b 100, 100 ms
// adverts, in-memory IPVS) with, when paths is set, a second heartbeat
// path: a crossover veth hb0 between a and b (198.51.100.0/24), unicast
// on it, while the LAN e0 uses multicast.
type hbPair struct {
	*pair
	paths int // heartbeat paths of each instance, e0 included
}

func newHBPair(tb testing.TB, paths bool) *hbPair {
	p := &pair{l: netlab.ForTest(tb), bin: lvsdBinary(tb), sock: map[string]string{},
		config: map[string]string{}, proc: map[string]*netlab.Proc{}}
	l := p.l
	p.ns = l.Segment("e0", map[string]string{"client": "192.0.2.100/24", "a": "192.0.2.1/24", "b": "192.0.2.2/24"})
	p.client = p.ns["client"]
	hb := map[string]string{"a": "198.51.100.1", "b": "198.51.100.2"}
	if paths {
		l.Link(p.ns["a"], "hb0", hb["a"]+"/24", p.ns["b"], "hb0", hb["b"]+"/24")
	}
	for name, prio := range map[string]int{"a": 150, "b": 100} {
		peer := map[string]string{"a": "b", "b": "a"}[name]
		extra := ""
		if paths {
			extra = fmt.Sprintf("      paths:\n        - interface: hb0\n          unicast: {source: %s, peers: [%s]}\n", hb[name], hb[peer])
		}
		l.Echo(p.ns[name], ":7000")
		p.config[name] = l.Write(name+"/lvsd.yaml", fmt.Sprintf(`node: %s
control: {socket: ctl.sock}
http: {listen: ""}
vrrp:
  instances:
    - name: front
      interface: e0
      vrid: 51
      priority: %d
      advert_interval: 100ms
      virtual_ips: [%s/24]
%s`, name, prio, pairVIP, extra))
		l.Write(name+"/services.d/echo.yaml", "name: echo\nvirtual: "+pairVIP+":7000\nforward: dr\ncheck: {type: none}\n"+
			"reals:\n  - address: 192.0.2.11:7000\n")
		p.sock[name] = l.Dir + "/" + name + "/ctl.sock"
	}
	if paths {
		return &hbPair{p, 2}
	}
	return &hbPair{p, 1}
}

// status returns the first instance of name's status.
func (p *hbPair) status(name string) api.Instance {
	p.l.TB.Helper()
	s := waitStatus(p.l.TB, p.sock[name], func(s api.Status) bool { return len(s.VRRP) > 0 })
	return s.VRRP[0]
}

// path returns the status of name's path on ifc.
func (p *hbPair) path(name, ifc string) api.HeartbeatPath {
	p.l.TB.Helper()
	for _, hp := range p.status(name).Paths {
		if hp.Interface == ifc {
			return hp
		}
	}
	p.l.TB.Fatalf("%s has no path %s: %+v", name, ifc, p.status(name).Paths)
	return api.HeartbeatPath{}
}

// holders returns which directors hold the VIP on e0.
func (p *hbPair) holders() []string {
	var out []string
	for _, name := range []string{"a", "b"} {
		if p.l.Lab.HasAddr(p.ns[name], "e0", netip.MustParseAddr(pairVIP)) {
			out = append(out, name)
		}
	}
	return out
}

// steady starts both and waits until a is master, b backup, and b hears
// a on every path.
func (p *hbPair) steady() {
	p.l.TB.Helper()
	p.start("a")
	p.start("b")
	p.waitMaster("a", 10*time.Second)
	p.l.WaitFor(10*time.Second, "b backup hearing a on every path", func() bool {
		in := p.status("b")
		if in.State != api.StateBackup || (p.paths > 1 && len(in.Paths) != p.paths) {
			return false
		}
		for _, hp := range in.Paths {
			if hp.LastAdvert.IsZero() || time.Since(hp.LastAdvert) > 300*time.Millisecond {
				return false
			}
		}
		return true
	})
}

// hold watches the pair for d while one path is cut: it fails on a
// second holder of the VIP, on a's or b's state changing, or on any
// transition counted meanwhile.
func (p *hbPair) hold(what string, d time.Duration) {
	p.l.TB.Helper()
	before := map[string]uint64{"a": p.status("a").Counters.Transitions, "b": p.status("b").Counters.Transitions}
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if h := p.holders(); len(h) != 1 || h[0] != "a" {
			p.l.TB.Errorf("%s: VIP held by %v, want a alone", what, h)
			break
		}
		if sa, sb := p.state("a"), p.state("b"); sa != "MASTER" || sb != "BACKUP" {
			p.l.TB.Errorf("%s: a %s, b %s, want MASTER and BACKUP\n%s", what, sa, sb, p.logs())
			break
		}
	}
	for name, n := range before {
		if got := p.status(name).Counters.Transitions; got != n {
			p.l.TB.Errorf("%s: %s made %d transitions", what, name, got-n)
		}
	}
}

// TestPathsOneLinkFailsNoFailover: with a second heartbeat path, losing
// VRRP on the LAN alone, or on the crossover alone, changes nothing (no
// transition, one holder) and b reports the silent path; losing both is
// a dead master and b takes over as without paths; a's LAN link going
// down makes a send priority 0 over the crossover, so b takes over after
// Skew_Time instead of Master_Down_Interval (RFC 5798 §6.4.2), measured.
func TestPathsOneLinkFailsNoFailover(t *testing.T) {
	p := newHBPair(t, true)
	p.steady()
	b := p.ns["b"]
	for _, ifc := range []string{"e0", "hb0"} {
		warned := strings.Count(p.logs(), "heartbeat path silent")
		p.l.DropVRRPOn(b, ifc)
		p.hold("VRRP dropped on "+ifc, 2*time.Second)
		if hp := p.path("b", ifc); !hp.Silent || hp.Silences == 0 {
			t.Errorf("b's path %s with VRRP dropped on it: %+v, want silent and counted", ifc, hp)
		}
		if n := strings.Count(p.logs(), "heartbeat path silent") - warned; n != 1 {
			t.Errorf("%d warnings for the silent path %s, want one", n, ifc)
		}
		p.l.AllowVRRPOn(b, ifc)
		p.l.WaitFor(5*time.Second, ifc+" heard again", func() bool { return !p.path("b", ifc).Silent })
	}
	// Both paths cut: a dead master as far as b can tell.
	p.l.DropVRRP(b)
	p.waitMaster("b", 5*time.Second)
	p.l.AllowVRRP(b)
	p.waitMaster("a", 5*time.Second) // a outranks b and preempts
	p.l.WaitFor(5*time.Second, "b back to backup", func() bool { return p.state("b") == "BACKUP" })

	took, why := linkDownTakeover(t, p.pair)
	fmt.Printf("heartbeat paths: a's LAN link down, b master after %v (%s)\n", took.Round(time.Millisecond), why)
	if !strings.Contains(why, "priority 0") {
		t.Errorf("b took over because %q, want a's priority-0 advert over hb0\n%s", why, p.logs())
	}
	if h := p.holders(); len(h) != 1 || h[0] != "b" {
		t.Errorf("VIP held by %v after a's LAN went down, want b alone", h)
	}
}

// linkDownTakeover takes a's e0 down and returns how long b took to
// become master, by b's own transition time, and why.
func linkDownTakeover(tb testing.TB, p *pair) (time.Duration, string) {
	tb.Helper()
	down := time.Now()
	p.l.SetLink(p.ns["a"], "e0", false)
	p.waitMaster("b", 5*time.Second)
	var s api.Status
	s = waitStatus(tb, p.sock["b"], func(s api.Status) bool {
		tr := s.VRRP[0].Transitions
		return len(tr) > 0 && tr[len(tr)-1].To == api.StateMaster
	})
	tr := s.VRRP[0].Transitions
	last := tr[len(tr)-1]
	if last.At.Before(down) {
		tb.Fatalf("b's last transition %v is before the link went down", last)
	}
	return last.At.Sub(down), last.Reason
}
