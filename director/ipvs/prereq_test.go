package ipvs

import (
	"errors"
	"slices"
	"testing"

	"github.com/lvsd/lvsd/director/config"
)

type fakeSysctls struct {
	v        map[string]string
	readOnly bool
}

func (f *fakeSysctls) Get(p string) (string, error) {
	v, ok := f.v[p]
	if !ok {
		return "", errors.New("no such setting")
	}
	return v, nil
}

func (f *fakeSysctls) Set(p, v string) error {
	if f.readOnly {
		return errors.New("read-only file system")
	}
	f.v[p] = v
	return nil
}

// nodest is what every configuration with a service needs, quiescent
// what a persistent service needs: see needs.
const (
	nodest    = "net/ipv4/vs/expire_nodest_conn"
	quiescent = "net/ipv4/vs/expire_quiescent_template"
)

func TestPrerequisites(t *testing.T) {
	// An IPv6 DR or an IPv4 TUN service needs no forwarding; v6 is
	// persistent, mark is not.
	cases := []struct {
		name     string
		services []config.Service
		sync     bool
		set      bool
		readOnly bool
		want     []string // unmet paths
		after    string   // ip_forward after the check
	}{
		{name: "no service", after: "0"},
		{name: "tun only", services: []config.Service{mark}, want: []string{nodest}, after: "0"},
		{name: "tun only, set", services: []config.Service{mark}, set: true, after: "0"},
		{name: "nat", services: []config.Service{web}, want: []string{nodest, "net/ipv4/ip_forward"}, after: "0"},
		{name: "nat with sync", services: []config.Service{web}, sync: true,
			want: []string{nodest, "net/ipv4/ip_forward", "net/ipv4/vs/conntrack"}, after: "0"},
		{name: "nat, set", services: []config.Service{web}, sync: true, set: true, after: "1"},
		{name: "nat, set refused", services: []config.Service{web}, set: true, readOnly: true,
			want: []string{nodest, "net/ipv4/ip_forward"}, after: "0"},
		{name: "persistent dr", services: []config.Service{v6}, want: []string{nodest, quiescent}, after: "0"},
		{name: "persistent dr, set", services: []config.Service{v6}, set: true, after: "0"},
		{name: "persistent dr beside nat", services: []config.Service{web, v6}, want: []string{nodest, quiescent, "net/ipv4/ip_forward"}, after: "0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sys := &fakeSysctls{v: map[string]string{"net/ipv4/ip_forward": "0", "net/ipv4/vs/conntrack": "0", nodest: "0", quiescent: "0"},
				readOnly: c.readOnly}
			cfg := &config.Config{Services: c.services, Director: config.Director{SetSysctls: c.set}}
			if c.sync {
				cfg.Sync = &config.Sync{Interface: "eth1"}
			}
			var got []string
			for _, r := range CheckPrerequisites(cfg, sys) {
				got = append(got, r.Path)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("unmet %v, want %v", got, c.want)
			}
			if sys.v["net/ipv4/ip_forward"] != c.after {
				t.Errorf("ip_forward %q after, want %q", sys.v["net/ipv4/ip_forward"], c.after)
			}
		})
	}
}
