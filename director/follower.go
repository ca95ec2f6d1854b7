package director

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/handover"
	"github.com/lvsd/lvsd/director/handover/rstguard"
	"github.com/lvsd/lvsd/director/ipvs"
)

// Handover carries connections being opened across a VIP move (see
// package handover); tests give a fake.
type Handover interface {
	// Flush sends this node's IPVS connections to the peer's backup
	// daemon and returns how many it sent.
	Flush(cfg *config.Config) (int, error)
	// Hold holds, for d, the resets from h.Resets (TCP VIP:port) and the
	// untranslated NAT replies from h.Replies (realserver addr:port).
	Hold(h rstguard.Holds, d time.Duration) error
	// Relay passes, for d, the packets r names to the other director.
	Relay(r rstguard.Relays, d time.Duration) error
	// Sweep ages out this node's closed TCP connections (TIME_WAIT,
	// CLOSE) of cfg's services and returns how many it expired; backup is
	// asked before anything is sent (see sweep.go).
	Sweep(cfg *config.Config, backup func() bool) (int, error)
	// Held returns how many resets were held so far.
	Held() (uint64, error)
	Close() error
}

// idleHold is how long a node that does not hold the VIPs keeps its reset
// hold armed (it is re-armed well before that): armed ahead, the hold is
// in place the instant a VIP arrives, with no race against the VRRP node
// adding the address. On a node without the VIPs it holds nothing, as the
// node sends no reset from an address it does not have.
const idleHold = 24 * time.Hour

// peersEvery is how often the follower looks for newly heard peers.
const peersEvery = 100 * time.Millisecond

// stragglerDelay is when the old master flushes its table a second time,
// for connections its IPVS admitted while the VIPs were being released.
const stragglerDelay = 250 * time.Millisecond

// follower makes the node's connection handling follow VRRP mastership:
// the kernel's sync master daemon runs while this node holds VIPs; on
// taking them, the reset hold runs for sync.hold_resets and then expires;
// on giving them up, the connection table goes to the peer.
type follower struct {
	d      *Director
	mu     sync.Mutex
	master bool
	last   api.HandoverStatus // guarded by lastMu: flushes run outside mu
	// localUntil is when the window after a release ends (relayBackup),
	// tookUntil the one after a takeover (relayMaster waits for it).
	localUntil, tookUntil time.Time
	peersSeen             handover.Peers // the peers the relay was last armed with
	lastMu                sync.Mutex
	// flushMu lets one flush run at a time. A release's flush runs
	// outside mu (see stepTo), so that it never holds up a step.
	flushMu sync.Mutex
	// flushing counts the release flushes running apart (tests wait).
	flushing sync.WaitGroup
	// swept is set once the first sweep of closed connections is done
	// (sweep.go): until then preemption is held.
	swept atomic.Bool
	// sweepErr is the last sweep's failure, "" for none; only the
	// sweeps' goroutine uses it (a failure that repeats warns once).
	sweepErr string
}

func (f *follower) status() api.HandoverStatus {
	f.lastMu.Lock()
	defer f.lastMu.Unlock()
	return f.last
}

// arm puts the idle reset hold in place; called before VRRP starts, at
// every step as a backup and after a reload.
func (f *follower) arm(cfg *config.Config) {
	if err := f.d.handover.Hold(handover.HoldsOf(cfg), idleHold); err != nil {
		f.d.log.WithError(err).Warn("reset hold not armed: a connection opened during a takeover may be reset")
	}
	f.relay(cfg, relayBackup)
}

// run steps on every VRRP transition until ctx ends.
func (f *follower) run(ctx context.Context, set *vrrpSet, ev vrrpEvents) {
	rearm := f.d.clock.NewTicker(time.Hour)
	defer rearm.Stop()
	// A backup learns its master's address from adverts, after the state
	// change that armed its relay: look again every 100 ms, as a restarted
	// director preempts one Master_Down_Interval after its start (seen in
	// the VM: taking over before the relay knew the old master cost a
	// data retransmission).
	peers := f.d.clock.NewTicker(peersEvery)
	defer peers.Stop()
	go f.sweeps(ctx, func() bool { return !set.holdsVIPs() })
	for {
		select {
		case <-ctx.Done():
			return
		case <-ev.changed:
		case <-rearm.Chan():
		case <-peers.Chan():
			if !f.peersChanged() {
				continue
			}
		case <-ev.healed:
			f.healed()
			continue
		case <-ev.conflicted:
			f.conflicted()
			continue
		}
		f.step(set.holdsVIPs())
	}
}

