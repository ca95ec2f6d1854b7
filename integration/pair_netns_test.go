//go:build integration && !ipvs

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/netlab"
)

// pair is two lvsd directors (a, b) and a client on one segment, each
// director answering TCP on port 7000 at whatever addresses it holds.
// lvsd runs with --ipvs=memory: VRRP is real, IPVS is the in-memory table,
// so this runs on kernels without IPVS.
type pair struct {
	l                *netlab.T
	bin              string
	client           string
	ns, sock, config map[string]string
	proc             map[string]*netlab.Proc
}

const pairVIP = "192.0.2.10"

func newPair(t *testing.T) *pair {
	p := &pair{l: netlab.ForTest(t), bin: lvsdBinary(t), sock: map[string]string{},
		config: map[string]string{}, proc: map[string]*netlab.Proc{}}
	l := p.l
	p.ns = l.Segment("e0", map[string]string{"client": "192.0.2.100/24", "a": "192.0.2.1/24", "b": "192.0.2.2/24"})
	p.client = p.ns["client"]
	for name, prio := range map[string]int{"a": 150, "b": 100} {
		l.Echo(p.ns[name], ":7000")
		hook := l.Write(name+"/notify.sh", "#!/bin/sh\necho \"$LVSD_NODE $*\" >> "+l.Dir+"/"+name+"/notified\n")
		if err := os.Chmod(hook, 0o755); err != nil {
			t.Fatal(err)
		}
		p.config[name] = l.Write(name+"/lvsd.yaml", fmt.Sprintf(`node: %s
control: {socket: ctl.sock}
http: {listen: ""}
notify: {command: [%s], timeout: 2s}
vrrp:
  instances:
    - name: front
      interface: e0
      vrid: 51
      priority: %d
      advert_interval: 100ms
      virtual_ips: [%s/24]
      handover: {on_stop: true, timeout: 2s}
`, name, hook, prio, pairVIP))
		l.Write(name+"/services.d/echo.yaml", "name: echo\nvirtual: "+pairVIP+":7000\nforward: dr\ncheck: {type: none}\n"+
			"reals:\n  - address: 192.0.2.11:7000\n")
		p.sock[name] = l.Dir + "/" + name + "/ctl.sock"
	}
	return p
}

func (p *pair) start(name string) {
	p.l.TB.Helper()
	p.proc[name] = p.l.Start(p.ns[name], "lvsd-"+name+fmt.Sprint(time.Now().UnixNano()), p.bin, "run", "--ipvs=memory", "-c", p.config[name])
	waitUp(p.l.TB, p.sock[name])
}

// state returns the VRRP state lvsd reports for its instance.
func (p *pair) state(name string) string { return lvsdState(p.sock[name]) }

