package vrrp

import (
	"net"
	"net/netip"
	"time"
)

// This file holds the guard: a master's watch over its virtual addresses
// on the LAN, in the spirit of RFC 5227 §2.4 (ongoing address defence).
//
// A split brain that heals can leave clients at the wrong router: the
// loser of the election releases the addresses, but clients keep its MAC
// until their neighbour entry expires (30 s and more) unless somebody
// announces again. VRRP tells the winner nothing when the loser steps
// down silently, as keepalived does when the winner's advert is the first
// to cross. The guard does not depend on the peer: while this node is
// master it notices another host claiming one of its addresses (a
// gratuitous ARP or unsolicited NA from another MAC, an answer to a
// probe, any ARP sent from the address), and from then on knows that a
// split brain (or a misconfigured host) is in progress. It then probes
// once per advertisement interval, without claiming anything (RFC 5227
// §2.1.1: an ARP probe from 0.0.0.0; for IPv6 a Neighbor Solicitation
// from ::, RFC 4862 §5.4.2), and the first probe that nobody else answers
// means the other holder is gone: the guard asks for an Announce at once.
//
// It never fights: while the other host answers it announces nothing and
// changes no state, so a third host that keeps the address is reported
// (ConflictBegan), not flapped with, and a higher-priority master, which
// VRRP would make us yield to anyway once heard, is never contradicted.

// ClaimKind says how another host claimed one of our addresses.
type ClaimKind string

// The kinds of claim, for status and metrics.
const (
	// ClaimAnnounce is a gratuitous ARP (sender and target address both
	// the address) or an unsolicited Neighbor Advertisement: the other
	// host announcing that it holds the address.
	ClaimAnnounce ClaimKind = "announce"
	// ClaimReply is an ARP reply or a solicited Neighbor Advertisement:
	// the other host answering a question about the address, ours or
	// another host's.
	ClaimReply ClaimKind = "reply"
	// ClaimOther is any other ARP sent from the address, as a host that
	// uses the address as its own source sends when it resolves a peer.
	ClaimOther ClaimKind = "other"
)

// ClaimKinds lists every ClaimKind, for metrics that export zeros too.
var ClaimKinds = []ClaimKind{ClaimAnnounce, ClaimReply, ClaimOther}

// Sighting is one ARP packet, or one Neighbor Advertisement, a Watcher saw
// on the link: it tells that Addr is at MAC. EthSrc is the frame's source
// MAC, which tells two holders of one virtual MAC apart: this node's own
// frames are never seen (a packet socket for one protocol does not
// receive what the host sends), so a frame from the virtual MAC that does
// arrive comes from the other holder.
type Sighting struct {
	Addr   netip.Addr
	MAC    net.HardwareAddr
	EthSrc net.HardwareAddr
	Kind   ClaimKind
}

// Probe asks the shell to probe Addr without claiming it: who else holds
// it answers (RFC 5227 §2.1.1).
type Probe struct{ Addr netip.Addr }

// ConflictBegan reports that another host claims a virtual address while
// this node is master: a split brain, or a misconfigured host.
type ConflictBegan struct {
	Addr netip.Addr
	MAC  string
	Kind ClaimKind
}

// ConflictEnded reports that the other holder stopped answering: the
// split brain healed (or the host let the address go). An Announce
// follows it.
type ConflictEnded struct {
	Addr  netip.Addr
	MAC   string
	Since time.Time
}

func (Probe) action()         {}
func (ConflictBegan) action() {}
func (ConflictEnded) action() {}

// guard is the pure part of address defence: it has no sockets and no
// clock; the shell feeds it claims and the time.
type guard struct {
	interval time.Duration // Advertisement_Interval: at most one probe per
	lag      time.Duration // from our advert to the probe (see advertised)

	active   bool // master: watching
	conflict bool
	since    time.Time
	addr     netip.Addr // the address to probe: the last one claimed
	mac      string     // the last claimant
	probeAt  time.Time  // next probe, or zero
	decideAt time.Time  // end of the running probe's wait, or zero
	lastSent time.Time  // last probe
	answered bool       // a claim since the running probe went out
}

