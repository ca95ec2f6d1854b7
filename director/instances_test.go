package director

import (
	"net/netip"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/vrrp"
)

func TestInstanceConfig(t *testing.T) {
	in := config.Instance{
		Name: "front", Interface: "e0", VRID: 10, Priority: 150, Version: 3, AdvertInterval: 200 * time.Millisecond,
		Preempt: true, PreemptDelay: 2 * time.Second, VIPs: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")},
		Unicast:     &config.Unicast{Source: netip.MustParseAddr("192.0.2.1"), Peers: []netip.Addr{netip.MustParseAddr("192.0.2.2")}},
		Announce:    config.Announce{Repeat: 3, Interval: 100 * time.Millisecond},
		TrackIfaces: []config.TrackInterface{{Name: "e1", Weight: -50}},
		Handover:    config.Handover{OnStop: true, Timeout: 3 * time.Second},
	}
	for checksum, want := range map[string]vrrp.ChecksumMode{
		"pseudo-header": vrrp.ChecksumPseudoHeader, "no-pseudo-header": vrrp.ChecksumNoPseudoHeader,
		"legacy-unicast": vrrp.ChecksumLegacyUnicast,
	} {
		in.Checksum = checksum
		c := instanceConfig(in)
		if c.ChecksumMode != want {
			t.Errorf("checksum %q: mode %v, want %v", checksum, c.ChecksumMode, want)
		}
		if c.Unicast.Source != in.Unicast.Source || len(c.Unicast.Peers) != 1 || c.TrackInterfaces[0].Weight != -50 ||
			c.Handover.Timeout != 3*time.Second || c.AdvertInterval != 200*time.Millisecond || c.PreemptDelay != 2*time.Second {
			t.Errorf("converted: %+v", c)
		}
	}
}
