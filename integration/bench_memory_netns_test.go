//go:build integration && !ipvs

package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/integration/netlab"
)

// The table of BenchmarkMemoryBigTable: memServices services of
// memReals realservers each, every one TCP-checked every second.
const (
	memServices = 10000
	memReals    = 10
	memWarm     = 10 * time.Second
	memMeasure  = 10 * time.Second
	memGoalMiB  = 150
	// memLimit is the director.memory_limit of the second run: the goal
	// less what the runtime does not count (the binary's code and data).
	memLimit = "140MiB"
)

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
// It runs twice: with lvsd's defaults (the heap grows to about twice its
// live data before a collection), and with director.memory_limit set
// (memLimit), a soft limit under which the collector runs more often: the
// CPU figure tells what that costs.
func BenchmarkMemoryBigTable(b *testing.B) {
	for _, limit := range []string{"", memLimit} {
		name := "defaults"
		if limit != "" {
			name = "memory_limit=" + limit
		}
		b.Run(name, func(b *testing.B) { benchMemory(b, limit) })
	}
}

// benchMemory is BenchmarkMemoryBigTable with director.memory_limit set to
// limit ("": not set).
func benchMemory(b *testing.B, limit string) {
	bin := lvsdBinary(b)
	l := netlab.ForTest(b)
	hcbRaiseNofile(b, hcbTCPs+1024)
	ns := hcbNamespace(l)
	acc := kahListenN(l, ns, hcbTCPs)
	conf := memConfig(l, limit)
	b.Setenv("GODEBUG", "gctrace=1") // lvsd's log then says how much of its heap is live
	setting := "defaults"
	if limit != "" {
		setting = "director.memory_limit " + limit
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

// kahListenN is kahListen for the first n TCP targets.
func kahListenN(l *netlab.T, ns string, n int) *hcbAcceptor {
	var a *hcbAcceptor
	if err := <-l.Go(ns, func() (err error) { a, err = hcbNewAcceptor(n); return err }); err != nil {
		l.TB.Fatalf("listen in %s: %v", ns, err)
	}
	l.TB.Cleanup(a.close)
	return a
}

// memConfig writes lvsd's main file, with director.memory_limit set to
// limit unless it is "", and one file per service: service i has VIP
// 192.0.2.(1+i%250) port 1000+i/250 and the realservers
// hcbTargetAddr(10i..10i+9) modulo the 10,000 targets, so that each
// target is checked by memReals*memServices/hcbTCPs services.
func memConfig(l *netlab.T, limit string) string {
	main := "node: mem\ncontrol: {socket: ctl.sock}\nhttp: {listen: \"\"}\n"
	if limit != "" {
		main += "director: {memory_limit: " + limit + "}\n"
	}
	conf := l.Write("lvsd/lvsd.yaml", main)
	l.Mkdir("lvsd/services.d")
	for i := range memServices {
		var f strings.Builder
		fmt.Fprintf(&f, "name: s%d\nvirtual: 192.0.2.%d:%d\nforward: nat\ncheck: {type: tcp, interval: 1s, timeout: 1s}\nreals:\n",
			i, 1+i%250, 1000+i/250)
		for r := range memReals {
			fmt.Fprintf(&f, "  - address: %v\n", hcbTargetAddr(false, (i*memReals+r)%hcbTCPs))
		}
		l.Write(fmt.Sprintf("lvsd/services.d/s%05d.yaml", i), f.String())
	}
	return conf
}

// memCheckApplied asks the lvsd on sock, once the figures are taken,
// whether its table holds every service.
func memCheckApplied(sock string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var s api.Status
	if err := api.Call(ctx, sock, "status", nil, &s); err != nil {
		return fmt.Errorf("lvsd status: %w", err)
	}
	if len(s.IPVS.Services) != memServices || s.Reals != memServices*memReals {
		return fmt.Errorf("lvsd holds %d services of %d realservers, want %d of %d", len(s.IPVS.Services), s.Reals, memServices, memServices*memReals)
	}
	return nil
}

// memLiveHeap is the live heap after the last garbage collection that
// log (GODEBUG=gctrace=1) reports: "gc N @...: ... A->B->C MB, ...", C.
func memLiveHeap(log string) string {
	i := strings.LastIndex(log, " MB, ")
	if i < 0 {
		return "?"
	}
	f := strings.Fields(log[:i])
	if len(f) == 0 {
		return "?"
	}
	parts := strings.Split(f[len(f)-1], "->")
	return parts[len(parts)-1] + " MB"
}

// memStatus reads a field (in KiB) of /proc/PID/status.
func memStatus(pid int, field string) int64 {
	raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}