// waitMaster waits (bounded) until name reports MASTER and returns how long it took.
func (p *pair) waitMaster(name string, limit time.Duration) time.Duration {
	p.l.TB.Helper()
	start := time.Now()
	for time.Since(start) < limit {
		if p.state(name) == "MASTER" {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.l.TB.Fatalf("%s not master after %v (a %s, b %s)\n%s", name, limit, p.state("a"), p.state("b"), p.logs())
	return 0
}

func (p *pair) logs() string {
	var b strings.Builder
	entries, _ := os.ReadDir(p.l.Dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "lvsd-") {
			fmt.Fprintf(&b, "== %s\n%s", e.Name(), p.l.LogOf(strings.TrimSuffix(e.Name(), ".log")))
		}
	}
	return b.String()
}

// ctl runs an lvsd command against name's daemon.
func (p *pair) ctl(name string, args ...string) string {
	p.l.TB.Helper()
	out, err := exec.Command(p.bin, append(args, "-c", p.config[name])...).CombinedOutput()
	if err != nil {
		p.l.TB.Fatalf("lvsd %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// tcpProbe connects to the VIP from the client every 10 ms, exchanging a
// line each time, and records the failures with their times.
type tcpProbe struct {
	mu       sync.Mutex
	ok       int
	failures []time.Time
}

func (p *pair) probe(stop <-chan struct{}) (*tcpProbe, <-chan error) {
	pr := &tcpProbe{}
	done := p.l.Go(p.client, func() error {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return nil
			case <-tick.C:
			}
			err := echoOnce(pairVIP + ":7000")
			pr.mu.Lock()
			if err != nil {
				pr.failures = append(pr.failures, time.Now())
			} else {
				pr.ok++
			}
			pr.mu.Unlock()
		}
	})
	return pr, done
}

// echoOnce is one echo over a new connection, answered within 200 ms.
func echoOnce(addr string) error { return echoWithin(addr, 200*time.Millisecond) }

// outage is the span from the first to the last failed probe (0 if none).
func (pr *tcpProbe) outage() (int, time.Duration) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if len(pr.failures) == 0 {
		return 0, 0
	}
	return len(pr.failures), pr.failures[len(pr.failures)-1].Sub(pr.failures[0]) + 10*time.Millisecond
}

// TestPairSwitchoverAndStop: two lvsd processes elect a master; a planned
// switchover and a SIGTERM (handover on stop) move the VIP without a
// single failed client probe; SIGKILL of the master moves it within
// Master_Down_Interval (about 361 ms at 100 ms adverts, priority 100).
func TestPairSwitchoverAndStop(t *testing.T) {
	p := newPair(t)
	p.start("a")
	p.start("b")
	p.waitMaster("a", 5*time.Second)

	run := func(what string, act func(), newMaster string) (int, time.Duration) {
		stop := make(chan struct{})
		pr, done := p.probe(stop)
		time.Sleep(300 * time.Millisecond)
		act()
		p.waitMaster(newMaster, 5*time.Second)
		time.Sleep(300 * time.Millisecond)
		close(stop)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		n, span := pr.outage()
		t.Logf("%s: %d probes ok, %d failed, outage %v", what, pr.ok, n, span)
		return n, span
	}

	if n, _ := run("lvsd switchover a->b", func() { t.Log(strings.TrimSpace(p.ctl("a", "switchover"))) }, "b"); n != 0 {
		t.Errorf("switchover lost %d probes\n%s", n, p.logs())
	}
	// The notify hooks heard every transition, with state and priority.
	for name, want := range map[string][]string{
		"a": {"a vrrp front BACKUP 150", "a vrrp front MASTER 150", "a vrrp front RESIGNING 150", "a vrrp front BACKUP "},
		"b": {"b vrrp front BACKUP 100", "b vrrp front MASTER 100"},
	} {
		got, _ := os.ReadFile(p.l.Dir + "/" + name + "/notified")
		for _, w := range want {
			if !strings.Contains(string(got), w) {
				t.Errorf("%s's notify hook lacks %q:\n%s", name, w, got)
			}
		}
	}
	if st := p.state("a"); st != "BACKUP" {
		t.Errorf("a is %s after handing over, want BACKUP (priority 1 holds it there)", st)
	}
	// Restore a's priority; with preempt it takes the VIPs back.
	p.ctl("a", "switchover", "--restore")
	p.waitMaster("a", 5*time.Second)

	// lvsd drill does both, probing the VIP from the client's namespace.
	out, err := p.l.Try(p.client, p.bin, "drill", "-c", p.config["a"], "--probe", pairVIP+":7000", "--settle", "500ms")
	t.Logf("lvsd drill:\n%s", out)
	if err != nil || !strings.Contains(out, "probe 192.0.2.10:7000, handover: 0 of ") ||
		!strings.Contains(out, "take back: master again") {
		t.Errorf("lvsd drill: %v", err)
	}
	p.waitMaster("a", 5*time.Second)

	if n, _ := run("SIGTERM of the master (handover on stop)", func() { _ = p.proc["a"].Signal(syscall.SIGTERM) }, "b"); n != 0 {
		t.Errorf("graceful stop lost %d probes\n%s", n, p.logs())
	}
	p.start("a")
	p.waitMaster("a", 5*time.Second) // preempts back

	// The master machine dies: lvsd is killed and its link goes with it
	// (a killed lvsd alone leaves its VIP configured and answering).
	n, span := run("master dies (SIGKILL + link down)", func() {
		p.proc["a"].Kill()
		p.l.In(p.ns["a"], "ip", "link", "set", "e0", "down")
	}, "b")
	if n == 0 || span > time.Second {
		t.Errorf("outage after the master died: %d probes over %v, want about Master_Down_Interval (361 ms)", n, span)
	}
}
