package ipvs

import (
	"context"
	"net/netip"
	"slices"
)

// Counters are the kernel's live figures for one service, which the
// reconciler ignores and operators want to see.
type Counters struct {
	Connections uint32 // since the service was made; the kernel refreshes these every 2 s
	InPackets   uint32
	OutPackets  uint32
	InBytes     uint64
	OutBytes    uint64
	CPS         uint32 // connections per second, the kernel's estimate
	// Dests are the service's destinations in address order: a slice
	// rather than a map, since a read at 1,000 services x 10 realservers
	// every 2 s made 2.3 MB of maps for the collector to sweep, and a
	// scrape looks each one up once per read.
	Dests []DestCount
}

// DestCount is a destination's counters with its address.
type DestCount struct {
	Addr netip.AddrPort
	DestCounters
}

// Dest returns the counters of the destination a, if the service has it.
func (c *Counters) Dest(a netip.AddrPort) (DestCounters, bool) {
	i, ok := slices.BinarySearchFunc(c.Dests, a, func(d DestCount, a netip.AddrPort) int { return d.Addr.Compare(a) })
	if !ok {
		return DestCounters{}, false
	}
	return c.Dests[i].DestCounters, true
}

// sortDests puts the destinations in address order, as Dest expects.
func (c *Counters) sortDests() {
	slices.SortFunc(c.Dests, func(x, y DestCount) int { return x.Addr.Compare(y.Addr) })
}

// DestCounters are a destination's connection counts and traffic.
type DestCounters struct {
	Active     uint32
	Inactive   uint32
	Persistent uint32
	Total      uint32 // connections since the destination was added
	InPackets  uint32
	OutPackets uint32
	InBytes    uint64
	OutBytes   uint64
	CPS        uint32 // the kernel's estimate of new connections a second
}

// CounterReader is implemented by IPVS tables that have counters: the
// kernel's, and the in-memory one (all zero).
type CounterReader interface {
	Counters() (map[ServiceKey]Counters, error)
}

// Counters reads the kernel's counters on Run's goroutine; it returns nil
// when the table has none.
func (d *Reconciler) Counters(ctx context.Context) (map[ServiceKey]Counters, error) {
	cr, ok := d.k.(CounterReader)
	if !ok {
		return nil, nil
	}
	var out map[ServiceKey]Counters
	err := d.onLoop(ctx, func() (err error) {
		out, err = cr.Counters()
		return err
	})
	return out, err
}
