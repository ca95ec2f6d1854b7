package ipvs

import (
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/lvsd/lvsd/director/config"
)

// Last keeps the first lastOps operations of a large reconcile only, and
// counts them all: the run itself returns every one.
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
	if res.Err != nil || len(res.Ops) != 1201 || res.Made != 1201 {
		t.Fatalf("reconcile: %d operations, made %d, err %v; want 1201", len(res.Ops), res.Made, res.Err)
	}
	if last := d.Last(); len(last.Ops) != lastOps || last.Made != 1201 || !reflect.DeepEqual(last.Ops[0], res.Ops[0]) {
		t.Errorf("Last: %d operations kept, made %d; want %d of 1201", len(last.Ops), last.Made, lastOps)
	}
}
