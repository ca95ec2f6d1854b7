package ipvs

import (
	"net/netip"
	"syscall"
	"testing"
)

// Traffic adds to the counters and replaces the gauges, a service's
// figures are its destinations' summed, and a destination removed and
// added again starts from zero, as in the kernel.
func TestMemoryTrafficMovesCounters(t *testing.T) {
	f := NewMemory()
	key := ServiceKey{Protocol: syscall.IPPROTO_TCP, Addr: netip.MustParseAddrPort("192.0.2.1:80")}
	a, b := netip.MustParseAddrPort("198.51.100.1:80"), netip.MustParseAddrPort("198.51.100.2:80")
	for _, op := range []Op{
		{Kind: AddService, Key: key, Service: Service{Scheduler: "wlc"}},
		{Kind: AddDest, Key: key, Addr: a, Dest: Dest{Forward: "nat", Weight: 1}},
		{Kind: AddDest, Key: key, Addr: b, Dest: Dest{Forward: "nat", Weight: 1}},
	} {
		if err := f.Apply(op); err != nil {
			t.Fatalf("%v: %v", op, err)
		}
	}
	tick := func(active uint32) {
		f.Traffic(func(k ServiceKey, d netip.AddrPort) DestCounters {
			if k != key {
				t.Fatalf("traffic for %v", k)
			}
			return DestCounters{Active: active, Total: 2, InPackets: 10, OutPackets: 8, InBytes: 1000, OutBytes: 800}
		})
	}
	tick(5)
	tick(3)
	c, err := f.Counters()
	if err != nil {
		t.Fatal(err)
	}
	got := c[key]
	want := DestCounters{Active: 3, Total: 4, InPackets: 20, OutPackets: 16, InBytes: 2000, OutBytes: 1600}
	ga, _ := got.Dest(a)
	gb, _ := got.Dest(b)
	if ga != want || gb != want {
		t.Fatalf("destinations %+v, want each %+v", got.Dests, want)
	}
	if got.Connections != 8 || got.InPackets != 40 || got.OutPackets != 32 || got.InBytes != 4000 || got.OutBytes != 3200 {
		t.Fatalf("service %+v, want the sums of its destinations", got)
	}
	if err := f.Apply(Op{Kind: DelDest, Key: key, Addr: a}); err != nil {
		t.Fatal(err)
	}
	if err := f.Apply(Op{Kind: AddDest, Key: key, Addr: a, Dest: Dest{Forward: "nat", Weight: 1}}); err != nil {
		t.Fatal(err)
	}
	c, _ = f.Counters()
	sc := c[key]
	if ga, ok := sc.Dest(a); !ok || ga != (DestCounters{}) {
		t.Fatalf("after a's removal and return: %+v", c[key].Dests)
	}
	if gb, _ := sc.Dest(b); gb != want {
		t.Fatalf("after a's removal and return: %+v", c[key].Dests)
	}
}
