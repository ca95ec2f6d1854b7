package director

import (
	"net/netip"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/handover"
)

// announceLast names the instances that announce their VIPs after the
// rest of their group (vrrp.Node.SetAnnounceLast): in a group that has a
// gateway member (a VIP whose prefix holds a NAT realserver: the
// realservers' default route), every other member. A new master's
// announces then reach the realservers before its clients, so no SYN it
// forwards is answered to the old master's MAC. The rule follows the
// services, so a reload applies it again (setAnnounceOrder).
func announceLast(cfg *config.Config) map[string]bool {
	gateway := map[string]bool{}
	natAddr := func(a netip.Addr) {
		if in, ok := handover.GatewayOf(cfg, a); ok {
			gateway[in] = true
		}
	}
	for _, s := range cfg.Services {
		for _, r := range s.Reals {
			if r.Forward == config.NAT {
				natAddr(r.Addr.Addr())
			}
		}
		if s.Sorry.IsValid() && s.Forward == config.NAT {
			natAddr(s.Sorry.Addr())
		}
	}
	last := map[string]bool{}
	for _, g := range cfg.Groups {
		hasGateway := false
		for _, name := range g.Instances {
			hasGateway = hasGateway || gateway[name]
		}
		if !hasGateway {
			continue
		}
		for _, name := range g.Instances {
			if !gateway[name] {
				last[name] = true
			}
		}
	}
	return last
}

// setAnnounceOrder applies announceLast to the running instances.
func (s *vrrpSet) setAnnounceOrder(cfg *config.Config) {
	if s == nil {
		return
	}
	last := announceLast(cfg)
	for name, n := range s.byName {
		n.SetAnnounceLast(last[name])
	}
}
