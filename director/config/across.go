package config

import (
	"fmt"
	"net/netip"
)

// checkAcross makes the checks that span files: names and virtual services
// unique across service files, and every VIP covered by a VRRP instance.
func checkAcross(cfg *Config, errs *Errors) {
	names := map[string]*Service{}
	virtuals := map[string]*Service{}
	vips := map[netip.Addr]bool{}
	for _, in := range cfg.Instances {
		for _, p := range in.VIPs {
			vips[p.Addr()] = true
		}
	}
	for i := range cfg.Services {
		s := &cfg.Services[i]
		r := reporter{file: s.File, pos: s.at.positions(*s), errs: errs}
		if o, dup := names[s.Name]; dup {
			r.at("name", "service %q is also defined in %s:%d", s.Name, o.File, o.at.name[0])
		}
		names[s.Name] = s
		key := serviceKey(*s)
		if o, dup := virtuals[key]; dup {
			r.at(keyPath(*s), "%s is also defined in %s:%d", key, o.File, o.at.key[0])
		}
		virtuals[key] = s
		// With no VRRP instance the director runs alone and the VIPs are
		// someone else's business; with VRRP, a VIP that no instance moves
		// would stay behind on a failed director.
		if len(cfg.Instances) > 0 && s.Virtual.IsValid() && !vips[s.Virtual.Addr()] {
			r.at("virtual", "%v is not among the virtual_ips of any vrrp instance in %s", s.Virtual.Addr(), cfg.MainFile)
		}
	}
}

func serviceKey(s Service) string {
	if s.FWMark != 0 {
		fam := "ipv4"
		if s.IPv6 {
			fam = "ipv6"
		}
		return fmt.Sprintf("fwmark %d (%s)", s.FWMark, fam)
	}
	return fmt.Sprintf("%s %v", s.Protocol, s.Virtual)
}

func keyPath(s Service) string {
	if s.FWMark != 0 {
		return "fwmark"
	}
	return "virtual"
}

// crossPos is where a service file has the keys that the checks across
// files report on: its name and its virtual (or fwmark) key, each as a
// line and a column. A loaded service keeps these two places instead of
// its file's whole index of positions, which for 10,000 service files
// would weigh more than the services themselves.
type crossPos struct {
	name, key [2]int
}

// crossPosOf picks the places that checkAcross needs out of a service
// file's index of positions.
func crossPosOf(s Service, p positions) crossPos {
	var c crossPos
	c.name[0], c.name[1] = p.lineCol("name")
	c.key[0], c.key[1] = p.lineCol(keyPath(s))
	return c
}

// positions is an index of the two places, for a reporter: both keys are
// top-level, so their lookups are the same as in the whole index.
func (c crossPos) positions(s Service) positions {
	return positions{
		lines: map[string]int{"name": c.name[0], keyPath(s): c.key[0]},
		cols:  map[string]int{"name": c.name[1], keyPath(s): c.key[1]},
	}
}
