//go:build integration && ipvs

package integration

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/ipvs"
	"github.com/lvsd/lvsd/integration/netlab"
)

// bigTable returns n NAT services of reals realservers each, on
// documentation addresses (VIPs differ by address and port).
func bigTable(n, reals int) []config.Service {
	out := make([]config.Service, n)
	for i := range out {
		vip := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i%250)}), uint16(1000+i/250))
		s := config.Service{Name: fmt.Sprint("s", i), Virtual: vip, Protocol: "tcp", Scheduler: "wlc", Forward: config.NAT}
		for r := 0; r < reals; r++ {
			s.Reals = append(s.Reals, config.Real{
				Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + r)}), 8080), Weight: 1, Forward: config.NAT,
			})
		}
		out[i] = s
	}
	return out
}

// restoreScript is the same table as ipvsadm-restore input.
func restoreScript(services []config.Service) string {
	var b strings.Builder
	for _, s := range services {
		fmt.Fprintf(&b, "-A -t %v -s %s\n", s.Virtual, s.Scheduler)
		for _, r := range s.Reals {
			fmt.Fprintf(&b, "-a -t %v -r %v -m -w %d\n", s.Virtual, r.Addr, r.Weight)
		}
	}
	return b.String()
}

// BenchmarkIPVSColdApply programs 10,000 services x 10 realservers
// through lvsd's director, and the same table with ipvsadm-restore in
// another fresh namespace of the same VM, and reports both times, their
// ratio, and what a one-realserver change then costs.
func BenchmarkIPVSColdApply(b *testing.B) {
	netlab.NeedIPVS(b)
	l := netlab.ForTest(b)
	const nServices, nReals = 10000, 10
	services := bigTable(nServices, nReals)
	script := restoreScript(services)
	for i := 0; i < b.N; i++ {
		var lvsd, restore, change time.Duration
		var changeOps int
		l.InFresh(func() error {
			k, err := ipvs.OpenKernel(false)
			if err != nil {
				return err
			}
			d := ipvs.New(k, ipvs.Options{Interval: time.Hour})
			start := time.Now()
			ops, _, err := d.Reconcile(services, ipvs.AllUp)
			lvsd = time.Since(start)
			if err != nil || len(ops) != nServices*(1+nReals) {
				return fmt.Errorf("cold apply: %d ops, err %v", len(ops), err)
			}
			services[nServices/2].Reals[3].Weight = 5
			start = time.Now()
			ops, _, err = d.Reconcile(services, ipvs.AllUp)
			change, changeOps = time.Since(start), len(ops)
			services[nServices/2].Reals[3].Weight = 1
			if err != nil {
				return err
			}
			return ipvsadmCounts("lvsd", nServices, nServices*nReals)
		})
		l.InFresh(func() error {
			cmd := exec.Command("ipvsadm-restore")
			cmd.Stdin = strings.NewReader(script)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			restore = time.Since(start)
			if err != nil {
				return fmt.Errorf("ipvsadm-restore: %v %s", err, out)
			}
			return ipvsadmCounts("ipvsadm-restore", nServices, nServices*nReals)
		})
		b.ReportMetric(lvsd.Seconds(), "lvsd-s")
		b.ReportMetric(restore.Seconds(), "ipvsadm-restore-s")
		b.ReportMetric(lvsd.Seconds()/restore.Seconds(), "ratio")
		b.ReportMetric(float64(changeOps), "change-ops")
		b.ReportMetric(change.Seconds(), "change-s")
		fmt.Printf("cold apply of %d services x %d reals: lvsd %.2fs, ipvsadm-restore %.2fs (ratio %.2f); "+
			"one realserver change: %d op, reconcile %.2fs\n",
			nServices, nReals, lvsd.Seconds(), restore.Seconds(), lvsd.Seconds()/restore.Seconds(), changeOps, change.Seconds())
		benchRow("IPVS cold apply, 10,000 services x 10 reals (VM)", fmt.Sprintf("%.1f s", lvsd.Seconds()),
			fmt.Sprintf("ipvsadm-restore %.1f s", restore.Seconds()),
			fmt.Sprintf("ratio %.2f (goal <= 0.5); pipelined, 256 operations per datagram; both tables counted by ipvsadm -Ln", lvsd.Seconds()/restore.Seconds()))
		benchRow("IPVS one realserver change at 10,000 services (VM)", fmt.Sprintf("%d op, %.2f s", changeOps, change.Seconds()), "", "")
	}
}

