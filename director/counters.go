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
// scrapes and status snapshots of a TTL, and their rows in the
// exposition's order between the scrapes of one configuration. Its lock
// is held across a read, so that concurrent scrapes make one dump.
type counterCache struct {
	mu   sync.Mutex
	at   time.Time // of the last read; zero: none
	raw  map[ipvs.ServiceKey]ipvs.Counters
	err  error
	rows *ipvs.CounterRows // raw's, laid out for of
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
		c.at, c.rows = now, nil
	}
	return c.raw, c.err
}

// rowsFor returns the counters as rows of l, laid out once per read and
// configuration; nil when the table has no counters.
func (c *counterCache) rowsFor(ctx context.Context, now time.Time, l *labelSet, read func(context.Context) (map[ipvs.ServiceKey]ipvs.Counters, error)) (*ipvs.CounterRows, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.of != l {
		c.at = time.Time{} // a new configuration: its services may be new in the kernel too
	}
	raw, err := c.getLocked(ctx, now, read)
	if raw == nil {
		return nil, err
	}
	if c.rows == nil || c.of != l {
		c.rows, c.of = layOut(raw, l), l
	}
	return c.rows, err
}

// layOut aligns raw with l's rows; destinations the files do not list
// follow, sorted.
func layOut(raw map[ipvs.ServiceKey]ipvs.Counters, l *labelSet) *ipvs.CounterRows {
	out := &ipvs.CounterRows{ServiceLabels: l.svcLabels, Services: make([]ipvs.ServiceRow, len(l.svcs)),
		DestLabels: l.realLabels, Dests: make([]ipvs.DestRow, len(l.reals))}
	for i := range l.svcs {
		s := &l.svcs[i]
		c, ok := raw[s.key]
		if !ok {
			continue // not in the kernel (yet)
		}
		out.Services[i] = ipvs.NewServiceRow(c)
		seen := 0
		for j, r := range s.reals {
			if dc, ok := c.Dest(r.addr); ok {
				out.Dests[s.first+j] = ipvs.DestRow{OK: true, C: dc}
				seen++
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
	return out
}

// ipvsCounters are the kernel's counters for the status snapshot, from
// the cache the scrapes share.
func (d *Director) ipvsCounters(ctx context.Context) (map[ipvs.ServiceKey]ipvs.Counters, error) {
	return d.metrics.counters.get(ctx, time.Now(), d.dir.Counters)
}
