//go:build integration && !ipvs

package integration

import (
	"net"
	"testing"

	"github.com/vishvananda/netlink"
)

// TestSoakNoHolderHealthyFromCarrier is the regression test of the VM
// soak's "nobody holds 198.51.100.1 for 468ms with a healthy director
// (limit 460.9375ms)" (issue 14, seed 7, #115), which no lvsd caused: the
// soak counted a healthy from the return of "ip link set e1 up", and the
// kernel reported e1 operationally up 900 ms later (its linkwatch runs a
// non-urgent event at most once a second); a became master one
// Master_Down_Interval after the kernel's report. A link set up whose
// carrier the kernel has not yet reported is not ready; up with a
// carrier, or a dummy's "unknown", is.
func TestSoakNoHolderHealthyFromCarrier(t *testing.T) {
	for _, c := range []struct {
		name  string
		flags net.Flags
		oper  netlink.LinkOperState
		ready bool
	}{
		{"set up, no carrier reported yet", net.FlagUp, netlink.OperDown, false},
		{"set up, lower layer down", net.FlagUp, netlink.OperLowerLayerDown, false},
		{"set up, carrier reported", net.FlagUp, netlink.OperUp, true},
		{"dummy or loopback up", net.FlagUp, netlink.OperUnknown, true},
		{"set down", 0, netlink.OperDown, false},
		{"set down, stale carrier", 0, netlink.OperUp, false},
	} {
		a := &netlink.LinkAttrs{Flags: c.flags, OperState: c.oper}
		if got := linkReady(a); got != c.ready {
			t.Errorf("%s: linkReady = %v, want %v", c.name, got, c.ready)
		}
	}
}
