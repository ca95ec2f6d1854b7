package director

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/lvsd/lvsd/director/ipvs"
)

// countersTTL is how long a read of the kernel's IPVS counters serves:
// the kernel folds its per-CPU counters into the ones it reports, and
// refreshes its rate estimates, every 2 s (ip_vs_est.c), so reading more
// often reads the same figures again. With a real kernel a read is one
// netlink dump of the services and one per service of its destinations.
const countersTTL = 2 * time.Second

// counterCache shares one read of the kernel's counters between the
// scrapes and status snapshots of a TTL. Its lock is held across a read,
// so that concurrent scrapes make one dump.
type counterCache struct {
	mu    sync.Mutex
	at    time.Time // of the last read; zero: none
	raw   map[ipvs.ServiceKey]ipvs.Counters
	err   error
	reads uint64    // counts reads: rows laid out from one serve until the next
	of    *labelSet // the configuration of the last rows asked for
}

// counterRows are the counters of one read laid out in the exposition's
// order, kept by a scrape's scratch (bulkScratch) and laid out again into
// the same slices after the next read: at 1,000 services x 10
// realservers they are 0.6 MB, which a new layout every read left to the
// collector.
type counterRows struct {
	rows ipvs.CounterRows
	read uint64 // the counterCache's read they come from
	of   *labelSet
}

// get returns the counters read at most countersTTL before now (real
// time: the kernel's period is), reading them with read when they are
// older. A failed read is kept for the TTL
// too: a kernel that refuses is not asked again at every scrape.
func (c *counterCache) get(ctx context.Context, now time.Time, read func(context.Context) (map[ipvs.ServiceKey]ipvs.Counters, error)) (map[ipvs.ServiceKey]ipvs.Counters, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.getLocked(ctx, now, read)
}

func (c *counterCache) getLocked(ctx context.Context, now time.Time, read func(context.Context) (map[ipvs.ServiceKey]ipvs.Counters, error)) (map[ipvs.ServiceKey]ipvs.Counters, error) {
	if c.at.IsZero() || now.Sub(c.at) >= countersTTL || now.Before(c.at) {
		c.raw, c.err = read(ctx)
		c.at = now
		c.reads++
	}
	return c.raw, c.err
}

// rowsFor returns the counters as rows of l, laid out into into once per
// read and configuration; nil when the table has no counters. The rows
// are into's: they stay valid until into is laid out again.
func (c *counterCache) rowsFor(ctx context.Context, now time.Time, l *labelSet, read func(context.Context) (map[ipvs.ServiceKey]ipvs.Counters, error), into *counterRows) (*ipvs.CounterRows, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.of != l {
		c.at, c.of = time.Time{}, l // a new configuration: its services may be new in the kernel too
	}
	raw, err := c.getLocked(ctx, now, read)
	if raw == nil {
		return nil, err
	}
	if into.of != l || into.read != c.reads {
		layOut(raw, l, &into.rows)
		into.of, into.read = l, c.reads
	}
	return &into.rows, err
}

// layOut aligns raw with l's rows, into out's slices; destinations the
// files do not list follow, sorted.
func layOut(raw map[ipvs.ServiceKey]ipvs.Counters, l *labelSet, out *ipvs.CounterRows) {
	out.ServiceLabels, out.DestLabels = l.svcLabels, l.realLabels
	out.Services, out.Dests = zeroed(out.Services, len(l.svcs)), zeroed(out.Dests, len(l.reals))
	clear(out.Extra) // drops the label strings of the last layout
	out.Extra = out.Extra[:0]
	for i := range l.svcs {
		s := &l.svcs[i]
		c, ok := raw[s.key]
		if !ok {
			continue // not in the kernel (yet)
		}
		out.Services[i] = ipvs.NewServiceRow(c)
		// Both in address order: one walk, where a lookup per realserver
		// was most of a layout's 1 ms at 1,000 services x 10 realservers.
		seen, j := 0, 0
		for k := range s.reals {
			if s.byAddr != nil {
				k = int(s.byAddr[k])
			}
			a := s.reals[k].addr
			for j < len(c.Dests) && c.Dests[j].Addr != a && c.Dests[j].Addr.Compare(a) < 0 {
				j++
			}
			if j < len(c.Dests) && c.Dests[j].Addr == a {
				out.Dests[s.first+k] = ipvs.DestRow{OK: true, C: c.Dests[j].DestCounters}
				seen++
				j++
			}
		}
		if seen == len(c.Dests) {
			continue
		}
		for _, d := range c.Dests { // in address order
			if !slices.ContainsFunc(s.reals, func(r realRow) bool { return r.addr == d.Addr }) {
				out.Extra = append(out.Extra, ipvs.ExtraDest{Labels: l.destLabels(s, d.Addr), C: d.DestCounters})
			}
		}
	}
}

// zeroed returns s with n zero elements, in s's array when it is big
// enough.
func zeroed[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// ipvsCounters are the kernel's counters for the status snapshot, from
// the cache the scrapes share.
func (d *Director) ipvsCounters(ctx context.Context) (map[ipvs.ServiceKey]ipvs.Counters, error) {
	return d.metrics.counters.get(ctx, time.Now(), d.dir.Counters)
}
