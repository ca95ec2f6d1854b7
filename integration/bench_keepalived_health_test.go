//go:build integration && ipvs

package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/netlab"
)

// The realservers of BenchmarkIPVSHealthVsKeepalived: the first kahReals
// TCP targets of BenchmarkHealthChecks (hcbTargetAddr), 198.51.100.1-2 x
// ports 10000-10099, grouped by address into kahServices NAT virtual
// services of keepalived (100 real_server each).
//
// Why 200: the VM has one emulated CPU (qemu/TCG, every figure several
// times native), and there a TCP check costs keepalived about 1 ms of CPU
// and lvsd's Runner (with its fixed per-second costs) more. Measured in
// the VM: at 1,000 realservers keepalived managed 664 checks/s and lvsd
// 419/s (5,687 runs skipped), at 500 they did 395/s and 338/s with the
// machine 80-98% busy; either way the figures are of a saturated machine,
// not of a checker's cost. At 200 both do every check asked with the
// machine below 80% busy, so CPU per check compares like with like.
const (
	kahReals      = 200
	kahServices   = 2
	kahPerService = kahReals / kahServices
	kahWarm       = 3 * time.Second
	kahMeasure    = 10 * time.Second
	kahVIP        = "192.0.2.1" // keepalived's virtual services: ports kahVPort0..+kahServices-1
	kahVPort0     = 80
)

// kahRun is what one implementation did over its measured window.
type kahRun struct {
	Name     string
	Asked    int
	Seconds  float64
	Accepted int64         // connections accepted at the listeners in the window
	Results  int64         // results the checker itself counted (lvsd only)
	Failed   int64         // (lvsd only)
	CPU      time.Duration // of the checker process
	PerCheck float64       // µs of checker CPU per check
	Note     string
}

// BenchmarkIPVSHealthVsKeepalived checks kahReals TCP realservers every
// second, first with keepalived's checker (TCP_CHECK, delay_loop 1,
// programming IPVS for kahServices NAT virtual services), then with
// lvsd's healthcheck Runner, and reports both checkers' CPU per check.
//
// The listeners live in a namespace served by this process (one epoll
// acceptor that counts what it accepts). keepalived runs in that
// namespace (--check only, no VRRP), its VIP on lo; its checker child's
// CPU is utime+stime from /proc/PID/stat over the window. lvsd's Runner
// is a child process exactly as in BenchmarkHealthChecks (hcbRun), CPU by
// getrusage over its own window. Needs IPVS: run it in the VM.
func BenchmarkIPVSHealthVsKeepalived(b *testing.B) {
	netlab.NeedIPVS(b)
	bin, err := exec.LookPath("keepalived")
	if err != nil {
		if bin, err = "/usr/sbin/keepalived", nil; !kahExists(bin) {
			b.Fatal("keepalived not installed")
		}
	}
	l := netlab.ForTest(b)
	hcbRaiseNofile(b, 2*kahReals+256)
	ns := hcbNamespace(l)
	l.In(ns, "ip", "addr", "add", kahVIP+"/32", "dev", "lo")
	acc := kahListen(l, ns)

	ka := kahKeepalived(l, ns, bin, acc)
	lv := kahLvsd(l, ns, acc)

	fmt.Print(kahTable(ka, lv))
	if ka.PerCheck > 0 && lv.PerCheck > 0 {
		ratio := lv.PerCheck / ka.PerCheck
		benchRow(fmt.Sprintf("TCP health check CPU in the VM: lvsd vs keepalived TCP_CHECK (%d realservers every 1 s)", kahReals),
			fmt.Sprintf("%.1f µs/check", lv.PerCheck),
			fmt.Sprintf("keepalived TCP_CHECK %.1f µs/check", ka.PerCheck),
			fmt.Sprintf("ratio %.2f (lvsd/keepalived); done %.0f/s vs %.0f/s; TCG, ~4x native", ratio,
				float64(lv.Accepted)/lv.Seconds, float64(ka.Accepted)/ka.Seconds))
		b.ReportMetric(lv.PerCheck, "lvsd-µs/check")
		b.ReportMetric(ka.PerCheck, "keepalived-µs/check")
		b.ReportMetric(ratio, "ratio")
	}
}

