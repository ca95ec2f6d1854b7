package vrrp

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/sirupsen/logrus"
)

// This file carries out the Machine's actions.

// do carries out acts in order. Failures are logged and counted, never
// fatal: a node that cannot add an address retries every advert interval.
func (n *Node) do(acts []Action) {
	for _, act := range acts {
		switch a := act.(type) {
		case SendAdvert:
			n.send(a.Priority)
		case AcquireVIPs:
			n.acquire()
		case Announce:
			n.startAnnounce(n.clock.Now())
			if n.deps.OnReannounce != nil {
				n.deps.OnReannounce()
			}
		case ReleaseVIPs:
			grace := n.handoverGrace()
			n.release(grace)
			if n.last == Master && grace > 0 {
				n.speakFor(n.m.Status().Master, grace)
			}
		case Became:
			n.became(a)
		case Probe:
			n.probe(a.Addr)
		case ConflictBegan:
			n.conflictBegan(a)
		case ConflictEnded:
			n.conflictEnded(a)
		}
	}
}

// send writes one advertisement to each destination of every heartbeat
// path (path.go), from our address on that path. It is the advert path of
// the loop and allocates nothing but on errors: the message is encoded
// into a buffer the Node keeps, and the status is updated once. A timed
// advert (onTimer set n.due) records how late it went out.
func (n *Node) send(prio uint8) {
	now := n.clock.Now()
	late := time.Duration(-1)
	if !n.due.IsZero() {
		late = now.Sub(n.due)
		if late > n.cfg.AdvertInterval {
			n.lateWarn(now, late)
		}
		n.due = time.Time{}
	}
	adv := Advert{Version: n.cfg.Version, Type: TypeAdvertisement, VRID: n.cfg.VRID,
		Priority: prio, Interval: n.cfg.AdvertInterval, Addrs: n.vips}
	if n.cfg.AuthPass != "" {
		adv.AuthType, adv.AuthData = AuthPassword, Password(n.cfg.AuthPass)
	}
	ok, failed := 0, 0
	for _, p := range n.paths {
		for _, dst := range p.dsts {
			b, err := adv.AppendMarshal(n.wbuf[:0], p.self, dst, n.cfg.ChecksumMode)
			if err == nil {
				n.wbuf = b
				err = p.conn.WriteTo(b, dst)
			}
			if err != nil {
				failed++
				n.warn(err, "send advert on "+p.name, "dst", dst)
				continue
			}
			ok++
		}
	}
	n.st.sent(now, ok, failed, late)
	if prio > 0 && n.m.State() == Master {
		n.g.advertised(now)
	}
}

// lateWarn says, at most once a second, that a timed advert went out
// more than an interval late (a backup takes over after about three),
// and where the time went: before the loop's wait began (wait_late: the
// loop's previous round, or a lock it took to publish its status),
// waking the loop (woke_late: the scheduler) or in the loop after it
// woke (busy). Off the advert path: only a late advert gets here.
func (n *Node) lateWarn(now time.Time, late time.Duration) {
	if last, ok := n.warned["late advert"]; ok && now.Sub(last) < time.Second {
		return
	}
	n.warned["late advert"] = now
	f := logrus.Fields{"late": late.Round(10 * time.Microsecond).String()}
	if !n.woke.IsZero() && !n.woke.Before(n.due) {
		f["woke_late"] = n.woke.Sub(n.due).Round(10 * time.Microsecond).String()
		f["busy"] = now.Sub(n.woke).Round(10 * time.Microsecond).String()
	}
	if !n.waited.IsZero() && n.waited.After(n.due) {
		f["wait_late"] = n.waited.Sub(n.due).Round(10 * time.Microsecond).String()
	}
	n.logq.do(func(l *logrus.Entry) { l.WithFields(f).Warn("advert sent more than an interval late") })
}

// acquire adds the VIPs, then announces them.
func (n *Node) acquire() {
	now := n.clock.Now()
	n.want, n.holdUntil = true, time.Time{}
	n.announced.Store(false)
	n.reconcile(now)
	if n.group != nil && !n.group.readyToAnnounce(n) {
		// See groupAnnounce: the VIPs are in place, the announce waits
		// for the rest of the group (onMailbox) or the bound (onTimer).
		n.annGroup = now.Add(min(n.cfg.AdvertInterval, groupAnnounce))
	} else {
		n.startAnnounce(now)
	}
	if n.cfg.Announce.Refresh > 0 {
		n.refresh = now.Add(n.cfg.Announce.Refresh)
	}
}

// release stops announcing and removes the VIPs, after grace.
func (n *Node) release(grace time.Duration) {
	now := n.clock.Now()
	n.want, n.holdUntil, n.annGroup = false, time.Time{}, time.Time{}
	n.announced.Store(false)
	if grace > 0 {
		n.holdUntil = now.Add(grace)
	}
	n.annLeft, n.annNext, n.annLate, n.refresh = 0, time.Time{}, time.Time{}, time.Time{}
	n.reconcile(now)
}

// handoverGrace returns how long to keep the VIPs when the Machine
// releases them because it heard a new master: after a planned handover
// (leaving Resigning), and after stepping down from Master to a better
// master (a split brain that heals, or a preemption), one advertisement
// interval. The new master sends its first advert before it adds the VIPs
// (RFC 5798 §6.4.2), so releasing at once could leave nobody holding them
// for a moment; meanwhile clients still send to our MAC until an
// announcement (the new master's, or ours for it, see speakFor) reaches
// them, and connections we accepted just before can finish. A short
// overlap is harmless: both answer, and the announcements decide. Going
// to Fault, or stopping, releases at once.
func (n *Node) handoverGrace() time.Duration {
	if (n.last != Resigning && n.last != Master) || n.m.State() != Backup {
		return 0
	}
	if master := n.m.Status().Master; !master.IsValid() || master == n.self {
		return 0
	}
	if n.cfg.VirtualMAC {
		// Both routers send from the one virtual MAC, and switches send
		// it to the port that last sent from it: our last advert (priority
		// 0 when resigning, our own when stepping down) pulls the clients'
		// frames to us until the new master's next advert pulls them back.
		// Keep serving them until that advert has surely come.
		return 2 * max(n.cfg.AdvertInterval, n.m.Status().MasterAdverInterval)
	}
	return n.cfg.AdvertInterval
}

