package director

import (
	"cmp"
	"context"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/ipvs"
	"github.com/lvsd/lvsd/healthcheck"
	"github.com/lvsd/lvsd/vrrp"
)

// Status returns a snapshot in the operator API's types; it is safe from
// any goroutine.
func (d *Director) Status(ctx context.Context) api.Status {
	d.mu.Lock()
	cur, last := d.Current(), d.last
	d.mu.Unlock()
	s := api.Status{
		LastReload: last, Mode: string(d.mode),
		Node: cur.Config.Node, Version: d.version, Config: d.path, StartedAt: d.started,
		Generation: cur.Generation, LoadedAt: cur.At,
		Instances: len(cur.Config.Instances), Services: len(cur.Config.Services),
	}
	for _, svc := range cur.Config.Services {
		s.Reals += len(svc.Reals)
	}
	if d.dir != nil {
		t, err := d.dir.Table(ctx)
		counters, cerr := d.ipvsCounters(ctx)
		s.IPVS = ipvsStatus(d.dir.Last(), t, cmp.Or(err, cerr), counters)
		names := map[string]string{}
		for _, svc := range cur.Config.Services {
			names[ipvs.KeyOf(svc).String()] = svc.Name
		}
		for i := range s.IPVS.Services {
			s.IPVS.Services[i].Name = names[s.IPVS.Services[i].Key]
		}
	}
	if d.vrrp != nil {
		for _, n := range d.vrrp.nodes {
			s.VRRP = append(s.VRRP, instanceStatus(n.Status()))
		}
	}
	if d.health != nil {
		s.Drained = d.drains.list()
		s.Health = realsStatus(cur.Config, d.health.Snapshot(), d.drains)
		for i := range s.Health {
			s.Health[i].LastLatency = d.metrics.health.LastDuration(s.Health[i].Service, s.Health[i].Real)
		}
	}
	if cur.Config.Sync != nil {
		h := d.follow.status()
		if n, err := d.handover.Held(); err == nil {
			h.Held = n
		}
		s.Handover = &h
	}
	s.Events = d.events.merged(s.VRRP)
	if d.web != nil {
		s.HTTP = d.web.Addrs()
	}
	if unmet := d.unmet.Load(); unmet != nil {
		for _, r := range *unmet {
			s.Warnings = append(s.Warnings, "kernel setting missing: "+r.String())
		}
	}
	return s
}

// vrrpState maps the state machine's states to the API's.
func vrrpState(s vrrp.State) api.VRRPState {
	switch s {
	case vrrp.Backup:
		return api.StateBackup
	case vrrp.Master:
		return api.StateMaster
	case vrrp.Resigning:
		return api.StateResigning
	case vrrp.Fault:
		return api.StateFault
	}
	return api.StateInit
}

func instanceStatus(n vrrp.NodeStatus) api.Instance {
	c := n.Counters
	out := api.Instance{
		Name: n.Name, Interface: n.Interface, VRID: n.VRID, State: vrrpState(n.State), Priority: n.Priority,
		Master: n.Master, Since: n.Since, Faults: n.Faults, PreemptHeld: n.PreemptHold, LastAdvert: n.LastAdvert, PeerAddr: n.Peer,
		Paths: heartbeatPaths(n.Paths), AdvertLateness: advertLateness(n.AdvertLateness),
		Counters: api.InstanceCounters{
			AdvertsSent: c.AdvertsSent, AdvertsReceived: c.AdvertsReceived, Transitions: c.Transitions,
			ToMaster: c.ToMaster, FromMaster: c.FromMaster,
			AnnouncesSent: c.AnnouncesSent, SendErrors: c.SendErrors, AddrErrors: c.AddrErrors,
			AnnounceErrors: c.AnnounceErrors, ReadErrors: c.ReadErrors,
			Conflicts: c.Conflicts, Heals: c.Heals, Probes: c.Probes, ProxyAnnounces: c.ProxyAnnounces,
		},
	}
	if len(c.Claims) > 0 {
		out.Counters.Claims = make(map[string]uint64, len(c.Claims))
		for k, v := range c.Claims {
			out.Counters.Claims[string(k)] = v
		}
	}
	if cf := n.Conflict; cf.Addr.IsValid() {
		out.Conflict = &api.AddressConflict{Addr: cf.Addr, MAC: cf.MAC, Since: cf.Since}
	}
	if len(c.Drops) > 0 {
		out.Counters.Drops = make(map[string]uint64, len(c.Drops))
		for r, v := range c.Drops {
			out.Counters.Drops[string(r)] = v
		}
	}
	for _, t := range n.Transitions {
		out.Transitions = append(out.Transitions, api.Transition{At: t.Time, From: vrrpState(t.From), To: vrrpState(t.To), Reason: t.Reason})
	}
	return out
}

