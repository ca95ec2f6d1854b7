package director

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/healthcheck"
)

// This file holds a backup's preemption while this node cannot serve
// (vrrp.Node.HoldPreempt): an instance with preempt_needs_realservers
// (the default) does not take the VIPs from a live master while a
// service it fronts has no realserver this node's own checks found up.
// That covers a director that starts, or whose links come back after its
// checks failed (the VM soak of issue 14: it preempted before its checks
// had risen again, and its IPVS refused the clients). A master is never
// pushed out by it, and a dead or resigning master is always taken over
// from: no holder is worse than a holder without realservers. The hold
// can only delay a preemption until this node can serve, so it adds no
// transition and cannot flap.

// gatePoll is how often the holds are recomputed while a first check
// result is awaited (it comes without a health transition); otherwise
// only a health transition, a drain or a reload recomputes them, at most
// once per gatePoll.
const gatePoll = 100 * time.Millisecond

// fronts maps each instance with preempt_needs_realservers (and preempt)
// to the services it fronts: those whose virtual address is one of its
// VIPs, or of any instance of its group, since a group moves as one (a
// NAT pair's gateway VIP fronts no service but moves with the front).
// Fwmark services name no address and are left out. In a group, the
// key on any member holds them all: a member that preempted would take
// the others along (vrrp.Group).
func fronts(cfg *config.Config) map[string][]string {
	byVIP := map[netip.Addr][]string{}
	for _, s := range cfg.Services {
		if s.Virtual.IsValid() {
			byVIP[s.Virtual.Addr()] = append(byVIP[s.Virtual.Addr()], s.Name)
		}
	}
	own := map[string][]string{}
	for _, in := range cfg.Instances {
		for _, p := range in.VIPs {
			own[in.Name] = append(own[in.Name], byVIP[p.Addr()]...)
		}
	}
	peers := map[string][]string{} // instance -> its group's instances
	for _, g := range cfg.Groups {
		for _, name := range g.Instances {
			peers[name] = g.Instances
		}
	}
	needs := map[string]bool{} // the instance, or a member of its group, has the key on
	for _, in := range cfg.Instances {
		if in.PreemptNeedsReals {
			needs[in.Name] = true
			for _, p := range peers[in.Name] {
				needs[p] = true
			}
		}
	}
	out := map[string][]string{}
	for _, in := range cfg.Instances {
		if !in.Preempt || !needs[in.Name] {
			continue
		}
		svcs := own[in.Name]
		for _, p := range peers[in.Name] {
			if p != in.Name {
				svcs = append(svcs, own[p]...)
			}
		}
		slices.Sort(svcs)
		out[in.Name] = slices.Compact(svcs)
	}
	return out
}

// The reasons a service holds preemption.
const (
	whyNoneUp   = "no realserver up"
	whyFirstRes = "waiting for the first health check results"
	whyKernel   = "a realserver is up, not yet in the kernel's IPVS table"
)

// serviceReadiness says, for each service of cfg that want names,
// whether this node can serve it: "" when some realserver with a weight,
// not drained, is up by a check result (not only by its check's initial
// state) that the kernel's table follows, else why not. applied is the
// reconciler's AppliedThrough as a Unix time: a verdict that changed
// after it, or a realserver of a service touched after it (a drain, a
// reload: touched), may not be a destination yet, and a director that
// took the VIPs then would refuse the clients (ICMP port unreachable:
// IPVS has no destination). A service with no realserver at all is ready (there
// is nothing to wait for). rows and health are the health runner's
// (HealthRows), read in one pass with no copy: a farm of 100,000
// realservers costs a few milliseconds. A service none of whose
// realservers the runner tracks yet (a reload being applied) awaits its
// first results.
func serviceReadiness(cfg *config.Config, want map[string]bool, rows []healthcheck.Pair, health []healthcheck.RealState,
	drained func(service string, real netip.AddrPort) bool, touched func(service string) float64, applied float64) map[string]string {
	out := make(map[string]string, len(want))
	var idle map[healthcheck.Pair]bool // realservers of weight 0: never usable
	for _, s := range cfg.Services {
		if !want[s.Name] {
			continue
		}
		out[s.Name] = ""
		if len(s.Reals) > 0 {
			out[s.Name] = whyFirstRes // until a row of it says otherwise
		}
		for _, r := range s.Reals {
			if r.Weight <= 0 {
				if idle == nil {
					idle = map[healthcheck.Pair]bool{}
				}
				idle[healthcheck.Pair{Service: s.Name, Real: r.Addr}] = true
			}
		}
	}
	tracked := map[string]bool{}
	pending := map[string]bool{}
	unapplied := map[string]bool{}
	for i, p := range rows {
		why, ok := out[p.Service]
		if !ok || why == "" && tracked[p.Service] {
			continue // not wanted, or already ready
		}
		tracked[p.Service] = true
		if h := health[i]; h.Up && !idle[p] && !drained(p.Service, p.Real) {
			switch {
			case h.Checks == 0:
				pending[p.Service] = true
			case max(changedAt(h), touched(p.Service)) > applied:
				unapplied[p.Service] = true
			default:
				out[p.Service] = ""
				continue
			}
		}
		if out[p.Service] != "" {
			switch {
			case unapplied[p.Service]:
				out[p.Service] = whyKernel
			case pending[p.Service]:
				out[p.Service] = whyFirstRes
			default:
				out[p.Service] = whyNoneUp
			}
		}
	}
	return out
}

