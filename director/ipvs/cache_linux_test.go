package ipvs

import (
	"errors"
	"net/netip"
	"reflect"
	"syscall"
	"testing"

	"github.com/lvsd/lvsd/director/config"
)

// TestCacheExactAfterPartialFailure: the Reconciler writes through the
// pipelined writer; when the kernel refuses some operations of a
// reconcile (someone changed it behind lvsd's back), the others are made
// and cached, only the failed operations' services are read back, the
// cache equals the kernel, and the next reconcile repairs the rest.
func TestCacheExactAfterPartialFailure(t *testing.T) {
	k := newPiped(t, 4)
	d := New(k, Options{Log: quiet()})
	if _, _, err := d.Reconcile([]config.Service{web, v6}, AllUp); err != nil {
		t.Fatal(err)
	}
	// Behind lvsd's back: v6 deleted, and web given the realserver lvsd
	// is about to add.
	extra := config.Real{Addr: netip.MustParseAddrPort("198.51.100.13:8080"), Weight: 1, Forward: config.NAT}
	k.Edit(func(t Table) {
		delete(t, KeyOf(v6))
		t[KeyOf(web)].Dests[extra.Addr] = Dest{Forward: config.NAT, Weight: 7}
	})
	web2, v62 := web, v6
	web2.Reals = append(append([]config.Real{}, web.Reals...), extra)
	v62.Reals = []config.Real{{Addr: v6.Reals[0].Addr, Weight: 9, Forward: config.DR}}
	tables, services := k.Reads()
	ops, after, err := d.Reconcile([]config.Service{web2, v62, mark}, AllUp)
	var errno syscall.Errno
	if err == nil || !errors.As(err, &errno) {
		t.Fatalf("reconcile against a changed kernel: %v, want the kernel's refusals", err)
	}
	if len(ops) != 4 { // add mark and its dest, add web's extra (EEXIST), update v6's dest (ESRCH)
		t.Errorf("ops %v, want 4", ops)
	}
	if tb, sv := k.Reads(); tb != tables || sv != services+1 {
		t.Errorf("read the whole table %d times and services %d times, want 0 and 1", tb-tables, sv-services)
	}
	kern, _ := k.Table()
	if !reflect.DeepEqual(after, kern) {
		t.Errorf("cache differs from the kernel:\ncache  %v\nkernel %v", after, kern)
	}
	if _, ok := kern[KeyOf(mark)]; !ok {
		t.Error("a refused operation hid the others: mark was not added")
	}
	if _, _, err := d.Reconcile([]config.Service{web2, v62, mark}, AllUp); err != nil {
		t.Fatalf("repair: %v", err)
	}
	if kern, _ := k.Table(); !reflect.DeepEqual(kern, Want([]config.Service{web2, v62, mark}, AllUp)) {
		t.Errorf("not repaired: %v", kern)
	}
}

// TestCacheFallsBackToWholeRead: a table that cannot read some services
// only is read whole after a failure.
func TestCacheFallsBackToWholeRead(t *testing.T) {
	k := &readCounting{Memory: NewMemory()}
	d := New(noServiceReader{k}, Options{Log: quiet()})
	if _, _, err := d.Reconcile([]config.Service{web}, AllUp); err != nil {
		t.Fatal(err)
	}
	k.Edit(func(t Table) { delete(t, KeyOf(web)) })
	web2 := web
	web2.Scheduler = "rr"
	reads := k.reads
	_, after, err := d.Reconcile([]config.Service{web2}, AllUp)
	if err == nil || k.reads != reads+1 {
		t.Fatalf("err %v, %d whole reads, want an error and 1", err, k.reads-reads)
	}
	if kern, _ := k.Memory.Table(); !reflect.DeepEqual(after, kern) {
		t.Errorf("cache %v differs from the kernel %v", after, kern)
	}
}

// noServiceReader hides Memory's Services.
type noServiceReader struct{ k *readCounting }

func (n noServiceReader) Table() (Table, error) { return n.k.Table() }
func (n noServiceReader) Apply(op Op) error     { return n.k.Apply(op) }
