//go:build integration && ipvs

package integration

import (
	"fmt"
	"net"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/lvsd/lvsd/director/ipvs"
	"github.com/lvsd/lvsd/integration/netlab"
)

// TestIPVSSyncDaemon starts, lists and stops the kernel's connection sync
// daemons through lvsd's own generic netlink calls (libipvs has none).
func TestIPVSSyncDaemon(t *testing.T) {
	netlab.NeedIPVS(t)
	netlab.ForTest(t).InFresh(func() error {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "sync0"}, PeerName: "sync1"}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("add veth: %w", err)
		}
		for _, name := range []string{"sync0", "sync1"} {
			if err := netlab.LinkUp(name); err != nil {
				return err
			}
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("192.0.2.1"), Mask: net.CIDRMask(24, 32)}}
		if err := netlink.AddrAdd(veth, addr); err != nil {
			return err
		}
		if err := ipvs.StartSync(ipvs.SyncMaster, "sync0", 10); err != nil {
			return err
		}
		if err := ipvs.StartSync(ipvs.SyncBackup, "sync0", 10); err != nil {
			return err
		}
		// Starting again with the same settings is not an error.
		if err := ipvs.StartSync(ipvs.SyncMaster, "sync0", 10); err != nil {
			return fmt.Errorf("idempotent start: %w", err)
		}
		got, err := ipvs.SyncDaemons()
		if err != nil {
			return err
		}
		want := []ipvs.SyncDaemon{{Role: ipvs.SyncMaster, Interface: "sync0", SyncID: 10}, {Role: ipvs.SyncBackup, Interface: "sync0", SyncID: 10}}
		if !sameDaemons(got, want) {
			return fmt.Errorf("daemons %+v, want %+v", got, want)
		}
		for _, r := range []ipvs.SyncRole{ipvs.SyncMaster, ipvs.SyncBackup, ipvs.SyncBackup} {
			if err := ipvs.StopSync(r); err != nil { // the second backup stop: already stopped
				return err
			}
		}
		if got, err := ipvs.SyncDaemons(); err != nil || len(got) != 0 {
			return fmt.Errorf("after stop: %+v %v", got, err)
		}
		return nil
	})
}

func sameDaemons(a, b []ipvs.SyncDaemon) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(d ipvs.SyncDaemon) bool { return !slices.Contains(b, d) })
}
