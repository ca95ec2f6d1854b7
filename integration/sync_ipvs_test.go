//go:build integration

package integration

import (
	"fmt"
	"net"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/lvsd/lvsd/director"
)

// TestIPVSSyncDaemon starts, lists and stops the kernel's connection sync
// daemons through lvsd's own generic netlink calls (libipvs has none).
func TestIPVSSyncDaemon(t *testing.T) {
	needIPVS(t)
	inNetns(t, func() error {
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "sync0"}, PeerName: "sync1"}
		if err := netlink.LinkAdd(veth); err != nil {
			return fmt.Errorf("add veth: %w", err)
		}
		for _, name := range []string{"sync0", "sync1"} {
			if err := linkUp(name); err != nil {
				return err
			}
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("192.0.2.1"), Mask: net.CIDRMask(24, 32)}}
		if err := netlink.AddrAdd(veth, addr); err != nil {
			return err
		}
		if err := director.StartSync(director.SyncMaster, "sync0", 10); err != nil {
			return err
		}
		if err := director.StartSync(director.SyncBackup, "sync0", 10); err != nil {
			return err
		}
		// Starting again with the same settings is not an error.
		if err := director.StartSync(director.SyncMaster, "sync0", 10); err != nil {
			return fmt.Errorf("idempotent start: %w", err)
		}
		got, err := director.SyncDaemons()
		if err != nil {
			return err
		}
		want := []director.SyncDaemon{{Role: director.SyncMaster, Interface: "sync0", SyncID: 10}, {Role: director.SyncBackup, Interface: "sync0", SyncID: 10}}
		if !sameDaemons(got, want) {
			return fmt.Errorf("daemons %+v, want %+v", got, want)
		}
		for _, r := range []director.SyncRole{director.SyncMaster, director.SyncBackup, director.SyncBackup} {
			if err := director.StopSync(r); err != nil { // the second backup stop: already stopped
				return err
			}
		}
		if got, err := director.SyncDaemons(); err != nil || len(got) != 0 {
			return fmt.Errorf("after stop: %+v %v", got, err)
		}
		return nil
	})
}

func sameDaemons(a, b []director.SyncDaemon) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(d director.SyncDaemon) bool { return !slices.Contains(b, d) })
}