func kahExists(p string) bool { _, err := os.Stat(p); return err == nil }

// kahTable renders the two runs as markdown.
func kahTable(runs ...kahRun) string {
	var t strings.Builder
	fmt.Fprintf(&t, "\n%d TCP realservers, one check each per second, %.0f s window after %.0f s warm-up (qemu/TCG: ~4x native)\n\n",
		kahReals, kahMeasure.Seconds(), kahWarm.Seconds())
	t.WriteString("| implementation | checks/s asked | checks/s done | CPU µs/check | note |\n|---|---|---|---|---|\n")
	for _, r := range runs {
		if r.Seconds == 0 {
			continue
		}
		fmt.Fprintf(&t, "| %s | %d | %.0f | %.1f | %s |\n", r.Name, r.Asked, float64(r.Accepted)/r.Seconds, r.PerCheck, r.Note)
	}
	return t.String()
}

// kahKeepalived runs keepalived's checker on the realservers and
// measures it; keepalived is stopped before it returns (and at cleanup,
// should the benchmark fail first).
func kahKeepalived(l *netlab.T, ns, bin string, acc *hcbAcceptor) kahRun {
	b, dir := l.TB, l.Dir
	conf := l.Write("keepalived.conf", kahConfig())
	pid, chkPid := filepath.Join(dir, "keepalived.pid"), filepath.Join(dir, "checkers.pid")
	// A group of its own: Kill (and the lab's Close) reach the checker
	// child too.
	proc := l.StartGroup(ns, "keepalived", bin, "-f", conf, "--dont-fork", "--log-console", "--check", "--no-syslog",
		"-p", pid, "-c", chkPid, "-r", filepath.Join(dir, "vrrp.pid"), "-b", filepath.Join(dir, "bfd.pid"))
	checker := 0
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = proc.Stop(10 * time.Second) // keepalived's parent stops its checker child
		if checker > 0 && kahAlive(checker) {
			_ = syscall.Kill(checker, syscall.SIGKILL)
		}
	}
	b.Cleanup(stop)
	tail := func() string {
		raw := l.LogOf("keepalived")
		if len(raw) > 3000 {
			raw = raw[len(raw)-3000:]
		}
		return raw
	}

	// The checker child's pid file, then checks arriving at the listeners.
	for end := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if raw, err := os.ReadFile(chkPid); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && n > 0 && kahAlive(n) {
				checker = n
				break
			}
		}
		select {
		case <-proc.Exited():
			b.Fatalf("keepalived exited: %v\n%s", proc.Wait(), tail())
		default:
		}
		if time.Now().After(end) {
			b.Fatalf("keepalived: no checker process after 60 s\n%s", tail())
		}
	}
	a0 := acc.n.Load()
	for end := time.Now().Add(30 * time.Second); acc.n.Load()-a0 < kahReals/2; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			b.Fatalf("keepalived: %d checks reached the listeners in 30 s\n%s", acc.n.Load()-a0, tail())
		}
	}
	time.Sleep(kahWarm)
	cpu0, parent0, acc0, machine0, start := hcbProcCPU(checker), hcbProcCPU(proc.Pid()), acc.n.Load(), hcbMachine(), time.Now()
	time.Sleep(kahMeasure)
	cpu, parent, accepted, secs := hcbProcCPU(checker)-cpu0, hcbProcCPU(proc.Pid())-parent0, acc.n.Load()-acc0, time.Since(start).Seconds()
	machine := hcbMachine() - machine0
	dests := kahDests(l, ns)
	stop()
	r := kahRun{Name: "keepalived 2.2.7 TCP_CHECK (checker child)", Asked: kahReals, Seconds: secs, Accepted: accepted, CPU: cpu,
		Note: fmt.Sprintf("checker CPU %v, parent %v; machine busy %.0f%%; IPVS dests %s", cpu, parent, 100*machine.Seconds()/secs, dests)}
	if accepted > 0 {
		r.PerCheck = float64(cpu.Microseconds()) / float64(accepted)
	}
	return r
}

