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

// memReady bounds how long either daemon may take, in the VM, to load the
// 10,000 services and put their 100,000 destinations in the kernel.
const memReady = 10 * time.Minute

// BenchmarkIPVSMemoryVsKeepalived is BenchmarkMemoryBigTable's table
// (10,000 services of 10 realservers, each TCP-checked every second) run
// by lvsd and then by keepalived (--check, the same virtual_server and
// real_server blocks with TCP_CHECK and delay_loop 1), both programming
// the VM's real IPVS, against the same listeners (this process's
// hcbAcceptor in a namespace). It reports each one's resident memory over
// the same warm-up and window: the mean of the summed VmRSS of its
// processes (lvsd: one; keepalived: its parent, which keeps the parsed
// configuration too, and its checker child), and the sum of their VmHWM.
//
// Both run on one emulated CPU, far short of 100,000 checks a second: the
// figures are of daemons holding every check of the table, each as busy
// as the CPU lets it be; the checks done go in the note.
func BenchmarkIPVSMemoryVsKeepalived(b *testing.B) {
	netlab.NeedIPVS(b)
	bin, err := exec.LookPath("keepalived")
	if err != nil {
		if bin = "/usr/sbin/keepalived"; !kahExists(bin) {
			b.Fatal("keepalived not installed")
		}
	}
	lvsd := lvsdBinary(b)
	l := netlab.ForTest(b)
	hcbRaiseNofile(b, hcbTCPs+1024)
	ns := hcbNamespace(l)
	acc := kahListenN(l, ns, hcbTCPs)
	for i := 0; i < b.N; i++ {
		lv := memLvsdKernel(l, ns, lvsd, acc)
		l.In(ns, "ipvsadm", "-C") // lvsd keeps its services at exit (director.on_stop: keep)
		ka := memKeepalived(l, ns, bin, acc)
		fmt.Printf("in the VM (real IPVS), %d services x %d realservers TCP-checked every 1 s: lvsd RSS %s, %.0f checks/s done, %d destinations; "+
			"keepalived (parent and checker) RSS %s, %.0f checks/s done, %d destinations\n",
			memServices, memReals, lv.RSS.MiB(), lv.Done, lv.Dests, ka.RSS.MiB(), ka.Done, ka.Dests)
		b.ReportMetric(lv.RSS.Mean/1024, "lvsd-RSS-MiB")
		b.ReportMetric(ka.RSS.Mean/1024, "keepalived-RSS-MiB")
		benchRow("resident memory, 10,000 services x 10 realservers TCP-checked every 1 s (VM, real IPVS): lvsd vs keepalived",
			lv.RSS.MiB(), "keepalived "+ka.RSS.MiB(),
			fmt.Sprintf("both with defaults (lvsd's GOGC 50); keepalived = parent + checker child (peak: sum of each one's); "+
				"one emulated CPU: %.0f vs %.0f checks/s done of 100,000 asked; %d vs %d destinations up after the window",
				lv.Done, ka.Done, lv.Dests, ka.Dests))
	}
}

// memLvsdKernel runs lvsd on memConfig's table with the kernel's IPVS,
// measures it once the table is applied and warm, and stops it; it
// returns its memory and the checks done a second in the window.
func memLvsdKernel(l *netlab.T, ns, bin string, acc *hcbAcceptor) memRun {
	b := l.TB
	conf := memConfig(l, "")
	p := l.Start(ns, "lvsd", bin, "run", "-c", conf)
	if _, ok := netlab.Poll(memReady, time.Second, func() bool {
		return strings.Contains(l.LogOf("lvsd"), "ipvs table updated")
	}); !ok {
		log := l.LogOf("lvsd")
		b.Fatalf("lvsd with %d services: not applied after %v\n%s", memServices, memReady, log[max(0, len(log)-3000):])
	}
	time.Sleep(memWarm)
	acc0, t0 := acc.n.Load(), time.Now()
	m := memWatch(memMeasure, p.Pid())
	done := float64(acc.n.Load()-acc0) / time.Since(t0).Seconds()
	// The kernel's table, not lvsd's status: on one emulated CPU busy
	// with 100,000 checks a second, a status of 100,000 realservers takes
	// longer than the control socket waits.
	dests := memDests(l, ns) // those down (a check failing fall times) are out
	if err := p.Stop(3 * time.Minute); err != nil {
		b.Logf("lvsd stop: %v", err) // not this benchmark's figure; the table is cleared next
	}
	return memRun{m, done, dests}
}

// memRun is what one daemon did: its memory, the checks done a second
// in the window and the IPVS destinations after it.
type memRun struct {
	RSS   memRSS
	Done  float64
	Dests int
}

// memKeepalived runs keepalived's checker on memKeepalivedConfig's table,
// measures it (parent and checker child) once every destination is in the
// kernel and after the same warm-up, and stops it.
func memKeepalived(l *netlab.T, ns, bin string, acc *hcbAcceptor) memRun {
	b, dir := l.TB, l.Dir
	conf := l.Write("keepalived-mem.conf", memKeepalivedConfig())
	pidFile, chkPid := filepath.Join(dir, "keepalived-mem.pid"), filepath.Join(dir, "checkers-mem.pid")
	proc := l.StartGroup(ns, "keepalived-mem", bin, "-f", conf, "--dont-fork", "--log-console", "--check", "--no-syslog",
		"-p", pidFile, "-c", chkPid, "-r", filepath.Join(dir, "vrrp-mem.pid"), "-b", filepath.Join(dir, "bfd-mem.pid"))
	checker := 0
	b.Cleanup(func() {
		_ = proc.Stop(10 * time.Second)
		if checker > 0 && kahAlive(checker) {
			_ = syscall.Kill(checker, syscall.SIGKILL)
		}
	})
	tail := func() string {
		raw := l.LogOf("keepalived-mem")
		return raw[max(0, len(raw)-3000):]
	}
	if _, ok := netlab.Poll(memReady, 5*time.Second, func() bool {
		if raw, err := os.ReadFile(chkPid); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && n > 0 && kahAlive(n) {
				checker = n
			}
		}
		return checker > 0 && memDests(l, ns) >= memServices*memReals
	}); !ok {
		b.Fatalf("keepalived: %d of %d destinations in the kernel after %v (checker pid %d)\n%s",
			memDests(l, ns), memServices*memReals, memReady, checker, tail())
	}
	time.Sleep(memWarm)
	acc0, t0 := acc.n.Load(), time.Now()
	m := memWatch(memMeasure, proc.Pid(), checker)
	done := float64(acc.n.Load()-acc0) / time.Since(t0).Seconds()
	select {
	case <-proc.Exited():
		b.Fatalf("keepalived exited during the window: %v\n%s", proc.Wait(), tail())
	default:
	}
	dests := memDests(l, ns)
	if err := proc.Stop(3 * time.Minute); err != nil {
		b.Logf("keepalived stop: %v", err)
	}
	return memRun{m, done, dests}
}

// memDests counts the IPVS destinations in ns, from /proc/net/ip_vs as
// seen there (ipvsadm would format 100,000 lines the same way, slower).
func memDests(l *netlab.T, ns string) int {
	out, err := l.Try(ns, "cat", "/proc/net/ip_vs")
	if err != nil {
		return 0
	}
	return strings.Count(out, "  -> ") - strings.Count(out, "  -> RemoteAddress") // less the header
}
