package director

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/vrrp"
)

func TestInstanceConfigPaths(t *testing.T) {
	src, peer := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	in := config.Instance{Name: "front", Interface: "e0", Paths: []config.Path{
		{Interface: "hb0"},
		{Interface: "hb1", Unicast: &config.Unicast{Source: src, Peers: []netip.Addr{peer}}},
	}}
	want := []vrrp.Path{
		{Interface: "hb0"},
		{Interface: "hb1", Unicast: vrrp.Unicast{Source: src, Peers: []netip.Addr{peer}}},
	}
	if got := instanceConfig(in).Paths; !reflect.DeepEqual(got, want) {
		t.Errorf("paths %+v, want %+v", got, want)
	}
}
