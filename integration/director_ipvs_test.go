//go:build integration && ipvs

package integration

import (
	"fmt"
	"net/netip"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/ipvs"
	"github.com/lvsd/lvsd/integration/netlab"
)

// matrix returns a service for every kernel scheduler in every forwarding
// mode and family, plus fwmark services, persistence, thresholds and
// scheduler flags: the coverage lvsd promises, for the kernel to judge.
func matrix() []config.Service {
	var out []config.Service
	n := 0
	for _, six := range []bool{false, true} {
		for _, fwd := range []config.Forward{config.NAT, config.DR, config.Tunnel} {
			for _, sched := range config.Schedulers {
				n++
				vip := netip.AddrFrom4([4]byte{192, 0, 2, byte(n)})
				r1, r2 := netip.AddrFrom4([4]byte{198, 51, 100, 11}), netip.AddrFrom4([4]byte{198, 51, 100, 12})
				if six {
					vip = netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", n))
					r1, r2 = netip.MustParseAddr("2001:db8:1::11"), netip.MustParseAddr("2001:db8:1::12")
				}
				port := uint16(80)
				rport := port
				if fwd == config.NAT {
					rport = 8080
				}
				s := config.Service{
					Name: fmt.Sprintf("s%d", n), Virtual: netip.AddrPortFrom(vip, port), IPv6: six,
					Protocol: []string{"tcp", "udp", "sctp"}[n%3], Scheduler: sched, Forward: fwd,
					Reals: []config.Real{
						{Addr: netip.AddrPortFrom(r1, rport), Weight: 1 + n%5, Forward: fwd},
						{Addr: netip.AddrPortFrom(r2, rport), Weight: 0, Forward: fwd, UpperThreshold: 100, LowerThreshold: 50},
					},
				}
				switch sched {
				case "sh":
					s.SchedulerFlags = []string{"sh-fallback", "sh-port"}
				case "mh":
					s.SchedulerFlags = []string{"mh-port"}
				}
				if n%4 == 0 {
					s.Persistence = &config.Persistence{Timeout: 600 * time.Second, Netmask: map[bool]int{false: 24, true: 64}[six]}
				}
				out = append(out, s)
			}
		}
		mark := config.Service{Name: fmt.Sprintf("mark%v", six), FWMark: 7, IPv6: six, Scheduler: "rr", Forward: config.DR,
			Persistence: &config.Persistence{Timeout: 30 * time.Second, Netmask: map[bool]int{false: 32, true: 128}[six]}}
		real := netip.MustParseAddrPort("203.0.113.21:0")
		if six {
			real = netip.MustParseAddrPort("[2001:db8:2::21]:0")
		}
		mark.Reals = []config.Real{{Addr: real, Weight: 3, Forward: config.DR}}
		out = append(out, mark)
	}
	return out
}

// TestIPVSDirectorMatrix applies every scheduler x mode x family through
// the director and checks the kernel's table two ways: through lvsd's
// own reader and through ipvsadm, field by field.
func TestIPVSDirectorMatrix(t *testing.T) {
	netlab.NeedIPVS(t)
	services := matrix()
	netlab.ForTest(t).InFresh(func() error {
		k, err := ipvs.OpenKernel(false)
		if err != nil {
			return err
		}
		d := ipvs.New(k, ipvs.Options{Interval: time.Minute})
		ops, got, err := d.Reconcile(services, ipvs.AllUp)
		if err != nil {
			return fmt.Errorf("reconcile: %w", err)
		}
		want := ipvs.Want(services, ipvs.AllUp)
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("kernel table differs from the wanted one:\n%s", tableDiff(want, got))
		}
		viaIpvsadm, listing, err := ipvsadmTable()
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(viaIpvsadm, want) {
			return fmt.Errorf("ipvsadm -Ln differs from the files:\n%s\n%s", tableDiff(want, viaIpvsadm), listing)
		}
		t.Logf("%d services, %d operations; ipvsadm agrees on every field", len(want), len(ops))
		// A second reconcile has nothing to do.
		if ops, _, err := d.Reconcile(services, ipvs.AllUp); err != nil || len(ops) != 0 {
			return fmt.Errorf("second reconcile: %d ops %v, err %v", len(ops), ops, err)
		}
		return nil
	})
}

