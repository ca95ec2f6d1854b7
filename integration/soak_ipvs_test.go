//go:build integration && ipvs

package integration

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/integration/netlab"
)

// The soak's VM layer: the full datapath with real IPVS. Two lvsd
// directors with connection sync in front of three echo realservers, in
// direct routing and then in NAT (half the faults each), plus two bulk
// services of 250 realservers each (no check) so that one reload changes
// 500 realservers' weights. A client makes new connections and holds
// long ones through the VIP without pause; the invariants are checked
// continuously (soak_ipvs_watch_test.go) against the kernel's own IPVS
// table, read from /proc/net/ip_vs of each director's namespace.
// `make soak VMFAULTS=N` runs it (16 is the short soak), SEED= replays;
// it is out of make vm while the violations it finds stand.

const (
	vsoakShort  = 16 // 8 in DR, 8 in NAT
	vsoakAdvert = 100 * time.Millisecond
	vsoakBulk   = 250 // realservers of each of the two bulk services
)

// vsoakMDI is the backup's Master_Down_Interval (priority 100):
// 3 × Advertisement_Interval + Skew_Time (RFC 5798 §6.1).
var vsoakMDI = 3*vsoakAdvert + time.Duration(256-100)*vsoakAdvert/256

// vsoakKinds are the faults of the VM layer: those of the namespace
// layer that touch the datapath, netem (this kernel has sch_netem) and
// a daemon killed in the middle of applying 500 IPVS operations.
var vsoakKinds = []faultKind{
	{Name: "sigkill", Weight: 10, Targets: []string{"a", "b"}, Min: 200 * time.Millisecond, Max: 3 * time.Second, Restarts: true},
	{Name: "sigstop", Weight: 8, Targets: []string{"a", "b"}, Min: 100 * time.Millisecond, Max: 5 * time.Second},
	{Name: "sigterm", Weight: 8, Targets: []string{"a", "b"}, Min: 200 * time.Millisecond, Max: 2 * time.Second, Restarts: true},
	{Name: "link-down", Weight: 8, Targets: []string{"a", "b"}, Min: 200 * time.Millisecond, Max: 3 * time.Second, Params: 3},
	{Name: "link-flap", Weight: 5, Targets: []string{"a", "b"}, Min: time.Second, Max: 3 * time.Second, Params: 60},
	{Name: "partition", Weight: 8, Targets: []string{"a", "b"}, Min: 500 * time.Millisecond, Max: 4 * time.Second, Params: 3},
	{Name: "netem", Weight: 8, Targets: []string{"a", "b", "client"}, Min: time.Second, Max: 5 * time.Second, Params: 3},
	{Name: "realserver-kill", Weight: 8, Targets: []string{"rs1", "rs2", "rs3"}, Min: time.Second, Max: 4 * time.Second},
	{Name: "reload", Weight: 6, Targets: []string{"rs1", "rs2", "rs3"}, Params: 9},
	{Name: "reload-invalid", Weight: 4},
	{Name: "switchover", Weight: 8, Min: time.Second, Max: 3 * time.Second},
	{Name: "drain", Weight: 6, Targets: []string{"rs1", "rs2", "rs3"}, Min: 500 * time.Millisecond, Max: 3 * time.Second},
	{Name: "bulk-kill", Weight: 8, Targets: []string{"a", "b"}, Max: 400 * time.Millisecond, Params: 99, Restarts: true},
}

// vsoak is one pair's lab and what the test knows of it.
type vsoak struct {
	l      *netlab.T
	mode   string
	bin    string
	ns     map[string]string
	cfg    map[string]string
	sock   map[string]string
	reals  map[string]string // rs1.. -> address
	links  []string          // the directors' links: e0, and e1 in NAT
	log    *soakLog
	res    *resources
	stalls *cpuStalls // nil until runVSoak starts the probe

	soakProcs // the lvsd processes (weights: rs1..3 and "bulk"); its mu guards the fields below too
	runs      int
	rsStop    map[string]func()
	rsConns   map[string]map[net.Conn]bool
	rsUpSince map[string]time.Time
	rsDownAt  map[string]time.Time
	applied   []string      // bulk-kill: how much of the 500 the kernel had at the kill
	bulkEst   time.Duration // bulk-kill: from SIGHUP to the 500 operations (bulkKill)
	bulkMid   int           // bulk-kill: kills with some but not all applied
	tracing   bool          // a replay (ONLY=): print the timeline and whole logs

	tlMu     sync.Mutex // trace is called with mu held
	timeline []string   // kept, and printed only if a violation was found
}

