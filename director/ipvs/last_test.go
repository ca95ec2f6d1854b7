package ipvs

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/lvsd/lvsd/director/config"
)

// A full reconcile's Result lists the first lastOps operations only, and
// counts them all by kind; Reconcile lists every one.
func TestLastKeepsFewOperations(t *testing.T) {
	big := web
	big.Sorry, big.Reals = netip.AddrPort{}, nil
	for i := range 1200 {
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + i%250)}), uint16(8000+i/250))
		big.Reals = append(big.Reals, config.Real{Addr: a, Weight: 1, Forward: config.NAT})
	}
	d := New(NewMemory(), Options{OwnedPath: filepath.Join(t.TempDir(), "owned.json"), Log: quiet()})
	d.Update([]config.Service{big}, AllUp)
	res := d.reconcile(false)
	if res.Err != nil || len(res.Ops) != lastOps || res.Made.Total() != 1201 || res.Made[AddService] != 1 || res.Made[AddDest] != 1200 {
		t.Fatalf("reconcile: %d operations listed, made %v, err %v; want %d of 1201", len(res.Ops), res.Made, res.Err, lastOps)
	}
	if last := d.Last(); len(last.Ops) != lastOps || last.Made != res.Made || !reflect.DeepEqual(last.Ops[0], res.Ops[0]) {
		t.Errorf("Last: %d operations kept, made %v; want %d of 1201", len(last.Ops), last.Made, lastOps)
	}
	// Reconcile lists them all; a second one has none to make.
	ops, after, err := New(NewMemory(), Options{OwnedPath: filepath.Join(t.TempDir(), "o.json"), Log: quiet()}).Reconcile([]config.Service{big}, AllUp)
	if err != nil || len(ops) != 1201 || len(after) != 1 || len(after[KeyOf(big)].Dests) != 1200 {
		t.Errorf("Reconcile: %d operations, table %d services, err %v", len(ops), len(after), err)
	}
}

// A full reconcile of more services than a chunk ends with the same
// table as one Diff would make, and deletes the services lvsd made and no
// longer wants, once every chunk is in place.
func TestReconcileInChunks(t *testing.T) {
	var services []config.Service
	for i := range 2*chunkServices + 1 {
		s := web
		s.Name, s.Sorry = fmt.Sprint("s", i), netip.AddrPort{}
		s.Virtual = netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i%250)}), uint16(1000+i/250))
		services = append(services, s)
	}
	f := NewMemory()
	owned := filepath.Join(t.TempDir(), "owned.json")
	if _, _, err := New(f, Options{OwnedPath: owned, Log: quiet()}).Reconcile(services, AllUp); err != nil {
		t.Fatal(err)
	}
	// A restart without the first service: it alone goes.
	ops, after, err := New(f, Options{OwnedPath: owned, Log: quiet()}).Reconcile(services[1:], AllUp)
	if err != nil || len(ops) != 1 || ops[0].Kind != DelService || ops[0].Key != KeyOf(services[0]) {
		t.Fatalf("without s0: ops %v, err %v", ops, err)
	}
	kernel, _ := f.Table()
	if want := Want(services[1:], AllUp); !reflect.DeepEqual(kernel, want) || !reflect.DeepEqual(after, want) {
		t.Errorf("kernel (%d services) or cache (%d) differ from the %d wanted", len(kernel), len(after), len(want))
	}
}