// reconcile adds or removes VIPs until held matches want, and reports
// whether it added any. If some fail, the loop calls it again after one
// advert interval.
func (n *Node) reconcile(now time.Time) (added bool) {
	failed, later := false, false
	for _, p := range n.cfg.VIPs {
		var err error
		switch {
		case !n.want && n.held[p] && now.Before(n.holdUntil):
			later = true
		case n.want && !n.held[p]:
			if err = n.addrs.Add(p); err == nil {
				n.held[p], added = true, true
			}
		case !n.want && n.held[p]:
			if err = n.addrs.Remove(p); err == nil {
				delete(n.held, p)
			}
		}
		if err != nil {
			failed = true
			n.st.count(cAddrErr, 1)
			n.warn(err, "virtual address", "vip", p)
		}
	}
	n.retry = time.Time{}
	if failed {
		n.retry = now.Add(n.cfg.AdvertInterval)
	}
	if later && (n.retry.IsZero() || n.holdUntil.Before(n.retry)) {
		n.retry = n.holdUntil
	}
	return added
}

// lateAnnounce is when a burst gets one more round: past the neighbour
// "locktime" of Linux hosts (1 s by default, ip-sysctl.rst), during which
// a host ignores ARP that would change an entry it just updated. Without
// it, a client that followed the other node's announcements a moment
// before (a split brain healing, a takeover racing a resign) keeps the
// wrong MAC until the entry goes stale, seconds later. keepalived's
// garp_master_delay answers the same problem.
const lateAnnounce = 1100 * time.Millisecond

// startAnnounce sends a round of announcements now and schedules the
// remaining Repeat-1 rounds, and a late one; the loop sends them between
// other events.
func (n *Node) startAnnounce(now time.Time) {
	n.announceRound()
	if n.group != nil && !n.announced.Swap(true) {
		n.group.poke(n) // a member announcing last waits for this one
	}
	n.annLeft, n.annNext = n.cfg.Announce.Repeat-1, time.Time{}
	if n.annLeft > 0 {
		n.annNext = now.Add(n.cfg.Announce.Interval)
	}
	if last := now.Add(time.Duration(n.annLeft) * n.cfg.Announce.Interval); last.Before(now.Add(lateAnnounce)) {
		n.annLate = now.Add(lateAnnounce)
	}
}

// announceRound announces every VIP we hold once.
func (n *Node) announceRound() {
	for _, p := range n.cfg.VIPs {
		if !n.held[p] {
			continue
		}
		k, err := n.ann.Announce(p.Addr())
		n.st.count(cAnnounces, k)
		if err != nil {
			n.st.count(cAnnounceErr, 1)
			n.warn(err, "announce", "vip", p)
		}
	}
}

// became records and reports a state change.
func (n *Node) became(b Became) {
	t := Transition{Time: n.clock.Now(), From: n.last, To: b.State, Reason: b.Reason}
	n.last = b.State
	n.guardBecame(b.State)
	n.st.transition(t)
	n.publish()
	fields := logrus.Fields{"state": b.State.String(), "from": t.From.String(), "reason": b.Reason}
	if t.From == Backup && t.To == Master {
		n.ev.fields(fields)
	}
	n.ev = takeoverEvidence{}
	n.logq.do(func(l *logrus.Entry) { l.WithFields(fields).Info("vrrp state change") })
	if n.deps.OnTransition != nil {
		n.deps.OnTransition(t)
	}
	if t.From == Resigning {
		n.resolveWaiters(t)
	}
	if n.group != nil && leads(t) {
		n.report(&lead{state: t.To, why: t.Reason})
	}
}

// resolveWaiters answers the Switchover calls waiting on a Resigning that
// just ended.
func (n *Node) resolveWaiters(t Transition) {
	err := ErrStopped
	if t.To == Fault {
		err = fmt.Errorf("%w (%s)", ErrResignFault, t.Reason)
	}
	if t.To == Backup {
		err = ErrResignTimeout
		if master := n.m.Status().Master; master.IsValid() && master != n.self {
			err = nil
		}
	}
	for _, w := range n.waiters {
		w <- err
	}
	n.waiters = nil
}

// heldVIPs returns the VIPs on the interface, for tests and status.
func (n *Node) heldVIPs() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range n.cfg.VIPs {
		if n.held[p] {
			out = append(out, p)
		}
	}
	return out
}

// warnEvery is how often warn repeats one message.
const warnEvery = 10 * time.Second

// warn logs a failed action at Warn, but the same failure at most once
// per warnEvery: a master whose sends fail would otherwise log ten lines a
// second. The counters count every failure.
func (n *Node) warn(err error, msg, key string, value any) {
	id := fmt.Sprint(msg, key, value, err)
	now := n.clock.Now()
	if last, ok := n.warned[id]; ok && now.Sub(last) < warnEvery {
		return
	}
	if len(n.warned) > 100 {
		clear(n.warned)
	}
	n.warned[id] = now
	n.logq.do(func(l *logrus.Entry) { l.WithError(err).WithField(key, value).Warn(msg) })
}
