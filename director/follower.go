package director

import (
	"context"
	"sync"
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
	// relayReady is set once the relay's table was prepared (arm).
	relayReady bool
	lastMu     sync.Mutex
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
	if !f.relayReady && cfg.Sync != nil && cfg.Sync.HoldResets > 0 {
		// Relays nothing, but has the relay's table in place before the
		// first move (see handover.Kernel.Relay).
		f.relayReady = true
		if err := f.d.handover.Relay(rstguard.Relays{}, 0); err != nil {
			f.d.log.WithError(err).Warn("relay to the other director not prepared: connections opened through it may retransmit at a move")
		}
	}
}

// run steps on every VRRP transition until ctx ends.
func (f *follower) run(ctx context.Context, set *vrrpSet, changed <-chan struct{}) {
	rearm := f.d.clock.NewTicker(time.Hour)
	defer rearm.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-rearm.Chan():
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
		if !holds {
			f.arm(cfg)
		}
		return
	}
	f.master = holds
	f.relay(cfg, holds)
	if holds {
		if cfg.Sync != nil && cfg.Sync.HoldResets > 0 {
			if err := f.d.handover.Hold(handover.HoldsOf(cfg), cfg.Sync.HoldResets); err != nil {
				f.d.log.WithError(err).Warn("reset hold not set")
			}
		}
		f.switchSync(cfg, true)
		return
	}
	f.switchSync(cfg, false)
	f.flush(cfg, "released the VIPs")
	if !final {
		f.d.clock.AfterFunc(stragglerDelay, func() { f.flush(f.d.Current().Config, "stragglers") })
	}
	f.arm(cfg)
}

// relay arms, for sync.hold_resets, the relay of a move (see
// rstguard.Relays): on taking the VIPs, what IPVS does not know goes to
// the director that had them; on releasing them, the VIP:ports stay local
// here for what that director passes back, and the replies that still
// come here go to it. The peers are the instances' last advert sources.
func (f *follower) relay(cfg *config.Config, took bool) {
	if cfg.Sync == nil || cfg.Sync.HoldResets <= 0 || f.d.vrrp == nil {
		return
	}
	peers := handover.Peers{}
	for _, n := range f.d.vrrp.nodes {
		if st := n.Status(); st.Peer.IsValid() {
			peers[st.Name] = st.Peer
		}
	}
	r := handover.RelaysOf(cfg, peers, took)
	if r.Empty() {
		return
	}
	if err := f.d.handover.Relay(r, cfg.Sync.HoldResets); err != nil {
		f.d.log.WithError(err).Warn("relay to the other director not armed: connections opened through it may retransmit")
		return
	}
	f.d.log.WithFields(logrus.Fields{"took": took, "in": len(r.In), "replies": len(r.Replies), "local": len(r.Local),
		"window": cfg.Sync.HoldResets}).Info("relay to the other director armed")
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
	if !f.master {
		f.arm(cfg)
	}
}
