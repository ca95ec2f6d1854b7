package director

import (
	"net/netip"
	"sync"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/ipvs"
	"github.com/lvsd/lvsd/director/notify"
	"github.com/lvsd/lvsd/healthcheck"
)

// targets lists one health check per realserver of every service. The
// realservers that share a configured check (a service's, which those
// without overrides point at) share one converted Spec too: the runner
// keeps it for as long as it checks them.
func targets(cfg *config.Config) []healthcheck.Target {
	n := 0
	for _, s := range cfg.Services {
		n += len(s.Reals)
	}
	out := make([]healthcheck.Target, 0, n)
	specs := map[*config.Check]*healthcheck.Spec{}
	for _, s := range cfg.Services {
		for _, r := range s.Reals {
			spec := specs[r.Check]
			if spec == nil {
				spec = new(checkSpec(*r.Check))
				specs[r.Check] = spec
			}
			out = append(out, healthcheck.Target{Service: s.Name, Real: r.Addr, Check: spec})
		}
	}
	return out
}

// checkSpec converts a realserver's check from the configuration's type to
// the health runner's, which keeps healthcheck free of any import of
// director (as vrrp's InstanceConfig does for vrrp).
func checkSpec(c config.Check) healthcheck.Spec {
	return healthcheck.Spec{
		Type: c.Type, Interval: c.Interval, Timeout: c.Timeout, Rise: c.Rise, Fall: c.Fall, Initial: c.Initial,
		RetryInterval: c.RetryInterval, Port: c.Port, Address: c.Address, Source: c.Source,
		Method: c.Method, Path: c.Path, Host: c.Host, Status: c.Status, Body: c.Body, BodyRegex: c.BodyRegex,
		TLSVerify: c.TLSVerify, ServerName: c.ServerName,
		Send: c.Send, Expect: c.Expect, Query: c.Query, QueryType: c.QueryType, Command: c.Command,
	}
}

// onHealth is the health runner's callback (the runner logs the
// transition and its reason): it tells the director which service changed,
// so the kernel follows within a netlink round trip of the decision, then
// the notify hooks.
func (d *Director) onHealth(ev healthcheck.Event) {
	d.dir.Changed(ev.Service)
	d.kickGate()
	d.events.health(ev)
	state := "down"
	if ev.Up {
		state = "up"
	}
	d.notify.Notify(notify.Event{Kind: "realserver", Node: d.Current().Config.Node, At: ev.At,
		Service: ev.Service, Real: ev.Real.String(), State: state, Reason: ev.Detail})
}

// stateFunc returns the director's view of the realservers of cfg: the
// health runner's verdict (before the runner tracks a realserver, its
// check's initial state) and the operator's drain. It is built once per
// configuration, not per event. The index of initial states is built at
// the first realserver the runner does not track (`lvsd diff` of a
// configuration not yet applied), not with the function: once a
// configuration is applied the runner tracks every realserver of it, and
// the index of 100,000 would only take memory.
func (d *Director) stateFunc(cfg *config.Config) ipvs.StateFunc {
	type key struct {
		service string
		real    netip.AddrPort
	}
	initial := sync.OnceValue(func() map[key]bool {
		m := map[key]bool{}
		for _, s := range cfg.Services {
			for _, r := range s.Reals {
				m[key{s.Name, r.Addr}] = r.Check.Initial != "down"
			}
		}
		return m
	})
	return func(service string, real netip.AddrPort) ipvs.RealState {
		up, known := d.health.State(service, real)
		if !known {
			up = initial()[key{service, real}]
		}
		return ipvs.RealState{Up: up, Drained: d.drains.has(service, real)}
	}
}
