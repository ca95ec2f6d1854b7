package vrrp

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Group ties Nodes on one director together so that they hold their
// addresses together: for example a NAT director's front VIP and its
// gateway VIP on the inside network, which are useless apart. It is
// lvsd's version of keepalived's sync_group, and does exactly this:
//
//   - Fault spreads: while any member is in Fault because of its own
//     tracked interfaces or scripts, every member is held in Fault (each
//     advertises priority 0 if it was master, and releases).
//   - Priority is shared: every member runs with the group's worst (most
//     negative) tracking offset, so a weight that lowers one member below
//     the peer lowers them all, and the peer preempts all of them.
//   - Master spreads: when a member becomes Master (its peer went silent,
//     it preempted, or it is the owner), each member in Backup takes over
//     at once (Machine.Takeover) instead of waiting for its own timer.
//   - Leaving Master spreads: when a member leaves Master for Backup (it
//     heard a better master) or Resigning (Switchover, handover on stop),
//     each member in Master resigns: it advertises priority 0, keeps its
//     addresses until the peer takes over or the resign timeout passes.
//
// Members that are stopped leave the group's computation. The rules
// converge only if the two directors agree on which of them should be
// master of every member: give each director the same priority on all
// members (and different priorities from the other director), and the
// same preempt setting.
type Group struct {
	name    string
	mu      sync.Mutex
	members []*Node
	reports map[*Node]report
	seq     uint64
	last    lead
}

// report is what a member tells its group: its own tracking state and,
// optionally, a state change the others must follow.
type report struct {
	offset int
	faults []string
}

// lead is a state change of one member that the others follow.
type lead struct {
	seq   uint64
	from  *Node
	state State
	why   string
}

// groupView is what a Node acts on: the group's tracking state (or its
// own, without a group) and the last lead.
type groupView struct {
	offset int
	faults []string
	lead   lead
}

func (v groupView) faultList() []string { return slices.Clone(v.faults) }