// trace records one line of the timeline (faults, health, holders),
// stamped as lvsd stamps its log lines (UTC, ms), so that the two can be
// read side by side: a replay prints it as it goes, a full run when it
// found a violation.
func (s *vsoak) trace(format string, args ...any) {
	line := fmt.Sprintf("%s "+format, append([]any{time.Now().UTC().Format("15:04:05.000")}, args...)...)
	if s.tracing {
		s.l.TB.Log(line)
		return
	}
	s.tlMu.Lock()
	s.timeline = append(s.timeline, line)
	s.tlMu.Unlock()
}

func newVSoak(t *testing.T, mode string, seed uint64) *vsoak {
	s := &vsoak{l: netlab.ForTest(t), mode: mode, bin: lvsdBinary(t), cfg: map[string]string{}, sock: map[string]string{},
		log: newSoakLog(seed), res: newResources(), soakProcs: newSoakProcs(map[string]int{"rs1": 1, "rs2": 2, "rs3": 3, "bulk": 1}),
		rsStop: map[string]func(){}, rsConns: map[string]map[net.Conn]bool{}, rsUpSince: map[string]time.Time{}, rsDownAt: map[string]time.Time{}}
	s.note = s.trace // health changes and signals go on the timeline
	rss := []string{"rs1", "rs2", "rs3"}
	instances := `    - name: front
      interface: e0
      vrid: 54
      priority: %[2]d
      advert_interval: 100ms
      virtual_ips: [192.0.2.10/24]
      handover: {on_stop: true, timeout: 2s}
`
	syncIfc, extra := "e0", ""
	switch mode {
	case "dr":
		s.reals = map[string]string{"rs1": "192.0.2.11", "rs2": "192.0.2.12", "rs3": "192.0.2.13"}
		s.links = []string{"e0"}
		hosts := map[string]string{"client": "192.0.2.100/24", "a": "192.0.2.1/24", "b": "192.0.2.2/24"}
		for _, rs := range rss {
			hosts[rs] = s.reals[rs] + "/24"
		}
		s.ns = s.l.Segment("e0", hosts)
		for _, rs := range rss {
			state := s.l.Dir + "/" + rs + "-realserver.json"
			s.l.In(s.ns[rs], s.bin, "realserver", "up", "--state", state, "--vip", "192.0.2.10", "--interface", "e0")
		}
	case "nat":
		s.reals = map[string]string{"rs1": "198.51.100.11", "rs2": "198.51.100.12", "rs3": "198.51.100.13"}
		s.links = []string{"e0", "e1"}
		s.ns = map[string]string{}
		for _, n := range append([]string{"client", "a", "b"}, rss...) {
			s.ns[n] = s.l.NS(n)
		}
		s.l.Switch("front", "e0", map[string]string{s.ns["client"]: "192.0.2.100/24", s.ns["a"]: "192.0.2.1/24", s.ns["b"]: "192.0.2.2/24"})
		back := map[string]string{s.ns["a"]: "198.51.100.2/24", s.ns["b"]: "198.51.100.3/24"}
		for _, rs := range rss {
			back[s.ns[rs]] = s.reals[rs] + "/24"
		}
		s.l.Switch("back", "e1", back)
		for _, rs := range rss {
			s.l.In(s.ns[rs], "ip", "route", "add", "default", "via", "198.51.100.1")
		}
		instances += `    - name: gateway
      interface: e1
      vrid: 55
      priority: %[2]d
      advert_interval: 100ms
      virtual_ips: [198.51.100.1/24]
      handover: {on_stop: true, timeout: 2s}
  groups:
    - name: nat-path
      instances: [front, gateway]
`
		syncIfc, extra = "e1", "director: {set_sysctls: true}\n"
	default:
		t.Fatalf("mode %q", mode)
	}
	for _, rs := range rss {
		s.l.Must(s.serveReal(rs))
	}
	// vrrp.rt_priority: the VM's one emulated CPU runs both directors,
	// the client, the realservers and the watchers (a status of 500
	// realservers costs most of a second of it), the saturated host
	// docs/config.md prescribes SCHED_RR for, as keepalived's
	// vrrp_rt_priority. Without it, a planned move or a preemption kept
	// two holders 279-289 ms (seed 7, #125, replayed): by their logs,
	// the old master acted on the new master's first advert 110-130 ms
	// after it was sent, and on the end of its one-interval grace 78 ms
	// late; with it, 158-219 ms in the same replay.
	for d, prio := range map[string]int{"a": 150, "b": 100} {
		s.cfg[d] = s.l.Write(d+"/lvsd.yaml", fmt.Sprintf(`node: %[1]s
control: {socket: ctl.sock}
http: {listen: "127.0.0.1:9180"}
sync: {interface: `+syncIfc+`, sync_id: 9}
`+extra+`vrrp:
  rt_priority: 50
  instances:
`+instances, d, prio))
		s.sock[d] = s.l.Dir + "/" + d + "/ctl.sock"
	}
	s.writeServices(false)
	return s
}

