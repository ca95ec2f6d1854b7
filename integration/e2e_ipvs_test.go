//go:build integration && ipvs

package integration

import (
	"fmt"
	osexec "os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/director/probe"
	"github.com/lvsd/lvsd/integration/netlab"
)

// drPair is two lvsd directors with real IPVS in DR mode in front of two
// echo realservers, with connection sync, on one segment.
type drPair struct {
	*netlab.T
	bin        string
	ns, sock   map[string]string
	proc       map[string]*netlab.Proc
	stopEcho   map[string]func()
	runs       int
	configFile map[string]string
	service    string
}

func newDRPair(t *testing.T) *drPair {
	p := &drPair{T: netlab.ForTest(t), bin: lvsdBinary(t), sock: map[string]string{},
		proc: map[string]*netlab.Proc{}, stopEcho: map[string]func(){}, configFile: map[string]string{}}
	p.ns = p.Segment("e0", map[string]string{"client": "192.0.2.100/24", "a": "192.0.2.1/24", "b": "192.0.2.2/24",
		"rs1": "192.0.2.11/24", "rs2": "192.0.2.12/24"})
	// The realservers are prepared for direct routing the way an
	// operator would: lvsd realserver up (VIP on lo, arp_ignore and
	// arp_announce on all and e0), checked by lvsd realserver check.
	for _, rs := range []string{"rs1", "rs2"} {
		state := p.Dir + "/" + rs + "-realserver.json"
		p.In(p.ns[rs], p.bin, "realserver", "up", "--state", state, "--vip", "192.0.2.10", "--interface", "e0")
		p.In(p.ns[rs], p.bin, "realserver", "check", "--state", state, "--vip", "192.0.2.10", "--interface", "e0")
		p.stopEcho[rs] = p.Echo(p.ns[rs], ":7000")
	}
	p.service = "name: echo\nvirtual: 192.0.2.10:7000\nscheduler: rr\nforward: dr\n" +
		"check: {type: tcp, interval: 200ms, timeout: 150ms, fall: 2, rise: 2}\n" +
		"reals:\n  - address: 192.0.2.11:7000\n    weight: %d\n  - address: 192.0.2.12:7000\n"
	for d, prio := range map[string]int{"a": 150, "b": 100} {
		p.configFile[d] = p.Write(d+"/lvsd.yaml", fmt.Sprintf(`node: %s
control: {socket: ctl.sock}
http: {listen: ""}
sync: {interface: e0, sync_id: 9}
vrrp:
  instances:
    - name: front
      interface: e0
      vrid: 52
      priority: %d
      advert_interval: 100ms
      virtual_ips: [192.0.2.10/24]
      handover: {on_stop: true, timeout: 2s}
`, d, prio))
		p.Write(d+"/services.d/echo.yaml", fmt.Sprintf(p.service, 1))
		p.sock[d] = p.Dir + "/" + d + "/ctl.sock"
	}
	return p
}

func (p *drPair) start(d string) {
	p.TB.Helper()
	p.runs++
	p.proc[d] = p.Start(p.ns[d], fmt.Sprintf("lvsd-%s-%d", d, p.runs), p.bin, "run", "-c", p.configFile[d])
	waitUp(p.TB, p.sock[d])
}

