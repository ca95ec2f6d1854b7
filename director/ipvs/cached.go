package ipvs

import (
	"net/netip"
	"slices"
)

// cached is the Reconciler's copy of the kernel's table (Reconciler.have),
// kept for as long as the daemon runs, so kept small: each service's
// destinations in a slice ordered by address rather than a map. A map of
// 10 destinations takes some 1.2 KB (16 slots of 64 bytes, and its
// headers), the slice 640 bytes: 6 MB less at 10,000 services of 10.
// Diff still takes Tables: the few services a health event touches are
// made into one (subset), the whole table only for a full reconcile or a
// status (table).
type cached map[ServiceKey]*cachedService

// cachedService is a service's settings (Dests nil) and destinations.
type cachedService struct {
	settings Service
	dests    []cachedDest // ordered by addr
}

// cachedDest is one destination of a cachedService.
type cachedDest struct {
	addr netip.AddrPort
	dest Dest
}

// cacheOf returns t's compact copy.
func cacheOf(t Table) cached {
	c := make(cached, len(t))
	for k, s := range t {
		c.set(k, s)
	}
	return c
}

// set makes the cached service k hold s.
func (c cached) set(k ServiceKey, s Service) {
	cs := &cachedService{settings: s, dests: make([]cachedDest, 0, len(s.Dests))}
	cs.settings.Dests = nil
	for a, d := range s.Dests {
		cs.dests = append(cs.dests, cachedDest{a, d})
	}
	slices.SortFunc(cs.dests, func(x, y cachedDest) int { return x.addr.Compare(y.addr) })
	c[k] = cs
}

// service returns the cached service k as a Service of its own.
func (cs *cachedService) service() Service {
	s := cs.settings
	s.Dests = make(map[netip.AddrPort]Dest, len(cs.dests))
	for _, d := range cs.dests {
		s.Dests[d.addr] = d.dest
	}
	return s
}

// table returns the whole cached table as a Table of its own.
func (c cached) table() Table {
	t := make(Table, len(c))
	for k, cs := range c {
		t[k] = cs.service()
	}
	return t
}

// subset returns, as a Table of their own, the cached services that want
// names.
func (c cached) subset(want Table) Table {
	t := make(Table, len(want))
	for k := range want {
		if cs, ok := c[k]; ok {
			t[k] = cs.service()
		}
	}
	return t
}

// applyOne updates c as the kernel did when it accepted op, as
// Table.applyOne does a Table.
func (c cached) applyOne(op Op) {
	cs := c[op.Key]
	switch op.Kind {
	case AddService, UpdateService:
		if cs == nil {
			cs = &cachedService{}
			c[op.Key] = cs
		}
		cs.settings = op.Service
		cs.settings.Dests = nil
		return
	case DelService:
		delete(c, op.Key)
		return
	}
	if cs == nil {
		cs = &cachedService{}
		c[op.Key] = cs
	}
	i, found := cs.find(op.Addr)
	switch {
	case op.Kind == DelDest && found:
		cs.dests = slices.Delete(cs.dests, i, i+1)
	case op.Kind == DelDest:
	case found:
		cs.dests[i].dest = op.Dest
	default:
		if n := len(cs.dests); n == cap(cs.dests) {
			// Grow by a quarter, not append's double: a service added
			// a destination at a time (the in-memory kernel's) keeps
			// little room, 11 for 10.
			cs.dests = append(make([]cachedDest, 0, n+n/4+1), cs.dests...)
		}
		cs.dests = slices.Insert(cs.dests, i, cachedDest{op.Addr, op.Dest})
	}
}

// find returns where addr is, or would be, in cs's destinations.
func (cs *cachedService) find(addr netip.AddrPort) (int, bool) {
	return slices.BinarySearchFunc(cs.dests, addr, func(d cachedDest, a netip.AddrPort) int { return d.addr.Compare(a) })
}

// trim gives the services that ops added destinations to slices of their
// exact size: a cold apply inserts a service's destinations one by one,
// and the slice would keep the room its growth made (16 for 10).
func (c cached) trim(ops []Op) {
	for i, op := range ops {
		if op.Kind != AddDest || i+1 < len(ops) && ops[i+1].Key == op.Key && ops[i+1].Kind == AddDest {
			continue // not an addition, or not the service's last in a run of them
		}
		if cs := c[op.Key]; cs != nil && cap(cs.dests) > len(cs.dests) {
			cs.dests = slices.Clone(cs.dests)
		}
	}
}
