package director

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/handover/connsync"
)

// This file keeps a backup's IPVS table free of closed TCP connections
// (see connsync.Expiries). IPVS keeps a TIME_WAIT entry 120 s, twice a
// Linux client's own TIME_WAIT, and a client that reuses its port meets
// the entry of its earlier connection: on the master the kernel
// reschedules the tuple at the SYN, but on a backup the entry stays
// stale until the master's sync daemon sends the new connection (at its
// 3rd packet, batched up to 2 s), and forever for a tuple the backup's
// own kernel kept from its days as master. A backup that takes over with
// such an entry sends the connection's data to the old realserver, which
// resets it (VM NAT end-to-end test: a restarted director preempted back
// and a client saw "connection reset by peer" in a planned move). Without
// the entry, the segment is unknown to IPVS and the relay passes it to
// the director that has the connection.

// sweepEvery is the least time between two sweeps, and sweepFactor times
// the last sweep's duration the time when that is longer: on a table
// large enough that reading it takes long, the sweep takes at most a
// twentieth of a core.
const (
	sweepEvery  = 5 * time.Second
	sweepFactor = 20
)

// sweepSettle is how long after the first sweep's messages went out the
// entries are surely gone: the backup daemon re-arms each entry's timer
// to connsync.ExpireTimeout (1 s) when its thread has read the message
// (1.01 s from send to gone in TestIPVSBackupSweepsClosedEntries).
const sweepSettle = 2 * time.Second

// whySweeping is the preemption hold of a director whose first sweep has
// not finished: a restarted director that preempted at once would take
// the VIPs with the stale entries it kept from its days as master.
const whySweeping = "sweeping stale connections"

// sweeps sweeps while this node is a backup, until ctx ends: at once,
// then every sweepEvery (or sweepFactor times the last sweep). The first
// sweep releases the preemption hold (sweepPending) sweepSettle after it
// expired something, at once if it expired nothing, failed or did not run
// (master, no sync). backup reports whether this node holds no VIP now.
func (f *follower) sweeps(ctx context.Context, backup func() bool) {
	first := true
	for {
		n, wait := f.sweepOnce(backup)
		if first {
			first = false
			if n > 0 {
				select {
				case <-ctx.Done():
					return
				case <-f.d.clock.After(sweepSettle):
				}
				wait -= sweepSettle
			}
			f.swept.Store(true)
			f.d.kickGate()
		}
		select {
		case <-ctx.Done():
			return
		case <-f.d.clock.After(wait):
		}
	}
}

// sweepOnce sweeps if this node is a backup with sync (the backup daemon
// runs then: startSync), and returns how many entries it expired and how
// long to wait for the next (sweepEvery, or sweepFactor times this
// sweep's duration, after this one began). A director without VRRP
// instances is master for good.
func (f *follower) sweepOnce(backup func() bool) (int, time.Duration) {
	cfg := f.d.Current().Config
	if cfg.Sync == nil || len(cfg.Instances) == 0 || !backup() {
		return 0, sweepEvery
	}
	start := f.d.clock.Now()
	n, err := f.d.handover.Sweep(cfg, backup)
	took := f.d.clock.Since(start)
	f.d.metrics.swept(n, err)
	switch {
	case errors.Is(err, connsync.ErrNotBackup):
		f.d.log.Debug("took the VIPs while sweeping: closed connections left to the kernel")
	case err != nil && err.Error() != f.sweepErr:
		f.d.log.WithError(err).Warn("closed connections not swept: after a takeover, a reused client port may meet a stale entry and be reset")
	case err != nil: // the same failure every sweepEvery: warned once
		f.d.log.WithError(err).Debug("closed connections not swept")
	case n > 0:
		f.d.log.WithFields(logrus.Fields{"connections": n, "took": took.Round(time.Microsecond)}).
			Info("closed connections expired on this backup")
	}
	f.sweepErr = ""
	if err != nil && !errors.Is(err, connsync.ErrNotBackup) {
		f.sweepErr = err.Error()
	}
	return n, max(sweepEvery, sweepFactor*took) - took // from this sweep's start
}

// sweepPending reports whether preemption waits for the first sweep: sync
// is configured and the sweeps have not finished one yet.
func (f *follower) sweepPending(cfg *config.Config) bool {
	return cfg.Sync != nil && !f.swept.Load()
}

// withSweepHold returns reasons (by instance, "" for none) with
// whySweeping added to the hold of every preempting instance of cfg while
// pending, and "" for every instance held before (applied) that reasons
// does not name: the sweep's hold also covers instances the health gate
// does not hold, and must end for them too.
func withSweepHold(cfg *config.Config, reasons map[string]string, pending bool, applied map[string]string) map[string]string {
	for _, in := range cfg.Instances {
		if pending && in.Preempt {
			reasons[in.Name] = strings.TrimPrefix(reasons[in.Name]+"; "+whySweeping, "; ")
		}
	}
	for in, why := range applied {
		if _, ok := reasons[in]; !ok && why != "" {
			reasons[in] = ""
		}
	}
	return reasons
}