// step moves to holds (whether this node holds any VIP now).
func (f *follower) step(holds bool) { f.stepTo(holds, false) }

// stepTo is step; at stop (final) the caller flushes the stragglers
// itself, before lvsd exits, instead of a timer that might never fire.
func (f *follower) stepTo(holds, final bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cfg := f.d.Current().Config
	if holds == f.master {
		switch {
		case !holds:
			f.arm(cfg)
		case f.resign():
			f.relay(cfg, relayResigning)
		case f.d.clock.Now().After(f.tookUntil):
			f.relay(cfg, relayMaster) // not within a takeover's window
		}
		return
	}
	f.master = holds
	if holds {
		f.relay(cfg, relayTook)
	} else {
		f.relay(cfg, relayReleased)
	}
	if holds {
		if cfg.Sync != nil && cfg.Sync.HoldResets > 0 {
			if err := f.d.handover.Hold(handover.HoldsOf(cfg), cfg.Sync.HoldResets); err != nil {
				f.d.log.WithError(err).Warn("reset hold not set")
			}
		}
		f.switchSync(cfg, true)
		return
	}
	// The hold before the flush: the released VIP:ports stay local
	// (relayReleased), so this node's own stack sees every segment its
	// IPVS does not know until the window ends, and must not reset them.
	// Armed after the flush, it left a gap as long as the flush (725 ms
	// for 348 connections under emulation in the VM).
	f.arm(cfg)
	f.switchSync(cfg, false)
	if final {
		f.flush(cfg, "released the VIPs")
		return
	}
	if cfg.Sync == nil {
		return
	}
	// The table goes to the peer apart from the steps: a flush takes
	// seconds under load, and the next step must not wait for it. In the
	// VM soak (seed 7, #73) a director whose link went down flushed 7,641
	// connections for 3.8 s; it took the VIPs back 1.3 s into that flush
	// and armed the takeover's relay and short hold, and started its sync
	// master daemon, only when the flush ended, 2.6 s after the takeover:
	// meanwhile the connections the peer had opened reached its stack,
	// their resets were held, and a client timed out.
	f.flushing.Add(1)
	go func() {
		defer f.flushing.Done()
		f.flush(cfg, "released the VIPs")
		f.d.clock.AfterFunc(stragglerDelay, func() { f.flush(f.d.Current().Config, "stragglers") })
	}()
}

// The relay (see rstguard.Relays) by role, so that what a move needs is in
// place before the VIPs move, not a few milliseconds after:
//   - a backup passes to the master (its peer) the replies that still
//     reach it and, in case it takes over, what its IPVS will not know
//     (harmless meanwhile: without the VIPs nothing reaches that chain);
//   - a master keeps its VIP:ports local for good, and on taking over
//     passes to the old master, for sync.hold_resets, what it does not
//     know yet;
//   - a master handing over (resigning) passes replies to the new one:
//     the new master takes the VIPs of a group one after another, and a
//     connection it opened through the front VIP has its replies come to
//     the gateway VIP still here (seen in the VM, 40 ms apart under
//     emulation);
//   - a director that released the VIPs keeps them local and passes
//     replies to the new master, for sync.hold_resets, and passes no
//     segment on: the new master passes to it, and a segment neither
//     knows must not go back and forth.
type relayRole int

const (
	relayBackup relayRole = iota
	relayTook
	relayMaster
	relayResigning
	relayReleased
)

func (r relayRole) String() string {
	return [...]string{"backup", "took the VIPs", "master", "resigning", "released the VIPs"}[r]
}

// relay arms the relay for role (see relayRole), for sync.hold_resets.
func (f *follower) relay(cfg *config.Config, role relayRole) {
	peers := f.peers()
	f.peersSeen = peers
	if role == relayResigning || role == relayReleased {
		// The director taking over is the one last heard, however long
		// ago: a master hears no adverts, and a backup is silent, so the
		// freshness rule would leave a resigning master nobody to pass
		// the new master's replies to (seen in the VM: an untranslated
		// SYN-ACK forwarded to the client in a switchover). Passing a
		// reply to a peer that is gone costs nothing: only replies this
		// node's IPVS does not know are passed.
		peers = f.peersHeard(0)
	}
	var window time.Duration
	if cfg.Sync != nil {
		window = cfg.Sync.HoldResets
	}
	f.relayTo(cfg, role, window, peers)
}

