//go:build integration

package integration

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/director/config"
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
	needIPVSB(b)
	const nServices, nReals = 10000, 10
	services := bigTable(nServices, nReals)
	script := restoreScript(services)
	for i := 0; i < b.N; i++ {
		var lvsd, restore, change time.Duration
		var changeOps int
		inNetnsB(b, func() error {
			k, err := director.OpenKernel(false)
			if err != nil {
				return err
			}
			d := director.New(k, director.Options{Interval: time.Hour})
			start := time.Now()
			ops, _, err := d.Reconcile(services, director.AllUp)
			lvsd = time.Since(start)
			if err != nil || len(ops) != nServices*(1+nReals) {
				return fmt.Errorf("cold apply: %d ops, err %v", len(ops), err)
			}
			services[nServices/2].Reals[3].Weight = 5
			start = time.Now()
			ops, _, err = d.Reconcile(services, director.AllUp)
			change, changeOps = time.Since(start), len(ops)
			services[nServices/2].Reals[3].Weight = 1
			return err
		})
		inNetnsB(b, func() error {
			cmd := exec.Command("ipvsadm-restore")
			cmd.Stdin = strings.NewReader(script)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			restore = time.Since(start)
			if err != nil {
				return fmt.Errorf("ipvsadm-restore: %v %s", err, out)
			}
			return nil
		})
		b.ReportMetric(lvsd.Seconds(), "lvsd-s")
		b.ReportMetric(restore.Seconds(), "ipvsadm-restore-s")
		b.ReportMetric(lvsd.Seconds()/restore.Seconds(), "ratio")
		b.ReportMetric(float64(changeOps), "change-ops")
		b.ReportMetric(change.Seconds(), "change-s")
		fmt.Printf("cold apply of %d services x %d reals: lvsd %.2fs, ipvsadm-restore %.2fs (ratio %.2f); "+
			"one realserver change: %d op, reconcile %.2fs\n",
			nServices, nReals, lvsd.Seconds(), restore.Seconds(), lvsd.Seconds()/restore.Seconds(), changeOps, change.Seconds())
	}
}
