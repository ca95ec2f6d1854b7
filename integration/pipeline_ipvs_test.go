//go:build integration && ipvs

package integration

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"syscall"
	"testing"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/ipvs"
	"github.com/lvsd/lvsd/integration/netlab"
)

// pipelineOps is a run of operations that the kernel partly refuses,
// over IPv4, IPv6 and fwmark services, in windows of the pipelined writer
// that mix made and refused operations.
func pipelineOps() []ipvs.Op {
	v4 := ipvs.ServiceKey{Protocol: syscall.IPPROTO_TCP, Addr: netip.MustParseAddrPort("192.0.2.10:80")}
	v6 := ipvs.ServiceKey{IPv6: true, Protocol: syscall.IPPROTO_UDP, Addr: netip.MustParseAddrPort("[2001:db8::10]:53")}
	mark := ipvs.ServiceKey{FWMark: 7}
	bad := ipvs.ServiceKey{Protocol: syscall.IPPROTO_TCP, Addr: netip.MustParseAddrPort("192.0.2.11:80")}
	r4 := netip.MustParseAddrPort("198.51.100.11:8080")
	r6 := netip.MustParseAddrPort("[2001:db8:1::11]:53")
	nat := ipvs.Dest{Forward: config.NAT, Weight: 1}
	var ops []ipvs.Op
	add := func(o ...ipvs.Op) { ops = append(ops, o...) }
	add(ipvs.Op{Kind: ipvs.AddService, Key: v4, Service: ipvs.Service{Scheduler: "wlc"}},
		ipvs.Op{Kind: ipvs.AddService, Key: bad, Service: ipvs.Service{Scheduler: "nope"}},
		ipvs.Op{Kind: ipvs.AddService, Key: v4, Service: ipvs.Service{Scheduler: "rr"}},
		ipvs.Op{Kind: ipvs.AddService, Key: v6, Service: ipvs.Service{Scheduler: "sh", Flags: ipvs.FlagPersistent | ipvs.FlagSched1, Timeout: 60, Netmask: 64}},
		ipvs.Op{Kind: ipvs.AddService, Key: mark, Service: ipvs.Service{Scheduler: "rr", Flags: ipvs.FlagPersistent, Timeout: 300, Netmask: 24}},
		ipvs.Op{Kind: ipvs.UpdateService, Key: bad, Service: ipvs.Service{Scheduler: "rr"}},
	)
	// Enough destinations to fill several windows (pipelineWindow 256).
	for i := range 600 {
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i%200)}), uint16(8000+i/200))
		add(ipvs.Op{Kind: ipvs.AddDest, Key: v4, Addr: a, Dest: nat})
	}
	add(ipvs.Op{Kind: ipvs.AddDest, Key: bad, Addr: r4, Dest: nat}, // skipped: bad was not added
		ipvs.Op{Kind: ipvs.AddDest, Key: v4, Addr: r4, Dest: nat},
		ipvs.Op{Kind: ipvs.AddDest, Key: v4, Addr: r4, Dest: nat}, // EEXIST
		ipvs.Op{Kind: ipvs.AddDest, Key: v4, Addr: netip.MustParseAddrPort("198.51.100.250:1"), Dest: ipvs.Dest{Forward: config.NAT, Weight: -1}},
		ipvs.Op{Kind: ipvs.AddDest, Key: v6, Addr: r6, Dest: ipvs.Dest{Forward: config.DR, Weight: 2, Upper: 100, Lower: 10}},
		ipvs.Op{Kind: ipvs.AddDest, Key: mark, Addr: netip.MustParseAddrPort("203.0.113.21:0"), Dest: ipvs.Dest{Forward: config.Tunnel, Weight: 1}},
		ipvs.Op{Kind: ipvs.UpdateDest, Key: v6, Addr: netip.MustParseAddrPort("[2001:db8:1::99]:53"), Dest: nat}, // ENOENT
		ipvs.Op{Kind: ipvs.UpdateDest, Key: v6, Addr: r6, Dest: ipvs.Dest{Forward: config.DR, Weight: 5}},
		ipvs.Op{Kind: ipvs.DelDest, Key: bad, Addr: r4},                                     // ESRCH
		ipvs.Op{Kind: ipvs.DelDest, Key: v4, Addr: netip.MustParseAddrPort("192.0.2.99:1")}, // ENOENT
		ipvs.Op{Kind: ipvs.DelService, Key: bad},                                            // ESRCH
		ipvs.Op{Kind: ipvs.DelDest, Key: v4, Addr: r4},
	)
	return ops
}

// TestIPVSPipelineMatchesMemory applies pipelineOps to the kernel
// through the pipelined writer, and to the in-memory table one at a
// time: each operation must have the same outcome (made, skipped, or the
// same errno), and the tables must end equal, as ipvsadm reads the
// kernel's.
func TestIPVSPipelineMatchesMemory(t *testing.T) {
	netlab.NeedIPVS(t)
	ops := pipelineOps()
	mem := ipvs.NewMemory()
	seq := applySequential(mem, ops)
	memT, _ := mem.Table()
	netlab.ForTest(t).InFresh(func() error {
		k, err := ipvs.OpenKernel(false)
		if err != nil {
			return err
		}
		defer k.Close()
		got := k.ApplyBatch(ops)
		var diffs []string
		for i, op := range ops {
			if !sameOutcome(got[i], seq[i]) {
				diffs = append(diffs, fmt.Sprintf("op %d %v: kernel %v, memory %v", i, op, got[i], seq[i]))
			}
		}
		if len(diffs) > 0 {
			return fmt.Errorf("%d outcomes differ:\n%v", len(diffs), diffs)
		}
		kern, err := k.Table()
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(kern, memT) {
			return fmt.Errorf("tables differ:\nkernel %v\nmemory %v", kern, memT)
		}
		adm, raw, err := ipvsadmTable()
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(adm, memT) {
			return fmt.Errorf("ipvsadm reads another table:\n%s", raw)
		}
		return nil
	})
}

// applySequential applies ops to mem one at a time, as Apply does: the
// destinations of a service whose add failed are skipped.
func applySequential(mem *ipvs.Memory, ops []ipvs.Op) []error {
	out := make([]error, len(ops))
	failed := map[ipvs.ServiceKey]bool{}
	for i, op := range ops {
		if failed[op.Key] && (op.Kind == ipvs.AddDest || op.Kind == ipvs.UpdateDest) {
			out[i] = ipvs.ErrSkipped
			continue
		}
		if out[i] = mem.Apply(op); out[i] != nil && op.Kind == ipvs.AddService {
			failed[op.Key] = true
		}
	}
	return out
}

func sameOutcome(a, b error) bool {
	var ea, eb syscall.Errno
	return (a == nil) == (b == nil) && errors.Is(a, ipvs.ErrSkipped) == errors.Is(b, ipvs.ErrSkipped) &&
		errors.As(a, &ea) == errors.As(b, &eb) && ea == eb
}
