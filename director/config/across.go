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
		r := reporter{file: s.File, pos: s.pos, errs: errs}
		if o, dup := names[s.Name]; dup {
			r.at("name", "service %q is also defined in %s:%d", s.Name, o.File, o.pos.line("name"))
		}
		names[s.Name] = s
		key := serviceKey(*s)
		if o, dup := virtuals[key]; dup {
			r.at(keyPath(*s), "%s is also defined in %s:%d", key, o.File, o.pos.line(keyPath(*o)))
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