// waitStates waits (at most 10 s) for both directors' states.
func (p *drPair) waitStates(a, b string) time.Duration {
	p.TB.Helper()
	start := time.Now()
	for time.Since(start) < 10*time.Second {
		if lvsdState(p.sock["a"]) == a && lvsdState(p.sock["b"]) == b {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.TB.Fatalf("want a %s, b %s; have a %s, b %s\n%s", a, b, lvsdState(p.sock["a"]), lvsdState(p.sock["b"]), p.LogOf(fmt.Sprintf("lvsd-a-%d", p.runs)))
	return 0
}

func (p *drPair) lvsctl(d string, args ...string) {
	p.TB.Helper()
	if out, err := runLvsd(p.bin, append(args, "-c", p.configFile[d])...); err != nil {
		p.TB.Fatalf("lvsd %v: %v\n%s", args, err, out)
	}
}

// lost checks that no probe failed from `from` on, after waiting settle.
func (p *drPair) lost(t *testing.T, pr *probe.Prober, what string, from time.Time, settle time.Duration, want int) {
	t.Helper()
	time.Sleep(settle)
	failed, total := probe.Failures(pr.Samples(), from)
	t.Logf("%s: %d of %d probes failed", what, failed, total)
	if want >= 0 && failed > want {
		t.Errorf("%s: %d probes failed, want at most %d", what, failed, want)
	}
}

// TestIPVSPairEndToEnd runs a DR pair with real IPVS and sync through
// everything a pair goes through, with a client opening a new connection
// to the VIP every 10 ms (each on its own thread, so a stall cannot hide
// the attempts behind it), and holds each event to the design: nothing
// lost to a reload, a planned switchover, a preempting restart, or after a
// split-brain heal; established connections survive switchovers, the
// master's death and its preempting return.
//
// A connection being opened at the instant the VIP moves (its SYN through
// the old holder, its next packet at the new one) is carried by lvsd's
// handover: the old holder sends its connection table to the new one
// (package connsync) and the new one holds its own TCP stack's resets
// meanwhile (package rstguard), so the client's retransmission, 200 ms or
// more later, goes through. A probe therefore fails only on an error or
// after probeTimeout; slower probes are counted and logged.
func TestIPVSPairEndToEnd(t *testing.T) {
	netlab.NeedIPVS(t)
	p := newDRPair(t)
	t.Cleanup(func() {
		if t.Failed() {
			for i := 1; i <= p.runs; i++ {
				for _, d := range []string{"a", "b"} {
					if l := p.LogOf(fmt.Sprintf("lvsd-%s-%d", d, i)); l != "" {
						t.Logf("==== lvsd-%s-%d\n%s", d, i, l)
					}
				}
			}
			t.Logf("client neighbours: %s", p.In(p.ns["client"], "ip", "neigh"))
		}
	})
	p.start("a")
	p.start("b")
	p.waitStates("MASTER", "BACKUP")
	pr := p.ProbeEach(p.ns["client"], 10*time.Millisecond, 400, func() (string, error) {
		return "", echoWithin("192.0.2.10:7000", probeTimeout)
	})
	t.Cleanup(func() {
		w := probe.Measure(pr.Samples(), time.Time{}, time.Now(), slowProbe)
		t.Logf("probes slower than %v: %d (slowest good one %v)", slowProbe, w.Slow, w.Slowest.Round(time.Millisecond))
	})
	t.Cleanup(func() { _, _ = pr.Stop() })
	time.Sleep(time.Second)
	p.lost(t, pr, "steady state", time.Time{}, 0, 0)

	// A reload with a changed weight, on both directors.
	mark := time.Now()
	for _, d := range []string{"a", "b"} {
		p.Write(d+"/services.d/echo.yaml", fmt.Sprintf(p.service, 3))
		_ = p.proc[d].Signal(syscall.SIGHUP)
	}
	waitStatus(t, p.sock["a"], func(s api.Status) bool { return s.Generation == 2 })
	p.lost(t, pr, "reload during traffic", mark, settle, 0)

	// Planned switchover and back, with an established connection open.
	conn, r := dialEcho(p.T, p.ns["client"], "192.0.2.10:7000")
	defer conn.Close()
	mark = time.Now()
	p.lvsctl("a", "switchover")
	p.waitStates("BACKUP", "MASTER")
	p.lost(t, pr, "lvsd switchover a->b", mark, settle, 0)
	mark = time.Now()
	p.lvsctl("b", "switchover")
	p.waitStates("MASTER", "BACKUP")
	p.lvsctl("a", "switchover", "--restore")
	p.lvsctl("b", "switchover", "--restore")
	p.lost(t, pr, "lvsd switchover b->a and restore", mark, settle, 0)
	if err := roundTrip(conn, r, "after two switchovers"); err != nil {
		t.Errorf("established connection lost in the switchovers: %v", err)
	}

	// Split brain: B hears nothing for 2 s, takes the VIP too; heal.
	p.DropVRRP(p.ns["b"])
	p.waitStates("MASTER", "MASTER")
	time.Sleep(time.Second)
	p.AllowVRRP(p.ns["b"])
	healed := time.Now()
	p.waitStates("MASTER", "BACKUP")
	p.lost(t, pr, "after the split-brain heal", healed.Add(300*time.Millisecond), settle, 0)

	// A dies with an established connection open: B has it from sync.
	conn2, r2 := dialEcho(p.T, p.ns["client"], "192.0.2.10:7000")
	defer conn2.Close()
	if err := roundTrip(conn2, r2, "before the death"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // let sync carry it to B
	_ = p.proc["a"].Signal(syscall.SIGSTOP)
	p.In(p.ns["a"], "ip", "link", "set", "e0", "down")
	died := time.Now()
	p.proc["a"].Kill()
	took := p.waitStates("?", "MASTER")
	if err := roundTrip(conn2, r2, "after the death"); err != nil {
		t.Errorf("established connection lost when the master died: %v", err)
	}
	p.lost(t, pr, fmt.Sprintf("master died (B master %v later)", took.Round(time.Millisecond)), died, settle, -1)

	// A restarts and preempts back.
	p.In(p.ns["a"], "ip", "link", "set", "e0", "up")
	mark = time.Now()
	p.start("a")
	p.waitStates("MASTER", "BACKUP")
	p.lost(t, pr, "A restarted and preempted", mark, settle, 0)
	if err := roundTrip(conn2, r2, "after the preemption"); err != nil {
		t.Errorf("established connection lost when A preempted: %v", err)
	}

	// A realserver dies during a failover: B takes over and drops rs2.
	p.stopEcho["rs2"]()
	_ = p.proc["a"].Signal(syscall.SIGSTOP)
	p.In(p.ns["a"], "ip", "link", "set", "e0", "down")
	p.proc["a"].Kill()
	p.waitStates("?", "MASTER")
	waitStatus(t, p.sock["b"], func(s api.Status) bool {
		return len(s.IPVS.Services) == 1 && len(s.IPVS.Services[0].Reals) == 1
	})
	p.lost(t, pr, "after B took over and dropped the dead realserver", time.Now(), settle, 0)
}

// probeTimeout is when a probe counts as failed: longer than one TCP
// retransmission (data 200 ms, SYN 1 s), shorter than a client gives up.
const probeTimeout = 2 * time.Second

// slowProbe is the latency above which a probe is reported as slow.
const slowProbe = 150 * time.Millisecond

// settle is how long after an event its probes are all in.
const settle = probeTimeout + 500*time.Millisecond

func runLvsd(bin string, args ...string) (string, error) {
	out, err := osexec.Command(bin, args...).CombinedOutput()
	return string(out), err
}