// NewGroup ties nodes together. Call it before any of them runs; a Node
// can be in one group only.
func NewGroup(name string, nodes ...*Node) (*Group, error) {
	g := &Group{name: name, reports: map[*Node]report{}}
	var errs []error
	seen := map[*Node]bool{}
	for _, n := range nodes {
		switch {
		case seen[n]:
			errs = append(errs, fmt.Errorf("vrrp group %q: instance %q listed twice", name, n.cfg.Name))
		case n.group != nil:
			errs = append(errs, fmt.Errorf("vrrp group %q: instance %q is in group %q", name, n.cfg.Name, n.group.name))
		case n.started.Load():
			errs = append(errs, fmt.Errorf("vrrp group %q: instance %q already runs", name, n.cfg.Name))
		}
		seen[n] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, n := range nodes {
		n.group = g
		g.members = append(g.members, n)
	}
	return g, nil
}

// Name returns the group's name.
func (g *Group) Name() string { return g.name }

// update records a member's report (nil: it stopped) and lead, and
// returns the new view. It sends the view to the other members'
// mailboxes; the caller applies it itself.
func (g *Group) update(n *Node, r *report, l *lead) groupView {
	g.mu.Lock()
	if r == nil {
		delete(g.reports, n)
	} else {
		g.reports[n] = *r
	}
	if l != nil {
		g.seq++
		g.last = lead{seq: g.seq, from: n, state: l.state, why: l.why}
	}
	v := groupView{lead: g.last}
	for _, m := range g.members {
		rep, ok := g.reports[m]
		if !ok {
			continue
		}
		v.offset = min(v.offset, rep.offset)
		for _, f := range rep.faults {
			v.faults = append(v.faults, m.cfg.Name+": "+f)
		}
	}
	members := g.members
	g.mu.Unlock()
	for _, m := range members {
		if m != n {
			m.mbox.put(v)
		}
	}
	return v
}

// mailbox holds the latest view for a Node; put never blocks, so members
// can publish to each other from their own goroutines without deadlock.
type mailbox struct {
	mu     sync.Mutex
	v      groupView
	signal chan struct{}
}

func newMailbox() *mailbox { return &mailbox{signal: make(chan struct{}, 1)} }

func (m *mailbox) put(v groupView) {
	m.mu.Lock()
	m.v = v
	m.mu.Unlock()
	select {
	case m.signal <- struct{}{}:
	default:
	}
}

func (m *mailbox) get() groupView {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.v
}

// leads reports whether the other members of a group follow t.
func leads(t Transition) bool {
	return t.To == Master || (t.From == Master && (t.To == Backup || t.To == Resigning))
}

// report publishes this node's tracking state, and a lead if any, and
// applies the resulting view.
func (n *Node) report(l *lead) {
	r := n.tracks.report()
	if n.group == nil {
		n.applyView(groupView{offset: r.offset, faults: r.faults})
		return
	}
	v := n.group.update(n, &r, l)
	if l != nil {
		n.leadSeen = v.lead.seq
	}
	n.applyView(v)
}

// onMailbox applies the view another member of the group published, and
// makes the announce that waited for the group (groupAnnounce) once every
// member holds its VIPs.
func (n *Node) onMailbox() {
	n.applyView(n.mbox.get())
	if !n.annGroup.IsZero() && n.want && n.group.readyToAnnounce(n) {
		n.annGroup = time.Time{}
		n.startAnnounce(n.clock.Now())
	}
}

// groupAnnounce bounds how long a member that took its VIPs waits for the
// rest of its group before announcing them (and never more than one
// advert interval). The members take over one after another, each on its
// own thread, a few milliseconds apart; announcing each at once let
// clients reach the new master through the front VIP while the
// realservers still sent their replies to the old holder of the gateway
// VIP, which forwarded them untranslated (seen in the VM NAT end-to-end
// test: a SYN-ACK at the old master 7 ms after the new master's front
// announce, and the client's SYN retransmitted 1 s later). Announced
// together, hosts on every side learn the new master at once. A member
// that does not follow (stopped, or its peer's VIPs claimed elsewhere)
// delays the others' announce by the bound, never more.
const groupAnnounce = 100 * time.Millisecond

// SetAnnounceLast makes this member of a group announce its VIPs only
// after the members without it have announced theirs, still within the
// group's bound (groupAnnounce). lvsd sets it on a NAT pair's front
// members when another member is the realservers' gateway: announced
// together but on separate threads, the front could reach clients first,
// a client's SYN reach the new master and go to a realserver that still
// sent its SYN-ACK to the old master's gateway MAC (seen in the VM NAT
// end-to-end test: the gateway announce 23 ms after the front's, three
// SYN-ACKs forwarded untranslated by the old master, three clients
// retransmitting 1 s later). The gateway's announce leaves first on the
// inside link, so it reaches a realserver before any SYN sent after it.
// Safe to call at any time from any goroutine.
func (n *Node) SetAnnounceLast(last bool) { n.announceLast.Store(last) }

// readyToAnnounce reports whether n, which holds its VIPs, may announce
// them: every other running member holds its own and, when n announces
// last, every member that does not has announced.
func (g *Group) readyToAnnounce(n *Node) bool {
	if !g.othersHold(n) {
		return false
	}
	if !n.announceLast.Load() {
		return true
	}
	g.mu.Lock()
	members := g.members
	g.mu.Unlock()
	for _, m := range members {
		if m != n && m.started.Load() && !m.announceLast.Load() && !m.announced.Load() {
			return false
		}
	}
	return true
}

// poke wakes the other members to look at the group again (onMailbox),
// without a new view: n has just announced.
func (g *Group) poke(n *Node) {
	g.mu.Lock()
	members := g.members
	g.mu.Unlock()
	for _, m := range members {
		if m != n {
			select {
			case m.mbox.signal <- struct{}{}:
			default:
			}
		}
	}
}

// othersHold reports whether every other running member holds its VIPs.
func (g *Group) othersHold(n *Node) bool {
	g.mu.Lock()
	members := g.members
	g.mu.Unlock()
	for _, m := range members {
		if m == n || !m.started.Load() {
			continue
		}
		if st := m.Status().State; !st.HoldsVIPs() && st != Initialize {
			return false
		}
	}
	return true
}

// applyView brings the Machine in line with v: priority, fault, lead.
func (n *Node) applyView(v groupView) {
	if n.stopping {
		return
	}
	n.view = v
	now := n.clock.Now()
	n.do(n.m.SetPriority(now, effective(n.base, v.offset)))
	switch st := n.m.State(); {
	case len(v.faults) > 0 && st != Fault:
		n.do(n.m.SetFault(now, strings.Join(v.faults, ", ")))
	case len(v.faults) == 0 && st == Fault:
		n.do(n.m.ClearFault(now))
	}
	if v.lead.seq <= n.leadSeen || n.m.State() == Initialize {
		return // begin applies a lead that comes before Start
	}
	n.leadSeen = v.lead.seq
	if v.lead.from == n {
		return
	}
	why := fmt.Sprintf("group %s: %s became %v (%s)", n.group.name, v.lead.from.cfg.Name, v.lead.state, v.lead.why)
	switch st := n.m.State(); {
	case v.lead.state == Master && st == Backup:
		n.do(n.m.Takeover(now, why))
	case v.lead.state != Master && st == Master:
		n.logq.do(func(l *logrus.Entry) { l.WithField("reason", why).Info("resigning to follow the group") })
		n.do(n.m.Resign(now))
	}
}
