package director

import (
	"maps"
	"net/netip"
	"testing"

	"github.com/lvsd/lvsd/director/config"
)

// TestAnnounceLastIsTheFrontOfANATGroup: in the example NAT pair, the
// front instance announces after the gateway (the app servers' default
// route); an instance outside any group, a group without a gateway (DR),
// and the gateway itself announce as before.
func TestAnnounceLastIsTheFrontOfANATGroup(t *testing.T) {
	cfg, err := config.Load("../examples/pair/director-a.yaml", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := announceLast(cfg), map[string]bool{"front": true}; !maps.Equal(got, want) {
		t.Errorf("example pair: announce last %v, want %v", got, want)
	}

	nat := func(addr string) config.Real {
		return config.Real{Addr: netip.MustParseAddrPort(addr), Forward: config.NAT}
	}
	dr := func(addr string) config.Real {
		return config.Real{Addr: netip.MustParseAddrPort(addr), Forward: config.DR}
	}
	inst := func(name string, vips ...string) config.Instance {
		in := config.Instance{Name: name}
		for _, v := range vips {
			in.VIPs = append(in.VIPs, netip.MustParsePrefix(v))
		}
		return in
	}
	for _, tc := range []struct {
		name string
		cfg  config.Config
		want map[string]bool
	}{
		{"DR group: no gateway", config.Config{
			Instances: []config.Instance{inst("web", "192.0.2.10/24"), inst("mail", "192.0.2.11/24")},
			Groups:    []config.Group{{Name: "g", Instances: []string{"web", "mail"}}},
			Services:  []config.Service{{Reals: []config.Real{dr("192.0.2.21:80")}}},
		}, map[string]bool{}},
		{"NAT gateway in the group, two fronts", config.Config{
			Instances: []config.Instance{inst("web", "192.0.2.10/32"), inst("gw", "198.51.100.1/24"), inst("api", "203.0.113.5/32")},
			Groups:    []config.Group{{Name: "g", Instances: []string{"web", "gw", "api"}}},
			Services:  []config.Service{{Reals: []config.Real{nat("198.51.100.11:8080")}}},
		}, map[string]bool{"web": true, "api": true}},
		{"NAT sorry server is the gateway's too", config.Config{
			Instances: []config.Instance{inst("web", "192.0.2.10/32"), inst("gw", "198.51.100.1/24")},
			Groups:    []config.Group{{Name: "g", Instances: []string{"web", "gw"}}},
			Services:  []config.Service{{Forward: config.NAT, Sorry: netip.MustParseAddrPort("198.51.100.99:80")}},
		}, map[string]bool{"web": true}},
		{"a host VIP is no gateway, nor an ungrouped one", config.Config{
			Instances: []config.Instance{inst("web", "198.51.100.1/32"), inst("gw", "198.51.100.2/24")},
			Services:  []config.Service{{Reals: []config.Real{nat("198.51.100.11:8080")}}},
		}, map[string]bool{}},
	} {
		if got := announceLast(&tc.cfg); !maps.Equal(got, tc.want) {
			t.Errorf("%s: announce last %v, want %v", tc.name, got, tc.want)
		}
	}
}
