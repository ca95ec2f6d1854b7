package vrrp

import (
	"context"

	"github.com/sirupsen/logrus"
)

// This file holds a backup's preemption on the word of the engine above
// it: lvsd holds it while the services an instance fronts have no
// realserver its own health checks found up, so that a director that
// came back (after a restart, or with its links up again while its
// checks were failing) does not take the VIPs from a master that can
// serve them before it can serve them itself.

// HoldPreempt holds this node's preemption while reason is not "", and
// releases it with "". While held, a backup defers to any master it
// hears, whatever its priority, as if Preempt_Mode were false (RFC 5798
// §6.4.2): it never takes the VIPs from a live master. The hold never
// delays a takeover from a master that stopped advertising or resigned
// (priority 0), since no holder at all is worse than a holder without
// realservers; and it does nothing to a master, which keeps its
// addresses. The priority the node advertises and its Skew_Time are
// unchanged. A preempt delay counts from the first advert after the
// hold ends. It returns ErrStopped once Run has returned.
func (n *Node) HoldPreempt(ctx context.Context, reason string) error {
	return n.call(ctx, func() { n.setHold(reason) })
}

// setHold records the hold and logs its changes.
func (n *Node) setHold(reason string) {
	if reason == n.hold {
		return
	}
	was := n.hold
	n.hold = reason
	n.st.update(func(s *NodeStatus) { s.PreemptHold = reason })
	n.logq.do(func(l *logrus.Entry) {
		if reason == "" {
			l.WithField("was", was).Info("preemption no longer held")
			return
		}
		l.WithField("reason", reason).Info("preemption held: this node defers to any live master")
	})
}

// heldAdvert is the advert the Machine sees: while preemption is held, a
// backup sees a live master's lower priority as its own, so it defers
// (keeps following it and rearms Master_Down_Timer) instead of letting
// the timer run out to preempt. Priority 0 (a resigning master) is passed
// as it is: the backup takes over after Skew_Time.
func (n *Node) heldAdvert(a Advert) Advert {
	if n.hold == "" || n.m.State() != Backup || a.Priority == 0 || a.Priority >= n.m.Priority() {
		return a
	}
	a.Priority = n.m.Priority()
	return a
}
