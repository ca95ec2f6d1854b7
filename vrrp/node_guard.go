package vrrp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/sirupsen/logrus"
)

// This file is the shell's side of a split brain that heals: the guard
// (guard.go) on the winner, and the proxy announcements of the loser.
//
// The loser of a heal (a master that hears a better master and steps
// down) cannot count on the winner to re-announce: keepalived, hearing the
// loser's last advert, may say nothing, and clients would keep the
// loser's MAC until their neighbour entry expires. So the loser asks who
// the winner is at the link layer (a probe of the winner's address, which
// it knows from the advert) and announces each VIP at the winner's MAC:
// clients move to the winner at once, whatever it does. Meanwhile it keeps
// the VIPs for a grace (handoverGrace), so that connections it already
// accepted finish. With a virtual MAC both routers announce the same MAC,
// so there is nothing to point clients at: the winner's next advert, sent
// from the virtual MAC, moves the switch's entry back.

// proxyWait bounds how long the loser waits for the winner's MAC: past it
// the winner has announced for itself, or will not answer.
const proxyWait = time.Second

// heir is a winner whose MAC the loser is resolving, to announce the VIPs
// at it.
type heir struct {
	addr  netip.Addr
	until time.Time        // give up resolving then
	mac   net.HardwareAddr // once resolved
	again time.Time        // one more round then (end of the grace), or zero
}

// watchLoop reads sightings until the Watcher is closed.
func (n *Node) watchLoop(done <-chan struct{}, out chan<- Sighting) {
	for {
		s, err := n.watch.Read()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				// The guard sees no other holder from here on: say so.
				n.log.WithError(err).Warn("address guard stopped: its packet socket failed")
			}
			return
		}
		select {
		case out <- s:
		case <-done:
			return
		}
	}
}

// onSighting handles one sighting: the winner's MAC the loser waits for,
// or another host's claim on a VIP while we are master.
func (n *Node) onSighting(s Sighting) {
	now := n.clock.Now()
	if n.heir.addr.IsValid() && s.Addr == n.heir.addr && n.heir.mac == nil && now.Before(n.heir.until) {
		n.heir.mac = s.MAC
		n.proxyRound()
		if !now.Before(n.heir.again) {
			n.heir = heir{} // the grace is over: no second round
		}
	}
	if !n.isClaim(s) || n.m.State() != Master {
		return
	}
	n.st.claim(s.Kind)
	n.do(n.g.claim(now, s))
}

// isClaim reports whether s is another host claiming one of our VIPs: it
// gives a VIP another MAC than ours, or our own MAC in a frame that came
// from the link, which only the other holder of a virtual MAC sends (see
// Sighting). A host announcing a VIP at our MAC (a loser's proxy
// announcement) claims nothing.
func (n *Node) isClaim(s Sighting) bool {
	if n.watch == nil || !slices.Contains(n.vips, s.Addr) {
		return false
	}
	own := n.watch.MAC()
	return !bytes.Equal(s.MAC, own) || bytes.Equal(s.EthSrc, own)
}

// guardBecame follows a state change: the guard watches while master.
func (n *Node) guardBecame(s State) {
	if s == Master {
		n.g.watch()
	} else {
		n.g.stop()
	}
	n.st.conflict(ConflictStatus{})
}

// probe sends one probe for the guard.
func (n *Node) probe(addr netip.Addr) {
	if err := n.watch.Probe(addr); err != nil {
		n.st.count(cAnnounceErr, 1)
		n.warn(err, "probe", "vip", addr)
		return
	}
	n.st.count(cProbes, 1)
}

// conflictBegan reports a conflict at Warn, at most once per warnEvery
// for one claimant.
func (n *Node) conflictBegan(c ConflictBegan) {
	n.st.count(cConflicts, 1)
	n.st.conflict(ConflictStatus{Addr: c.Addr, MAC: c.MAC, Since: n.clock.Now()})
	n.warn(fmt.Errorf("claimed by %s (%s)", c.MAC, c.Kind),
		"address conflict: another host holds a virtual address (split brain, or a misconfigured host); probing, not fighting",
		"vip", c.Addr)
	if n.deps.OnConflict != nil {
		n.deps.OnConflict()
	}
}

// conflictEnded reports the heal; the guard's Announce follows.
func (n *Node) conflictEnded(c ConflictEnded) {
	n.st.count(cHeals, 1)
	n.st.conflict(ConflictStatus{})
	fields := logrus.Fields{"vip": c.Addr, "mac": c.MAC, "lasted": n.clock.Now().Sub(c.Since).Round(time.Millisecond)}
	n.logq.do(func(l *logrus.Entry) {
		l.WithFields(fields).Info("address conflict over: the other holder let go; announcing again")
	})
}

// speakFor starts the loser's proxy announcements for winner after a
// step-down with the given grace: resolve its MAC, then announce.
func (n *Node) speakFor(winner netip.Addr, grace time.Duration) {
	if n.watch == nil || n.cfg.VirtualMAC || !winner.IsValid() || winner == n.self {
		return
	}
	now := n.clock.Now()
	n.heir = heir{addr: winner, until: now.Add(proxyWait), again: now.Add(grace)}
	if err := n.watch.Probe(winner); err != nil {
		n.st.count(cAnnounceErr, 1)
		n.warn(err, "resolve the new master", "master", winner)
		n.heir = heir{}
		return
	}
	n.st.count(cProbes, 1)
}

// proxyRound announces every VIP at the winner's MAC, while we still
// follow that winner.
func (n *Node) proxyRound() {
	if n.m.State() != Backup || n.m.Status().Master != n.heir.addr {
		n.heir = heir{}
		return
	}
	for _, p := range n.cfg.VIPs {
		k, err := n.watch.AnnounceAs(p.Addr(), n.heir.mac)
		n.st.count(cProxy, k)
		if err != nil {
			n.st.count(cAnnounceErr, 1)
			n.warn(err, "announce for the new master", "vip", p)
		}
	}
	fields := logrus.Fields{"master": n.heir.addr, "mac": n.heir.mac}
	n.logq.do(func(l *logrus.Entry) {
		l.WithFields(fields).Info("announced the virtual addresses at the new master's MAC")
	})
}

// heirDeadline is when the proxy announcements next need the loop.
func (n *Node) heirDeadline() time.Time {
	switch {
	case !n.heir.addr.IsValid():
		return time.Time{}
	case n.heir.mac == nil:
		return n.heir.until
	}
	return n.heir.again
}

// onHeirTimer sends the second round at the end of the grace, or gives up
// resolving.
func (n *Node) onHeirTimer(now time.Time) {
	d := n.heirDeadline()
	if d.IsZero() || now.Before(d) {
		return
	}
	if n.heir.mac == nil {
		n.log.WithField("master", n.heir.addr).Debug("new master's MAC not resolved; it announces for itself")
		n.heir = heir{}
		return
	}
	if !n.heir.again.IsZero() {
		n.proxyRound()
	}
	n.heir = heir{}
}
