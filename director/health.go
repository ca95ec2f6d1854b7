package director

import (
	"net/netip"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/ipvs"
	"github.com/lvsd/lvsd/director/notify"
	"github.com/lvsd/lvsd/healthcheck"
)

// targets lists one health check per realserver of every service.
func targets(cfg *config.Config) []healthcheck.Target {
	var out []healthcheck.Target
	for _, s := range cfg.Services {
		for _, r := range s.Reals {
			out = append(out, healthcheck.Target{Service: s.Name, Real: r.Addr, Check: checkSpec(r.Check)})
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
// configuration, not per event.
func (d *Director) stateFunc(cfg *config.Config) ipvs.StateFunc {
	type key struct {
		service string
		real    netip.AddrPort
	}
	initial := map[key]bool{}
	for _, s := range cfg.Services {
		for _, r := range s.Reals {
			initial[key{s.Name, r.Addr}] = r.Check.Initial != "down"
		}
	}
	return func(service string, real netip.AddrPort) ipvs.RealState {
		up, known := d.health.State(service, real)
		if !known {
			up = initial[key{service, real}]
		}
		return ipvs.RealState{Up: up, Drained: d.drains.has(service, real)}
	}
}