// kahLvsd runs lvsd's Runner on the same realservers as a child process
// (hcbRun) and counts what reaches the listeners over a window aligned,
// within the child's start-up, with the child's own.
func kahLvsd(l *netlab.T, ns string, acc *hcbAcceptor) kahRun {
	b := l.TB
	done := make(chan hcbResult, 1)
	start := time.Now()
	go func() {
		// On failure hcbRun's b.Fatalf ends this goroutine: the deferred
		// empty result then fails the benchmark below.
		defer func() {
			select {
			case done <- hcbResult{}:
			default:
			}
		}()
		done <- hcbRun(l, ns, hcbPhase{Name: "kah lvsd", TCP: kahReals, Warm: kahWarm, Measure: kahMeasure})
	}()
	time.Sleep(kahWarm + 300*time.Millisecond - time.Since(start)) // the child's start-up, then its warm-up
	acc0, machine0, t0 := acc.n.Load(), hcbMachine(), time.Now()
	time.Sleep(kahMeasure)
	accepted, machine, secs := acc.n.Load()-acc0, hcbMachine()-machine0, time.Since(t0).Seconds()
	var res hcbResult
	select {
	case res = <-done:
	case <-time.After(60 * time.Second):
		b.Fatal("lvsd checker child: no result after 60 s")
	}
	if res.Seconds == 0 {
		b.Fatal("lvsd checker child failed")
	}
	r := kahRun{Name: "lvsd healthcheck Runner (child process)", Asked: res.Asked, Seconds: secs, Accepted: accepted,
		Results: res.Done, Failed: res.Failed, CPU: res.CPU, PerCheck: hcbPerCheck(res),
		Note: fmt.Sprintf("CPU %v for %.0f results/s, %d failed, %d skipped; p50 %v, p99 %v; RSS %.1f MiB; machine busy %.0f%%",
			res.CPU.Round(time.Millisecond), float64(res.Done)/res.Seconds, res.Failed, res.Skipped, res.P50, res.P99,
			float64(res.RSS)/1024, 100*machine.Seconds()/secs)}
	return r
}

// kahConfig is keepalived's configuration: kahServices NAT virtual
// services on kahVIP, each with kahPerService realservers and a
// TCP_CHECK every second.
func kahConfig() string {
	var c strings.Builder
	c.WriteString("global_defs {\n    router_id kah\n}\n")
	for s := range kahServices {
		fmt.Fprintf(&c, "virtual_server %s %d {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n", kahVIP, kahVPort0+s)
		for i := s * kahPerService; i < (s+1)*kahPerService; i++ {
			t := hcbTargetAddr(false, i)
			fmt.Fprintf(&c, "    real_server %v %d {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n", t.Addr(), t.Port())
		}
		c.WriteString("}\n")
	}
	return c.String()
}

// kahDests counts the IPVS destinations in ns (ipvsadm), for the note.
func kahDests(l *netlab.T, ns string) string {
	out, err := l.Try(ns, "ipvsadm", "-Ln")
	if err != nil {
		return "?"
	}
	return strconv.Itoa(strings.Count(out, "-> 198.51.100."))
}

func kahAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// kahListen opens the kahReals TCP listeners inside ns, served (and
// counted) by an hcbAcceptor until cleanup.
func kahListen(l *netlab.T, ns string) *hcbAcceptor {
	var a *hcbAcceptor
	err := <-l.Go(ns, func() (err error) { a, err = hcbNewAcceptor(kahReals); return err })
	if err != nil {
		l.TB.Fatalf("listen in %s: %v", ns, err)
	}
	l.TB.Cleanup(a.close)
	return a
}