// newGuard returns a guard for an advertisement interval.
func newGuard(interval time.Duration) *guard {
	return &guard{interval: interval, lag: probeLag(interval)}
}

// probeLag is how long after our own advert the guard probes, and how
// long it waits for an answer: a twentieth of the interval, between 3 and
// 50 ms (5 ms at 100 ms adverts). When the split heals with our advert
// crossing first, the other master releases the addresses as soon as it
// has read that advert, within a millisecond or so; probing a little
// after it finds the address free at once, instead of one interval
// later, and a LAN answers well within the wait. Clients that send to the
// old master between its release and our announcement, lag + wait, lose
// their packet: that is the outage left when the loser steps down
// silently. A lag shorter than the loser takes to release costs a whole
// interval; too short a wait only an early re-announce while the split
// lasts, which moves clients to us, the router VRRP will elect. Measured
// in namespaces against keepalived (integration/heal_netns_test.go): 2 or
// 3 failed probes every 10 ms at a 10 ms lag and wait, 1 at 5 ms, and at
// 2 ms one run in four healed falsely early and lost more.
func probeLag(interval time.Duration) time.Duration {
	return min(max(interval/20, 3*time.Millisecond), 50*time.Millisecond)
}

// watch starts guarding: this node just became master.
func (g *guard) watch() {
	*g = guard{interval: g.interval, lag: g.lag, active: true}
}

// stop stops guarding: this node no longer holds the addresses as master.
func (g *guard) stop() {
	*g = guard{interval: g.interval, lag: g.lag}
}

// inConflict reports whether a conflict is in progress, and since when.
func (g *guard) inConflict() (bool, time.Time) { return g.conflict, g.since }

// claim handles another host's claim on one of our addresses.
func (g *guard) claim(now time.Time, s Sighting) []Action {
	if !g.active {
		return nil
	}
	g.addr, g.mac = s.Addr, s.MAC.String()
	if g.conflict {
		g.answered = true
		return nil
	}
	g.conflict, g.since = true, now
	// The first probe goes out with our next advert (advertised), or
	// after one interval should none come.
	g.probeAt = now.Add(g.interval)
	return []Action{ConflictBegan{Addr: s.Addr, MAC: g.mac, Kind: s.Kind}}
}

// advertised tells the guard that we just sent an advert. In a conflict it
// moves the next probe to lag after it, keeping at most one probe per
// interval: if the split is healing with this advert, the other master is
// releasing the addresses right now.
func (g *guard) advertised(now time.Time) {
	if !g.conflict || !g.decideAt.IsZero() {
		return
	}
	at := now.Add(g.lag)
	if !g.lastSent.IsZero() && at.Before(g.lastSent.Add(g.interval)) {
		at = g.lastSent.Add(g.interval)
	}
	g.probeAt = at
}

// deadline returns when the guard needs timeout, or zero.
func (g *guard) deadline() time.Time {
	if !g.conflict {
		return time.Time{}
	}
	if !g.decideAt.IsZero() {
		return g.decideAt
	}
	return g.probeAt
}

// timeout handles the guard's deadline: send a probe, or decide on the
// running one.
func (g *guard) timeout(now time.Time) []Action {
	switch {
	case !g.conflict:
		return nil
	case !g.decideAt.IsZero():
		if now.Before(g.decideAt) {
			return nil
		}
		g.decideAt = time.Time{}
		if g.answered {
			g.probeAt = g.lastSent.Add(g.interval)
			return nil
		}
		ended := ConflictEnded{Addr: g.addr, MAC: g.mac, Since: g.since}
		g.conflict, g.probeAt, g.since = false, time.Time{}, time.Time{}
		return []Action{ended, Announce{}}
	case now.Before(g.probeAt):
		return nil
	}
	g.answered, g.lastSent, g.decideAt = false, now, now.Add(g.lag)
	g.probeAt = time.Time{}
	return []Action{Probe{Addr: g.addr}}
}