// relayTo arms the relay for role towards peers, with window as the
// takeover's or the release's.
func (f *follower) relayTo(cfg *config.Config, role relayRole, window time.Duration, peers handover.Peers) {
	if cfg.Sync == nil || cfg.Sync.HoldResets <= 0 || f.d.vrrp == nil {
		return
	}
	all := handover.RelaysOf(cfg, peers)
	now := f.d.clock.Now()
	switch role {
	case relayTook:
		f.tookUntil = now.Add(window)
	case relayReleased:
		f.localUntil = now.Add(window)
		// The backup's standing relay once the window is over, whether
		// or not VRRP changes meanwhile.
		f.d.clock.AfterFunc(window, func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if !f.master {
				f.relay(f.d.Current().Config, relayBackup)
			}
		})
	}
	r, d := composeRelay(role, all, window, f.localUntil.Sub(now))
	if err := f.d.handover.Relay(r, d); err != nil {
		f.d.log.WithError(err).Warn("relay to the other director not armed: connections opened through it may retransmit at a move")
		return
	}
	if role != relayBackup && role != relayMaster {
		f.d.log.WithFields(logrus.Fields{"role": role.String(), "in": len(r.In), "replies": len(r.Replies), "local": len(r.Local),
			"window": window}).Info("relay to the other director armed")
	}
}

// healed runs when a master announced its VIPs again at the heal of a
// split brain: clients that followed the other holder come here now, with
// connections opened there, so this is a takeover for the reset hold and
// the relay, for sync.hold_resets (the loser, if it is lvsd, keeps them
// local as after any release).
func (f *follower) healed() { f.expectReturning(false) }

// conflicted runs when a master sees another host claim one of its VIPs:
// a split brain is in progress, clients may be following the other
// holder, and at the heal they come back here with connections this node
// never saw. The hold and the relay go in place now, for as long as the
// conflict may last, and the heal (healed) shortens them to
// sync.hold_resets. Armed only at the heal, they came tens of milliseconds
// after the loser had stepped down and announced the VIPs at this node's
// MAC, and a connection in flight was reset (VM NAT end-to-end test).
func (f *follower) conflicted() { f.expectReturning(true) }

// expectReturning arms, on a master, the reset hold and the relay of a
// takeover: for sync.hold_resets towards the peers heard now (a heal), or
// for as long as a conflict lasts towards the last peer heard, however
// long ago, since the other holder has been silent since the split.
func (f *follower) expectReturning(conflict bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cfg := f.d.Current().Config
	if !f.master || cfg.Sync == nil || cfg.Sync.HoldResets <= 0 {
		return
	}
	window, peers, at := cfg.Sync.HoldResets, f.peers(), "at the heal"
	f.peersSeen = peers
	if conflict {
		window, peers, at = idleHold, f.peersHeard(0), "at the address conflict"
	}
	if err := f.d.handover.Hold(handover.HoldsOf(cfg), window); err != nil {
		f.d.log.WithError(err).Warn("reset hold not set " + at)
	}
	f.relayTo(cfg, relayTook, window, peers)
}

// resign reports whether this node is handing its VIPs over.
func (f *follower) resign() bool { return f.d.vrrp != nil && f.d.vrrp.resigning() }

// peers are the instances' last advert sources.
//
// Only a peer heard within peerFresh advert intervals counts: after the
// master's death there is nobody to relay to. (The rule came from new
// connections lost after taking over from a dead master in 3 of about 25
// DR runs of the VM end-to-end test, blamed on the relay; they were IPVS
// dropping SYNs that matched a removed realserver's entries, see
// ipvs.CheckPrerequisites. Passing segments to nobody costs nothing
// either, so the rule stays as the simpler reading of "the peer".)
func (f *follower) peers() handover.Peers { return f.peersHeard(peerFresh) }