// ipvsadmCounts checks, through ipvsadm, that the namespace's kernel
// holds the services and destinations an apply made: a fast figure for
// work not done would be no figure.
func ipvsadmCounts(who string, services, dests int) error {
	out, err := exec.Command("ipvsadm", "-Ln").CombinedOutput()
	if err != nil {
		return fmt.Errorf("ipvsadm -Ln after %s: %v", who, err)
	}
	s, d := 0, 0
	for _, line := range strings.Split(string(out), "\n") {
		switch f := strings.Fields(line); {
		case len(f) > 0 && f[0] == "TCP":
			s++
		case len(f) > 1 && f[0] == "->" && f[1] != "RemoteAddress:Port":
			d++
		}
	}
	if s != services || d != dests {
		return fmt.Errorf("after %s the kernel holds %d services and %d destinations, want %d and %d", who, s, d, services, dests)
	}
	return nil
}

// BenchmarkIPVSUpdateDest times one destination weight change through
// the director's kernel adapter (libipvs over generic netlink): the
// floor of a health decision's way into the kernel.
func BenchmarkIPVSUpdateDest(b *testing.B) {
	netlab.NeedIPVS(b)
	services := bigTable(1, 2)
	netlab.ForTest(b).InFresh(func() error {
		k, err := ipvs.OpenKernel(false)
		if err != nil {
			return err
		}
		if _, err := ipvs.Apply(k, ipvs.Diff(ipvs.Want(services, ipvs.AllUp), ipvs.Table{}, func(ipvs.ServiceKey) bool { return true })); err != nil {
			return err
		}
		op := ipvs.Op{Kind: ipvs.UpdateDest, Key: ipvs.KeyOf(services[0]), Addr: services[0].Reals[0].Addr,
			Dest: ipvs.Dest{Forward: config.NAT}}
		// A fixed sample, whatever b.N (make bench runs with -benchtime 1x).
		const n = 1000
		start := time.Now()
		for i := 0; i < n; i++ {
			op.Dest.Weight = 1 + i%2
			if err := k.Apply(op); err != nil {
				return err
			}
		}
		per := time.Since(start) / n
		b.ReportMetric(float64(per.Microseconds()), "us/op")
		benchRow("one IPVS operation through libipvs (VM)", per.Round(time.Microsecond).String(), "", fmt.Sprintf("mean of %d weight changes", n))
		return nil
	})
}

// BenchmarkIPVSDecisionToKernel measures the director's side of a health
// decision on a quiet VM: from Changed (what the health runner's callback
// calls) to the kernel holding the change, over many alternating
// realserver up/down decisions, with 100 services of 10 realservers in
// the table. It reports p50 and p99.
func BenchmarkIPVSDecisionToKernel(b *testing.B) {
	netlab.NeedIPVS(b)
	services := bigTable(100, 10)
	// Every service of bigTable has the same realservers: the decision is
	// about one realserver of one service.
	name, target := services[50].Name, services[50].Reals[3].Addr
	netlab.ForTest(b).InFresh(func() error {
		k, err := ipvs.OpenKernel(false)
		if err != nil {
			return err
		}
		d := ipvs.New(k, ipvs.Options{Interval: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var state atomic.Bool // is the target up?
		state.Store(true)
		d.Update(services, func(s string, a netip.AddrPort) ipvs.RealState {
			return ipvs.RealState{Up: state.Load() || s != name || a != target}
		})
		go d.Run(ctx)
		for end := time.Now().Add(30 * time.Second); d.Last().Services != len(services); time.Sleep(time.Millisecond) {
			if time.Now().After(end) {
				return fmt.Errorf("initial apply: %+v", d.Last())
			}
		}
		var lat []time.Duration
		for i := 0; i < 400; i++ { // a fixed sample, whatever b.N
			up := i%2 == 1
			state.Store(up)
			d.Changed(name) // what the daemon's health callback does
			for end := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Microsecond) {
				if r := d.Last(); len(r.Ops) == 1 && r.Latency > 0 && r.Ops[0].Addr == target && (r.Ops[0].Kind == ipvs.AddDest) == up {
					lat = append(lat, r.Latency)
					break
				}
				if time.Now().After(end) {
					return fmt.Errorf("decision %d never reached the kernel: %+v", i, d.Last())
				}
			}
		}
		slices.Sort(lat)
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		b.ReportMetric(float64(p50.Microseconds()), "p50-us")
		b.ReportMetric(float64(p99.Microseconds()), "p99-us")
		fmt.Printf("decision to kernel over %d decisions (100 services x 10 reals): p50 %v, p99 %v\n", len(lat), p50, p99)
		{
			benchRow("health decision to kernel, p50 / p99 (VM)", fmt.Sprintf("%v / %v", p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond)),
				"", fmt.Sprintf("%d decisions, 100 services x 10 reals", len(lat)))
		}
		return nil
	})
}
