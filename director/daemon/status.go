package daemon

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/lvsd/lvsd/director"
	"github.com/lvsd/lvsd/director/control"
	"github.com/lvsd/lvsd/healthcheck"
	"github.com/lvsd/lvsd/vrrp"
)

// Status is what `lvsd status` shows of the daemon itself.
type Status struct {
	Node       string                   `json:"node"`
	Version    string                   `json:"version"`
	Config     string                   `json:"config"`
	StartedAt  time.Time                `json:"started_at"`
	Generation int                      `json:"generation"`
	LoadedAt   time.Time                `json:"loaded_at"`
	Instances  int                      `json:"instances"`
	Services   int                      `json:"services"`
	Reals      int                      `json:"reals"`
	LastReload *ReloadResult            `json:"last_reload,omitempty"`
	IPVS       IPVSStatus               `json:"ipvs"`
	VRRP       []vrrp.NodeStatus        `json:"vrrp"`
	Health     []healthcheck.RealHealth `json:"health"`
	Drained    map[string][]string      `json:"drained,omitempty"`
	Handover   *HandoverStatus          `json:"handover,omitempty"`
	Warnings   []string                 `json:"warnings,omitempty"`
}

// HandoverStatus is what the connection handover at VIP moves did: the
// last connection table sent to the peer, and how many resets and
// untranslated NAT replies the hold has dropped since lvsd started.
type HandoverStatus struct {
	LastFlushAt time.Time `json:"last_flush_at,omitzero"`
	LastFlushed int       `json:"last_flushed"`
	LastError   string    `json:"last_error,omitempty"`
	Held        uint64    `json:"held"`
}

// IPVSStatus is the kernel table as the last reconcile left it.
type IPVSStatus struct {
	At time.Time `json:"at"`
	// Latency of the last reconcile: from the change that asked for it
	// (a health decision, a reload) to the kernel holding it.
	Latency  time.Duration   `json:"latency_ns"`
	Error    string          `json:"error,omitempty"`
	Services []ServiceStatus `json:"services"`
}

// ServiceStatus is one virtual service in the kernel, with its counters
// when the kernel has them.
type ServiceStatus struct {
	Key         string       `json:"key"`
	Scheduler   string       `json:"scheduler"`
	Connections uint32       `json:"connections"`
	InBytes     uint64       `json:"in_bytes"`
	OutBytes    uint64       `json:"out_bytes"`
	CPS         uint32       `json:"cps"`
	Reals       []RealStatus `json:"reals"`
}

// RealStatus is one destination in the kernel.
type RealStatus struct {
	Addr     string `json:"addr"`
	Forward  string `json:"forward"`
	Weight   int    `json:"weight"`
	Active   uint32 `json:"active_conns"`
	Inactive uint32 `json:"inactive_conns"`
}

// Status returns a snapshot; it is safe from any goroutine.
func (d *Daemon) Status(ctx context.Context) Status {
	d.mu.Lock()
	cur, last := d.Current(), d.last
	d.mu.Unlock()
	s := Status{
		LastReload: last,
		Node:       cur.Config.Node, Version: d.version, Config: d.path, StartedAt: d.started,
		Generation: cur.Generation, LoadedAt: cur.At,
		Instances: len(cur.Config.Instances), Services: len(cur.Config.Services),
	}
	for _, svc := range cur.Config.Services {
		s.Reals += len(svc.Reals)
	}
	if d.dir != nil {
		t, err := d.dir.Table(ctx)
		counters, cerr := d.dir.Counters(ctx)
		s.IPVS = ipvsStatus(d.dir.Last(), t, cmp.Or(err, cerr), counters)
	}
	if d.vrrp != nil {
		for _, n := range d.vrrp.nodes {
			s.VRRP = append(s.VRRP, n.Status())
		}
	}
	if d.health != nil {
		s.Health = d.health.Snapshot()
		s.Drained = d.drains.list()
	}
	if cur.Config.Sync != nil {
		h := d.follow.status()
		if n, err := d.handover.Held(); err == nil {
			h.Held = n
		}
		s.Handover = &h
	}
	if unmet := d.unmet.Load(); unmet != nil {
		for _, r := range *unmet {
			s.Warnings = append(s.Warnings, "kernel setting missing: "+r.String())
		}
	}
	return s
}

func ipvsStatus(r director.Result, t director.Table, readErr error, counters map[director.ServiceKey]director.Counters) IPVSStatus {
	st := IPVSStatus{At: r.At, Latency: r.Latency, Services: []ServiceStatus{}}
	if err := cmp.Or(r.Err, readErr); err != nil {
		st.Error = err.Error()
	}
	keys := make([]director.ServiceKey, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b director.ServiceKey) int { return strings.Compare(a.String(), b.String()) })
	for _, k := range keys {
		svc := t[k]
		c := counters[k]
		ss := ServiceStatus{Key: k.String(), Scheduler: svc.Scheduler, Connections: c.Connections,
			InBytes: c.InBytes, OutBytes: c.OutBytes, CPS: c.CPS}
		addrs := slices.SortedFunc(maps.Keys(svc.Dests), func(a, b netip.AddrPort) int { return a.Compare(b) })
		for _, a := range addrs {
			dst := svc.Dests[a]
			dc := c.Dests[a]
			ss.Reals = append(ss.Reals, RealStatus{Addr: a.String(), Forward: string(dst.Forward), Weight: dst.Weight,
				Active: dc.Active, Inactive: dc.Inactive})
		}
		st.Services = append(st.Services, ss)
	}
	return st
}

// handle answers the control socket.
func (d *Daemon) handle(ctx context.Context, req control.Request) (any, error) {
	switch req.Cmd {
	case "status":
		return d.Status(ctx), nil
	case "reload":
		return d.Reload(ctx)
	case "diff":
		return d.Diff(ctx)
	case "switchover":
		var a SwitchoverArgs
		if len(req.Args) > 0 {
			if err := json.Unmarshal(req.Args, &a); err != nil {
				return nil, fmt.Errorf("switchover: %w", err)
			}
		}
		return d.Switchover(ctx, a)
	case "drain":
		var a DrainArgs
		if err := json.Unmarshal(req.Args, &a); err != nil {
			return nil, fmt.Errorf("drain: %w", err)
		}
		return nil, d.Drain(a)
	}
	return nil, fmt.Errorf("%w %q (have: status, reload, diff, drain, switchover)", errUnknownCmd, req.Cmd)
}