// peersHeard is peers with the freshness rule at fresh advert intervals
// (0: any peer ever heard).
func (f *follower) peersHeard(fresh int) handover.Peers {
	peers := handover.Peers{}
	if f.d.vrrp == nil {
		return peers
	}
	interval := map[string]time.Duration{}
	for _, in := range f.d.Current().Config.Instances {
		interval[in.Name] = in.AdvertInterval
	}
	now := f.d.clock.Now()
	for _, n := range f.d.vrrp.nodes {
		st := n.Status()
		if !st.Peer.IsValid() || (fresh > 0 && now.Sub(st.LastAdvert) > time.Duration(fresh)*interval[st.Name]) {
			continue
		}
		peers[st.Name] = st.Peer
	}
	return peers
}

// peerFresh is how many advert intervals a peer's last advert may be old:
// a live master advertises every interval, and one that resigned or lost
// was heard at that instant.
const peerFresh = 3

// peersChanged reports whether an instance heard a new peer since the
// relay was last armed.
func (f *follower) peersChanged() bool {
	now := f.peers()
	f.mu.Lock()
	defer f.mu.Unlock()
	return !maps.Equal(now, f.peersSeen)
}

// composeRelay is what role relays of all (see relayRole), and for how
// long; localLeft is what remains of the window after a release.
func composeRelay(role relayRole, all rstguard.Relays, window, localLeft time.Duration) (rstguard.Relays, time.Duration) {
	switch role {
	case relayTook:
		return rstguard.Relays{In: all.In, Replies: all.Replies, Local: all.Local, LocalFor: idleHold}, window
	case relayMaster:
		return rstguard.Relays{Local: all.Local}, idleHold
	case relayResigning:
		return rstguard.Relays{Replies: all.Replies, Local: all.Local, LocalFor: idleHold}, window
	case relayReleased:
		return rstguard.Relays{Replies: all.Replies, Local: all.Local, LocalFor: window}, idleHold
	}
	if localLeft > 0 { // a backup still in the window after a release
		return rstguard.Relays{Replies: all.Replies, Local: all.Local, LocalFor: localLeft}, idleHold
	}
	return rstguard.Relays{In: all.In, Replies: all.Replies}, idleHold
}

func (f *follower) switchSync(cfg *config.Config, on bool) {
	if cfg.Sync == nil {
		return
	}
	var err error
	if on {
		err = f.d.sync.Start(ipvs.SyncMaster, cfg.Sync.Interface, cfg.Sync.SyncID)
	} else {
		err = f.d.sync.Stop(ipvs.SyncMaster)
	}
	if err != nil {
		f.d.log.WithError(err).Error("ipvs sync master daemon not switched")
		return
	}
	f.d.log.WithField("running", on).Info("ipvs sync master daemon follows vrrp")
}

// flush hands the connection table to the peer (see package connsync).
func (f *follower) flush(cfg *config.Config, why string) {
	if cfg.Sync == nil {
		return
	}
	f.flushMu.Lock()
	defer f.flushMu.Unlock()
	start := f.d.clock.Now()
	n, err := f.d.handover.Flush(cfg)
	f.d.metrics.flushed(n, err)
	f.lastMu.Lock()
	f.last.LastFlushAt, f.last.LastFlushed, f.last.LastError = start, n, ""
	if err != nil {
		f.last.LastError = err.Error()
	}
	f.lastMu.Unlock()
	if err != nil {
		f.d.log.WithError(err).Error("connection table not handed to the peer")
		return
	}
	f.d.log.WithFields(logrus.Fields{"connections": n, "took": f.d.clock.Since(start).Round(time.Microsecond), "why": why}).
		Info("connection table handed to the peer")
}

// final runs at stop, once VRRP has handed the VIPs over: the table goes
// to the peer twice (now and after stragglerDelay, as at any release), and
// the reset hold is removed.
func (f *follower) final() {
	f.mu.Lock()
	was := f.master
	f.mu.Unlock()
	if was {
		f.stepTo(false, true)
		f.d.clock.Sleep(stragglerDelay)
		f.flush(f.d.Current().Config, "stragglers")
	}
	if err := f.d.handover.Close(); err != nil {
		f.d.log.WithError(err).Warn("reset hold not removed")
	}
}

// reloaded re-arms the idle hold with the services of a new configuration.
func (f *follower) reloaded(cfg *config.Config) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case !f.master:
		f.arm(cfg)
	case f.d.clock.Now().After(f.tookUntil):
		f.relay(cfg, relayMaster)
	}
}