// realsStatus joins the health runner's view with the configured rise
// and fall and the operator's drains.
func realsStatus(cfg *config.Config, hs []healthcheck.RealHealth, dr *drains) []api.Real {
	type key struct {
		service string
		real    netip.AddrPort
	}
	type conf struct {
		rise, fall int
		weight     int
		virtual    string
	}
	checks := map[key]conf{}
	for _, s := range cfg.Services {
		virtual := ipvs.KeyOf(s).String()
		for _, r := range s.Reals {
			checks[key{s.Name, r.Addr}] = conf{r.Check.Rise, r.Check.Fall, r.Weight, virtual}
		}
	}
	out := make([]api.Real, 0, len(hs))
	for _, h := range hs {
		cf := checks[key{h.Service, h.Real}]
		r := api.Real{
			Service: h.Service, Real: h.Real, Virtual: cf.virtual, Weight: cf.weight,
			Target: h.Target, Type: h.Type, Up: h.Up,
			Successes: h.Successes, Failures: h.Failures, Rise: cf.rise, Fall: cf.fall, Checks: h.Checks,
			LastCheck: h.LastCheck, LastReason: string(h.LastReason), LastDetail: h.LastDetail, Since: h.Since,
		}
		r.Drained = dr.has(h.Service, h.Real)
		r.State = healthState(r, r.Drained)
		out = append(out, r)
	}
	return out
}

func healthState(r api.Real, drained bool) api.HealthState {
	switch {
	case drained:
		return api.HealthDrained
	case r.Type == "none" || r.Type == "off" || r.Type == "on" || r.Type == "":
		return api.HealthUnchecked
	case r.Up && r.Failures > 0:
		return api.HealthGoingDown
	case r.Up:
		return api.HealthUp
	case r.Successes > 0:
		return api.HealthGoingUp
	}
	return api.HealthDown
}

func ipvsStatus(r ipvs.Result, t ipvs.Table, readErr error, counters map[ipvs.ServiceKey]ipvs.Counters) api.IPVSStatus {
	st := api.IPVSStatus{At: r.At, Latency: r.Latency, Services: []api.ServiceStatus{}}
	if err := cmp.Or(r.Err, readErr); err != nil {
		st.Error = err.Error()
	}
	keys := slices.SortedFunc(maps.Keys(t), func(a, b ipvs.ServiceKey) int { return strings.Compare(a.String(), b.String()) })
	for _, k := range keys {
		svc := t[k]
		c := counters[k]
		ss := api.ServiceStatus{Key: k.String(), Scheduler: svc.Scheduler, Connections: c.Connections,
			InBytes: c.InBytes, OutBytes: c.OutBytes, CPS: c.CPS}
		addrs := slices.SortedFunc(maps.Keys(svc.Dests), func(a, b netip.AddrPort) int { return a.Compare(b) })
		for _, a := range addrs {
			dst := svc.Dests[a]
			dc, _ := c.Dest(a)
			ss.Reals = append(ss.Reals, api.RealStatus{Addr: a.String(), Forward: string(dst.Forward), Weight: dst.Weight,
				Active: dc.Active, Inactive: dc.Inactive, Connections: dc.Total, CPS: dc.CPS, InBytes: dc.InBytes, OutBytes: dc.OutBytes})
		}
		st.Services = append(st.Services, ss)
	}
	return st
}