// changedAt is when h last changed between up and down (Unix seconds),
// 0 if it never has: its state since the start, in the kernel from the
// first reconcile on.
func changedAt(h healthcheck.RealState) float64 {
	if math.IsNaN(h.Since) {
		return 0
	}
	return h.Since
}

// unixSeconds is t as RealState.Since counts it, -Inf for the zero time
// (nothing applied yet).
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return math.Inf(-1)
	}
	return float64(t.UnixNano()) / 1e9
}

// holdReasons returns why each instance of fronted is held, "" for those
// that are not: the first services it fronts that this node cannot
// serve, with why.
func holdReasons(fronted map[string][]string, ready map[string]string) map[string]string {
	out := make(map[string]string, len(fronted))
	for in, svcs := range fronted {
		var not []string
		for _, s := range svcs {
			if why := ready[s]; why != "" {
				not = append(not, "service "+s+": "+why)
			}
		}
		if len(not) > 3 {
			not = append(not[:3], fmt.Sprintf("and %d more", len(not)-3))
		}
		out[in] = strings.Join(not, "; ")
	}
	return out
}

// touchTimes records when each service's realservers last changed other
// than by a health verdict (whose RealState carries its own time): an
// operator's drain or undrain, and a reload (every service).
type touchTimes struct {
	mu     sync.Mutex
	reload time.Time
	by     map[string]time.Time
}

// service records a change to service at t.
func (tt *touchTimes) service(name string, t time.Time) {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	if tt.by == nil {
		tt.by = map[string]time.Time{}
	}
	tt.by[name] = t
}

// all records a change to every service at t (a reload).
func (tt *touchTimes) all(t time.Time) {
	tt.mu.Lock()
	tt.reload, tt.by = t, nil
	tt.mu.Unlock()
}

// at returns when service last changed, as a Unix time (0: never).
func (tt *touchTimes) at(service string) float64 {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	t := tt.reload
	if s := tt.by[service]; s.After(t) {
		t = s
	}
	if t.IsZero() {
		return 0
	}
	return unixSeconds(t)
}

// kickGate asks the gate to recompute the holds; it never blocks.
func (d *Director) kickGate() {
	select {
	case d.gateKick <- struct{}{}:
	default:
	}
}

// runGate keeps the instances' preemption holds up to date until ctx
// ends: at once, then after each kick, and every gatePoll while a first
// check result is awaited (it arrives without a transition to kick it);
// at most once per gatePoll, however often health changes.
func (d *Director) runGate(ctx context.Context, set *vrrpSet) {
	applied := map[string]string{}
	for {
		waiting := d.gateOnce(ctx, set, applied)
		select {
		case <-ctx.Done():
			return
		case <-time.After(gatePoll):
		}
		if waiting {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-d.gateKick:
		}
	}
}

// gateOnce recomputes the holds and hands the changed ones to their
// instances; it reports whether any awaits first check results, which
// come without a health transition to kick the gate, or the kernel's
// table, whose reconcile does not kick it either.
func (d *Director) gateOnce(ctx context.Context, set *vrrpSet, applied map[string]string) (waiting bool) {
	cfg := d.Current().Config
	fronted := fronts(cfg)
	want := map[string]bool{}
	for _, svcs := range fronted {
		for _, s := range svcs {
			want[s] = true
		}
	}
	var ready map[string]string
	// Read before the rows: a verdict that changes in between counts as
	// not yet applied, never the other way round.
	through := unixSeconds(d.dir.AppliedThrough())
	d.health.HealthRows(func(rows []healthcheck.Pair, health []healthcheck.RealState) {
		ready = serviceReadiness(cfg, want, rows, health, d.drains.has, d.touched.at, through)
	})
	reasons := withSweepHold(cfg, holdReasons(fronted, ready), d.follow.sweepPending(cfg), applied)
	for in, why := range reasons {
		waiting = waiting || strings.Contains(why, whyFirstRes) || strings.Contains(why, whyKernel)
		if n := set.byName[in]; n != nil && applied[in] != why {
			// An error means the node stopped (or ctx ended): nothing
			// to hold any more.
			_ = n.HoldPreempt(ctx, why)
			applied[in] = why
		}
	}
	return waiting
}
