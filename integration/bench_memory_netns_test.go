//go:build integration && !ipvs

package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/integration/netlab"
)

// memLimit is the director.memory_limit of BenchmarkMemoryBigTable's
// second run: the goal less what the runtime does not count (the
// binary's code and data).
const memLimit = "140MiB"

// BenchmarkMemoryBigTable runs the lvsd daemon with 10,000 service files
// of 10 realservers each, every realserver TCP-checked every second
// (100,000 checks a second asked), and reports its resident memory after
// a warm-up: the mean and the peak (VmHWM) over the measured window,
// beside the goal. The realservers are this process's listeners
// (hcbAcceptor: the 10,000 TCP targets of BenchmarkHealthChecks, each
// checked by 10 services) in a namespace where lvsd runs with its
// in-memory IPVS table (this kernel has no IPVS; that table is a second
// copy of what the kernel would hold, so the figure errs high). The checks
// done a second and lvsd's CPU go in the note: two cores shared with the
// listeners do not keep up with 100,000 connects a second, and a check
// that would start while its last run is under way is skipped, so the
// figure is of a Runner holding every check, not of one at rest.
//
// It runs three times: with lvsd's defaults (its garbage collection
// target, director.DefaultGCPercent: the heap grows by half its live data
// before a collection); with GOGC=100, Go's default, under which the heap
// doubles (what the figure is without lvsd's choice); and with
// director.memory_limit set (memLimit), a soft limit under which the
// collector runs more often. The CPU figure tells what each costs. The
// peer's figure (keepalived, same table) needs IPVS: it is
// BenchmarkIPVSMemoryVsKeepalived's, in the VM.
func BenchmarkMemoryBigTable(b *testing.B) {
	for _, run := range []struct{ name, gogc, limit string }{
		{"defaults", "", ""},
		{"GOGC=100", "100", ""},
		{"memory_limit=" + memLimit, "", memLimit},
	} {
		b.Run(run.name, func(b *testing.B) { benchMemory(b, run.gogc, run.limit) })
	}
}

// benchMemory is BenchmarkMemoryBigTable with GOGC set to gogc and
// director.memory_limit to limit ("": not set).
func benchMemory(b *testing.B, gogc, limit string) {
	bin := lvsdBinary(b)
	l := netlab.ForTest(b)
	hcbRaiseNofile(b, hcbTCPs+1024)
	ns := hcbNamespace(l)
	acc := kahListenN(l, ns, hcbTCPs)
	conf := memConfig(l, limit)
	b.Setenv("GODEBUG", "gctrace=1") // lvsd's log then says how much of its heap is live
	setting := fmt.Sprintf("defaults: GOGC %d, lvsd's", director.DefaultGCPercent)
	switch {
	case limit != "":
		setting = "director.memory_limit " + limit
	case gogc != "":
		b.Setenv("GOGC", gogc)
		setting = "GOGC=" + gogc + " (Go's default, not lvsd's)"
	}
	for i := 0; i < b.N; i++ {
		p := l.Start(ns, "lvsd", bin, "run", "--ipvs=memory", "-c", conf)
		start := time.Now()
		// Its log, not its status: a status lists 100,000 realservers, and
		// building it would weigh on the figure.
		if _, ok := netlab.Poll(3*time.Minute, 200*time.Millisecond, func() bool {
			return strings.Contains(l.LogOf("lvsd"), "ipvs table updated")
		}); !ok {
			log := l.LogOf("lvsd")
			b.Fatalf("lvsd with %d services: not applied after 3 minutes\n%s", memServices, log[max(0, len(log)-3000):])
		}
		ready := time.Since(start)
		time.Sleep(memWarm)
		acc0, cpu0, t0 := acc.n.Load(), hcbProcCPU(p.Pid()), time.Now()
		var rss []int64
		for time.Since(t0) < memMeasure {
			time.Sleep(time.Second)
			rss = append(rss, memStatus(p.Pid(), "VmRSS:"))
		}
		secs := time.Since(t0).Seconds()
		done, cpu, hwm := float64(acc.n.Load()-acc0)/secs, hcbProcCPU(p.Pid())-cpu0, memStatus(p.Pid(), "VmHWM:")
		live := memLiveHeap(l.LogOf("lvsd"))
		if err := memCheckApplied(filepath.Join(l.Dir, "lvsd", "ctl.sock")); err != nil {
			b.Error(err)
		}
		if err := p.Stop(30 * time.Second); err != nil {
			b.Error(err)
		}
		var sum int64
		for _, r := range rss {
			sum += r
		}
		mean := float64(sum) / float64(len(rss)) / 1024
		b.ReportMetric(mean, "RSS-MiB")
		b.ReportMetric(float64(hwm)/1024, "HWM-MiB")
		b.ReportMetric(done, "checks/s")
		fmt.Printf("lvsd (%s), %d services x %d realservers checked every 1 s: RSS mean %.0f MiB, peak %.0f MiB, live heap %s after the last GC; "+
			"%.0f checks/s done; CPU %.0f%%; configuration loaded and applied in %v\n", setting, memServices, memReals, mean, float64(hwm)/1024, live,
			done, 100*cpu.Seconds()/secs, ready.Round(100*time.Millisecond))
		benchRow("lvsd resident memory, 10,000 services x 10 realservers TCP-checked every 1 s (namespaces, "+setting+")",
			fmt.Sprintf("%.0f MiB (peak %.0f MiB)", mean, float64(hwm)/1024), fmt.Sprintf("goal <= %d MiB", memGoalMiB),
			fmt.Sprintf("live Go heap %s; 100,000 checks/s asked, %.0f/s done (two shared cores, listeners included), lvsd CPU %.0f%%; in-memory IPVS table",
				live, done, 100*cpu.Seconds()/secs))
	}
}
