//go:build integration && !ipvs

package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// pathsBenchRuns is how many takeovers each variant measures.
const pathsBenchRuns = 7

// BenchmarkPathsLinkDown measures how long backup b takes to become
// master when master a's LAN link (e0) goes down, with and without a
// second heartbeat path (the hbPair of paths_netns_test.go: 100 ms
// adverts, b priority 100). Without it a's priority-0 advert cannot
// leave, so b waits out Master_Down_Interval after a's last advert
// (261-361 ms); with it the advert arrives over hb0 and b waits
// Skew_Time (61 ms, RFC 5798 §6.4.2). The time is from the link change to
// b's own transition time, both on this host's clock. Each run brings
// e0 back and lets a preempt before the next. Run with -benchtime 1x;
// like the other benchmarks it reports and never asserts timings.
func BenchmarkPathsLinkDown(b *testing.B) {
	res := map[bool][]time.Duration{}
	for b.Loop() {
		for _, paths := range []bool{true, false} {
			b.Run(fmt.Sprintf("paths=%v", paths), func(b *testing.B) {
				p := newHBPair(b, paths)
				p.steady()
				for run := range pathsBenchRuns {
					took, why := linkDownTakeover(b, p.pair)
					fmt.Printf("paths=%-5v run %d: b master after %v (%s)\n", paths, run+1, took.Round(time.Millisecond), why)
					res[paths] = append(res[paths], took)
					p.l.SetLink(p.ns["a"], "e0", true)
					p.waitMaster("a", 10*time.Second)
					p.l.WaitFor(10*time.Second, "b backup again", func() bool { return p.state("b") == "BACKUP" })
					time.Sleep(500 * time.Millisecond) // b hears a on every path again
				}
			})
		}
	}
	benchRow("VRRP master's LAN link down: takeover with a second heartbeat path, median (ms)",
		pathsCell(res[true]), "without: "+pathsCell(res[false]),
		"100 ms adverts, b priority 100; from the link change to b's transition; runs in brackets")
}

// pathsCell is the median in ms and the runs, sorted, in brackets.
func pathsCell(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no runs"
	}
	s := slices.Sorted(slices.Values(ds))
	ms := make([]string, len(s))
	for i, d := range s {
		ms[i] = fmt.Sprint(d.Round(time.Millisecond).Milliseconds())
	}
	return fmt.Sprintf("%s [%s]", ms[len(s)/2], strings.Join(ms, " "))
}
