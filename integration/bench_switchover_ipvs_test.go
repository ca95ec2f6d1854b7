//go:build integration && ipvs

package integration

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/probe"
)

// switchoverMoves is how many planned moves each mode of
// BenchmarkIPVSSwitchover makes (half each way).
const switchoverMoves = 6

// BenchmarkIPVSSwitchover makes planned moves (lvsd switchover, one way
// then back; each leaves the resigning director at priority 1, so the
// next one hands back) of the end-to-end test's pair with real IPVS and sync, in
// NAT (front and gateway VIPs in a group) beside direct routing, with a
// client opening a new connection every 10 ms, and reports per mode the
// requests failed, those that needed a retransmission (slower than
// slowMove) and the slowest good one over all moves.
func BenchmarkIPVSSwitchover(b *testing.B) {
	for range b.N {
		res := map[string]string{}
		for _, mode := range []string{"dr", "nat"} {
			res[mode] = switchoverRun(b, mode)
		}
		benchRow(fmt.Sprintf("planned switchover with real IPVS, NAT, %d moves (VM): failed / retransmitted / slow / slowest", switchoverMoves),
			res["nat"], "DR: "+res["dr"], "a new connection every 10 ms; retransmitted: TCP_INFO of the client; slow: over 300 ms")
	}
}

func switchoverRun(b *testing.B, mode string) string {
	p := newIPVSPair(b, mode)
	p.start("a")
	p.start("b")
	p.waitStates("MASTER", "BACKUP")
	pr := p.ProbeEach(p.ns["client"], 10*time.Millisecond, 400, func() (string, error) {
		return echoRetrans("192.0.2.10:7000", probeTimeout)
	})
	defer func() { _, _ = pr.Stop() }()
	time.Sleep(time.Second)
	var failed, slow, retrans int
	var slowest []time.Duration
	from := "a"
	for range switchoverMoves {
		to := map[string]string{"a": "b", "b": "a"}[from]
		mark := time.Now()
		p.lvsctl(from, "switchover")
		if to == "b" {
			p.waitStates("BACKUP", "MASTER")
		} else {
			p.waitStates("MASTER", "BACKUP")
		}
		time.Sleep(settle)
		samples := pr.Samples()
		w := probe.Measure(samples, mark, time.Now(), slowMove)
		failed, slow = failed+w.Failed, slow+w.Slow
		for _, s := range samples {
			if !s.At.Before(mark) && s.OK && s.Body != "" {
				retrans++
			}
		}
		slowest = append(slowest, w.Slowest)
		from = to
	}
	return fmt.Sprintf("%d / %d / %d / %v", failed, retrans, slow, slices.Max(slowest).Round(time.Millisecond))
}