// countingIPVS counts the netlink operations the director makes.
type countingIPVS struct {
	ipvs.IPVS
	ops []ipvs.Op
}

func (c *countingIPVS) Apply(op ipvs.Op) error {
	c.ops = append(c.ops, op)
	return c.IPVS.Apply(op)
}

// TestIPVSDirectorChanges: one weight change is one netlink operation,
// removing a service touches that service only, and a service someone
// added with ipvsadm is left alone.
func TestIPVSDirectorChanges(t *testing.T) {
	netlab.NeedIPVS(t)
	services := matrix()[:6]
	netlab.ForTest(t).InFresh(func() error {
		k, err := ipvs.OpenKernel(false)
		if err != nil {
			return err
		}
		c := &countingIPVS{IPVS: k}
		d := ipvs.New(c, ipvs.Options{Interval: time.Minute, OwnedPath: t.TempDir() + "/owned.json"})
		if _, _, err := d.Reconcile(services, ipvs.AllUp); err != nil {
			return err
		}
		if out, err := exec.Command("ipvsadm", "-A", "-u", "203.0.113.53:53", "-s", "rr").CombinedOutput(); err != nil {
			return fmt.Errorf("ipvsadm -A: %v %s", err, out)
		}
		services[2].Reals[0].Weight += 10
		c.ops = nil
		if _, _, err := d.Reconcile(services, ipvs.AllUp); err != nil {
			return err
		}
		if len(c.ops) != 1 || c.ops[0].Kind != ipvs.UpdateDest {
			return fmt.Errorf("weight change made %d operations: %v", len(c.ops), c.ops)
		}
		c.ops = nil
		removed := services[4]
		if _, _, err := d.Reconcile(append(services[:4:4], services[5]), ipvs.AllUp); err != nil {
			return err
		}
		if len(c.ops) != 1 || c.ops[0].Kind != ipvs.DelService || c.ops[0].Key != ipvs.KeyOf(removed) {
			return fmt.Errorf("removing one service made: %v", c.ops)
		}
		out, err := exec.Command("ipvsadm", "-Ln").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "UDP  203.0.113.53:53 rr") {
			return fmt.Errorf("foreign service gone: %v\n%s", err, out)
		}
		return nil
	})
}

func tableDiff(want, got ipvs.Table) string {
	var b strings.Builder
	for k, w := range want {
		if g, ok := got[k]; !ok {
			fmt.Fprintf(&b, "missing %v\n", k)
		} else if !reflect.DeepEqual(g, w) {
			fmt.Fprintf(&b, "%v:\n  want %+v\n  got  %+v\n", k, w, g)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			fmt.Fprintf(&b, "unexpected %v\n", k)
		}
	}
	return b.String()
}

// exampleHost has none of the examples' interfaces (host checks become
// warnings), as on any machine that is not the director itself.
type exampleHost struct{}

func (exampleHost) Hostname() (string, error)                  { return "vm", nil }
func (exampleHost) InterfaceAddrs(string) ([]netip.Addr, bool) { return nil, false }

// TestIPVSDirectorExamples applies the shipped examples and checks with
// ipvsadm that the kernel holds exactly what the files say.
func TestIPVSDirectorExamples(t *testing.T) {
	netlab.NeedIPVS(t)
	cfg, err := config.Load("../examples/lvsd.yaml", config.Options{Host: exampleHost{}})
	if err != nil {
		t.Fatal(err)
	}
	netlab.ForTest(t).InFresh(func() error {
		k, err := ipvs.OpenKernel(false)
		if err != nil {
			return err
		}
		d := ipvs.New(k, ipvs.Options{Interval: time.Minute})
		if _, _, err := d.Reconcile(cfg.Services, ipvs.AllUp); err != nil {
			return err
		}
		got, listing, err := ipvsadmTable()
		if err != nil {
			return err
		}
		if want := ipvs.Want(cfg.Services, ipvs.AllUp); !reflect.DeepEqual(got, want) {
			return fmt.Errorf("ipvsadm -Ln differs from examples/:\n%s\n%s", tableDiff(want, got), listing)
		}
		t.Logf("examples/ in the kernel, as ipvsadm shows it:\n%s", listing)
		return nil
	})
}
