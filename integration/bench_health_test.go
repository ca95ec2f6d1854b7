//go:build integration && !ipvs

package integration

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/netlab"
)

// BenchmarkHealthChecks checks 10,000 TCP and 1,000 HTTP realservers
// every second with the healthcheck Runner, as in the "Health checks"
// issue, and runs a minimal C connect-and-close loop (healthcheck/cfloor)
// against the same TCP listeners at the same rate as the floor.
//
// The listeners live in a namespace of their own, served by this process.
// The checker is a child process (this test binary again, in the same
// namespace), so its CPU, read with getrusage(RUSAGE_SELF) over the
// measured window, holds none of the listeners' work: only the accept and
// close calls are theirs; the kernel's TCP work of both ends, done in
// softirq on the sending CPU, falls to whoever sends, the checker or the
// C loop alike. The TCP runs and the C floor alternate, three times, so
// that load from elsewhere on the machine (shown as "other") weighs on
// both alike.
// Run it alone: go test -tags integration -run '^$' -bench HealthChecks
// -benchtime 1x ./integration/ (root; no IPVS needed).
func BenchmarkHealthChecks(b *testing.B) {
	l := netlab.ForTest(b)
	hcbRaiseNofile(b, 16384)
	ns := hcbNamespace(l)
	hcbListen(l, ns)
	floor, err := hcbBuildFloor(l.Dir)
	if err != nil {
		b.Logf("no C floor: %v", err)
	}
	var runs, lvsd, c []hcbResult
	for round := range 3 {
		if hcbWant("tcp") {
			r := hcbRun(l, ns, hcbPhase{Name: fmt.Sprint("lvsd tcp #", round+1), TCP: hcbTCPs, Warm: 2 * time.Second, Measure: 8 * time.Second})
			runs, lvsd = append(runs, r), append(lvsd, r)
		}
		if hcbWant("floor") && floor != "" {
			r := hcbFloor(l, ns, floor, fmt.Sprint("C floor #", round+1), true, false)
			runs, c = append(runs, r), append(c, r)
		}
	}
	if hcbWant("floor") && floor != "" {
		runs = append(runs, hcbFloor(l, ns, floor, "C loop, targets in order", true, true))
		runs = append(runs, hcbFloor(l, ns, floor, "C loop, plain close (FIN)", false, false))
	}
	if hcbWant("http") {
		runs = append(runs, hcbRun(l, ns, hcbPhase{Name: "lvsd http", HTTP: hcbHTTPs, Warm: 2 * time.Second, Measure: 8 * time.Second}))
	}
	if hcbWant("both") {
		runs = append(runs, hcbRun(l, ns, hcbPhase{Name: "lvsd tcp + http", TCP: hcbTCPs, HTTP: hcbHTTPs, Warm: 3 * time.Second, Measure: 12 * time.Second}))
	}
	fmt.Print(hcbTable(runs, lvsd, c)) // not b.Log: a benchmark's log is cut after a few lines
	hcbRows(runs, lvsd, c)
	if us := hcbPerCheck(lvsd...); us > 0 {
		b.ReportMetric(us, "µs/tcp-check")
		if f := hcbPerCheck(c...); f > 0 {
			b.ReportMetric(f, "µs/floor-connect")
			b.ReportMetric(us/f, "ratio")
		}
	}
}

// hcbWant reports whether LVSD_HCB_ONLY (a comma-separated list of tcp,
// floor, http and both; empty: all) asks for a phase.
func hcbWant(phase string) bool {
	only := os.Getenv("LVSD_HCB_ONLY")
	return only == "" || slices.Contains(strings.Split(only, ","), phase)
}

// hcbTable renders the runs as markdown, then the verdict: lvsd's TCP
// runs against the C floor's.
func hcbTable(runs, lvsd, c []hcbResult) string {
	var t strings.Builder
	t.WriteString("\n| run | checks/s asked / done | failed | skipped | CPU µs/check | latency p50 / p99 | RSS (peak), Go heap | listeners, other CPU |\n")
	t.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		lat, rss := "–", "–"
		if r.P99 > 0 {
			lat = fmt.Sprintf("%v / %v", r.P50, r.P99)
		}
		if r.RSS > 0 {
			rss = fmt.Sprintf("%.1f MiB (%.1f), heap %.1f", float64(r.RSS)/1024, float64(r.HWM)/1024, float64(r.Heap)/1024)
		}
		other := r.Machine - r.CPU - r.Listeners
		done := fmt.Sprintf("%.0f", float64(r.Done)/r.Seconds)
		if r.HTTPDone > 0 && r.HTTPDone < r.Done {
			done += fmt.Sprintf(" (tcp %.0f, http %.0f)", float64(r.Done-r.HTTPDone)/r.Seconds, float64(r.HTTPDone)/r.Seconds)
		}
		fmt.Fprintf(&t, "| %s | %d / %s | %d | %d | %.1f | %s | %s | %.0f%%, %.0f%% of a core |\n",
			r.Name, r.Asked, done, r.Failed, r.Skipped, hcbPerCheck(r), lat, rss,
			100*r.Listeners.Seconds()/r.Seconds, 100*max(other, 0).Seconds()/r.Seconds)
	}
	if us, f := hcbPerCheck(lvsd...), hcbPerCheck(c...); us > 0 && f > 0 {
		fmt.Fprintf(&t, "\nlvsd TCP %.1f µs/check, C floor %.1f µs/connect: ratio %.2f (target ≤ 1.5)\n", us, f, us/f)
	}
	for _, r := range runs {
		if len(r.FirstErrors) > 0 {
			fmt.Fprintf(&t, "%s: first failures %q\n", r.Name, r.FirstErrors)
		}
	}
	return t.String()
}

// hcbRows adds the benchmark's headline figures to make bench's table.
func hcbRows(runs, lvsd, c []hcbResult) {
	if us, f := hcbPerCheck(lvsd...), hcbPerCheck(c...); us > 0 && f > 0 {
		benchRow("TCP health check CPU, 10,000 realservers every 1 s", fmt.Sprintf("%.1f µs/check", us),
			fmt.Sprintf("C connect loop %.1f µs/connect", f), fmt.Sprintf("ratio %.2f (target <= 1.5)", us/f))
	}
	for _, r := range runs {
		if !strings.HasPrefix(r.Name, "lvsd") || r.Seconds == 0 {
			continue
		}
		benchRow("health checks: "+r.Name, fmt.Sprintf("%.0f/s done of %d asked, %.1f µs/check", float64(r.Done)/r.Seconds, r.Asked, hcbPerCheck(r)),
			"", fmt.Sprintf("p50 %v, p99 %v, RSS %.1f MiB, %d failed, %d skipped", r.P50, r.P99, float64(r.RSS)/1024, r.Failed, r.Skipped))
	}
}