// serveReal starts realserver rs's echo service: what it accepts goes
// back, on connections killReal closes.
func (s *vsoak) serveReal(rs string) error {
	stop, err := s.l.Lab.Serve(s.ns[rs], ":7000", func(c net.Conn) {
		s.mu.Lock()
		if s.rsConns[rs] == nil {
			s.rsConns[rs] = map[net.Conn]bool{}
		}
		s.rsConns[rs][c] = true
		s.mu.Unlock()
		_, _ = io.Copy(c, c)
		s.mu.Lock()
		delete(s.rsConns[rs], c)
		s.mu.Unlock()
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.rsStop[rs], s.rsUpSince[rs] = stop, time.Now()
	s.mu.Unlock()
	return nil
}

// killReal stops realserver rs as a killed server process stops: its
// listener and its connections close.
func (s *vsoak) killReal(rs string) {
	s.mu.Lock()
	stop := s.rsStop[rs]
	s.rsUpSince[rs], s.rsDownAt[rs] = time.Time{}, time.Now()
	conns := s.rsConns[rs]
	s.rsConns[rs] = nil
	s.mu.Unlock()
	stop()
	for c := range conns {
		c.Close()
	}
}

// writeServices writes both directors' service files from the weights,
// or a broken echo file.
func (s *vsoak) writeServices(broken bool) {
	s.mu.Lock()
	echo := "name: echo\nvirtual: 192.0.2.10:7000\nforward: " + s.mode + "\nscheduler: wrr\n" +
		"check: {type: tcp, interval: 200ms, timeout: 150ms, rise: 2, fall: 2}\nreals:\n"
	for _, n := range []string{"rs1", "rs2", "rs3"} {
		echo += fmt.Sprintf("  - {address: %s:7000, weight: %d}\n", s.reals[n], s.weights[n])
	}
	bulk := s.weights["bulk"]
	s.mu.Unlock()
	if broken {
		echo = strings.Replace(echo, "weight: ", "weight: ten", 1)
	}
	files := map[string]string{"echo.yaml": echo}
	for i, port := range []int{8000, 8001} {
		var b strings.Builder
		fmt.Fprintf(&b, "name: bulk%d\nvirtual: 192.0.2.10:%d\nforward: %s\nscheduler: rr\ncheck: {type: none}\nreals:\n", i, port, s.mode)
		for j := 1; j <= vsoakBulk; j++ {
			fmt.Fprintf(&b, "  - {address: 203.0.113.%d:%d, weight: %d}\n", j, port, bulk)
		}
		files[fmt.Sprintf("bulk%d.yaml", i)] = b.String()
	}
	for d := range s.cfg {
		for name, body := range files {
			// Write and rename, so that a daemon never reads half a file.
			path := s.l.Write(d+"/services.d/."+name+".tmp", body)
			if err := os.Rename(path, s.l.Dir+"/"+d+"/services.d/"+name); err != nil {
				s.l.TB.Fatal(err)
			}
		}
	}
}

// start runs lvsd on d and waits until it has reconciled once.
func (s *vsoak) start(d string) error {
	s.mu.Lock()
	s.runs++
	name := fmt.Sprintf("lvsd-%s-%d", d, s.runs)
	s.mu.Unlock()
	p, err := s.l.Lab.Start(s.ns[d], name, s.bin, "run", "-c", s.cfg[d])
	if err != nil {
		return err
	}
	if _, ok := netlab.Poll(30*time.Second, 20*time.Millisecond, func() bool {
		st, err := soakStatus(s.sock[d], time.Second)
		return err == nil && st.Generation >= 1 && !st.IPVS.At.IsZero()
	}); !ok {
		p.Kill()
		return fmt.Errorf("lvsd on %s did not reconcile within 30s:\n%s", d, s.l.LogOf(p.Name))
	}
	s.trace("%s: lvsd %s reconciled", d, name)
	s.started(d, p)
	return nil
}

// call sends one control request to d's daemon.
func (s *vsoak) call(d, cmd string, args, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return api.Call(ctx, s.sock[d], cmd, args, out)
}

// TestSoakIPVS runs the VM layer's soak: LVSD_SOAK_SEED and
// LVSD_SOAK_FAULTS (make soak SEED= VMFAULTS=) as in the namespace
// layer, vsoakShort faults by default. The plan's first half runs
// against a DR pair, its second against a NAT pair.
func TestSoakIPVS(t *testing.T) {
	// Out of make vm until the violations it finds are fixed: a 200-fault
	// run (seed 7) found 4, about one in three 16-fault runs would fail.
	if os.Getenv(envSoakFaults) == "" {
		t.Skip("the VM soak runs with make soak VMFAULTS=N (LVSD_SOAK_FAULTS)")
	}
	netlab.NeedIPVS(t)
	seed, n := soakParams(t, vsoakShort)
	plan := makePlan(seed, n, vsoakKinds)
	t.Logf("soak (VM) seed %d, %d faults (replay: make soak SEED=%d VMFAULTS=%d)", seed, n, seed, n)
	half := (n + 1) / 2
	if only := os.Getenv(envSoakOnly); only != "" {
		plan, half = onlyFaults(t, plan, half, only)
	}
	total, violations := 0, 0
	for _, part := range []struct {
		mode string
		plan []fault
	}{{mode: "dr", plan: plan[:half]}, {mode: "nat", plan: plan[half:]}} {
		if len(part.plan) == 0 {
			continue
		}
		t.Run(part.mode, func(t *testing.T) {
			f, v := runVSoak(t, part.mode, seed, part.plan)
			total, violations = total+f, violations+v
		})
	}
	t.Logf("soak (VM) seed %d: %d faults, %d violations", seed, total, violations)
	if violations > 0 {
		t.Errorf("soak (VM) seed %d: replay with make soak SEED=%d VMFAULTS=%d", seed, seed, n)
	}
}

// envSoakOnly (LVSD_SOAK_ONLY=FIRST-LAST) runs only faults FIRST to LAST
// of the plan that SEED and VMFAULTS draw, each in its own half's mode,
// against a fresh pair: a replay of the faults around a violation costs
// a minute of emulation instead of the whole run. The earlier faults'
// effects (a weight, a drain) are not replayed.
const envSoakOnly = "LVSD_SOAK_ONLY"

// onlyFaults keeps the faults of plan numbered within only ("95-98"),
// and returns how many of them are in the first (DR) half.
func onlyFaults(t *testing.T, plan []fault, half int, only string) ([]fault, int) {
	var first, last int
	if _, err := fmt.Sscanf(only, "%d-%d", &first, &last); err != nil || first < 1 || last < first {
		t.Fatalf("%s=%q: want FIRST-LAST, e.g. 95-98", envSoakOnly, only)
	}
	var out []fault
	dr := 0
	for i, f := range plan {
		if f.N >= first && f.N <= last {
			out = append(out, f)
			if i < half {
				dr++
			}
		}
	}
	return out, dr
}

// runVSoak runs plan against a pair in mode; it returns the faults run
// and the violations seen.
func runVSoak(t *testing.T, mode string, seed uint64, plan []fault) (int, int) {
	s := newVSoak(t, mode, seed)
	s.tracing = os.Getenv(envSoakOnly) != ""
	t.Cleanup(func() {
		if t.Failed() && !s.tracing {
			s.tlMu.Lock()
			t.Logf("==== timeline\n%s", strings.Join(s.timeline, "\n"))
			s.tlMu.Unlock()
		}
		if t.Failed() || s.tracing {
			s.mu.Lock()
			runs := s.runs
			s.mu.Unlock()
			for i := 1; i <= runs; i++ {
				for _, d := range []string{"a", "b"} {
					l := s.l.LogOf(fmt.Sprintf("lvsd-%s-%d", d, i))
					switch {
					case l != "" && s.tracing:
						t.Logf("==== lvsd-%s-%d\n%s", d, i, l)
					case l != "":
						t.Logf("==== lvsd-%s-%d (tail)\n%s", d, i, tail(l, 40))
					}
				}
			}
		}
	})
	start := time.Now()
	for _, d := range []string{"a", "b"} {
		s.l.Must(s.start(d))
	}
	if _, ok := netlab.Poll(20*time.Second, 20*time.Millisecond, func() bool { return s.master() == "a" }); !ok {
		t.Fatal("a never became master")
	}
	t.Logf("%s pair up in %v", mode, time.Since(start).Round(time.Millisecond))
	s.stalls = startStallProbe(t, func(sp stallSpan) {
		if d := sp.To.Sub(sp.From); d >= 50*time.Millisecond {
			s.trace("CPU stalled %v from %s", d.Round(time.Millisecond), sp.From.UTC().Format("15:04:05.000"))
		}
	})
	w := s.watch()
	time.Sleep(5 * time.Second) // settle before the first fault
	s.sampleAll()
	runFaults(s, plan, s.res, s.log) // the timeline gets each fault's begin and end
	time.Sleep(5 * time.Second)      // settle: the last fault's effects must heal too
	w.stop()
	s.sampleAll()
	s.checkLeaks()
	s.mu.Lock()
	if len(s.applied) > 0 {
		t.Logf("bulk-kill: the killed daemon's kernel held the new weight on %s of 500 realservers (%d of them in between)", strings.Join(s.applied, ", "), s.bulkMid)
	}
	s.mu.Unlock()
	t.Log(s.stalls.summary(vsoakAdvert))
	v := s.log.report(t, plan)
	if v > 0 {
		t.Errorf("soak (VM, %s) seed %d: violations (see above)", mode, seed)
	}
	return len(plan), v
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// master is the director whose every instance is MASTER, "" when none
// or both.
func (s *vsoak) master() string {
	m := ""
	for _, d := range []string{"a", "b"} {
		if st, err := soakStatus(s.sock[d], time.Second); err == nil && allMaster(st) {
			if m != "" {
				return ""
			}
			m = d
		}
	}
	return m
}

func allMaster(st api.Status) bool {
	for _, v := range st.VRRP {
		if v.State != api.StateMaster {
			return false
		}
	}
	return len(st.VRRP) > 0
}

// resourcesOf names what f touches, so that overlapping faults never
// fight over one thing.
func (s *vsoak) resourcesOf(f fault) []string {
	switch f.Kind {
	case "sigkill", "sigstop", "sigterm":
		return []string{"proc:" + f.Target}
	case "link-down", "link-flap", "partition", "netem":
		return []string{"link:" + f.Target}
	case "realserver-kill":
		return []string{"rs:" + f.Target}
	default: // the control socket of both, and the files
		return []string{"proc:a", "proc:b", "config"}
	}
}

// TestSoakPlanKeepsEachDirectorAliveForHalf: see checkPlanHalves.
func TestSoakPlanKeepsEachDirectorAliveForHalf(t *testing.T) { checkPlanHalves(t, vsoakKinds) }
