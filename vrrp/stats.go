package vrrp

import (
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// maxTransitions is how many transitions NodeStatus keeps.
const maxTransitions = 20

// Transition is one state change of a Node.
type Transition struct {
	Time     time.Time
	From, To State
	Reason   string
}

// Counters are a Node's cumulative counters since it was created.
type Counters struct {
	// AdvertsSent counts advertisements written, one per destination.
	AdvertsSent uint64
	// AdvertsReceived counts advertisements that passed Validate.
	AdvertsReceived uint64
	// Drops counts received packets that did not, by reason.
	Drops map[DropReason]uint64
	// Transitions counts state changes; ToMaster and FromMaster those
	// into and out of Master.
	Transitions, ToMaster, FromMaster uint64
	// AnnouncesSent counts gratuitous ARP and NA packets sent.
	AnnouncesSent uint64
	// SendErrors, AddrErrors, AnnounceErrors and ReadErrors count failed
	// sends, address additions or removals, announcements (and probes)
	// and reads.
	SendErrors, AddrErrors, AnnounceErrors, ReadErrors uint64
	// Conflicts counts address conflicts seen as master (another host
	// claiming a VIP: a split brain or a misconfigured host), Claims the
	// claims seen during them by kind, and Heals those that ended with the
	// other holder gone and this node announcing again (see guard.go).
	Conflicts uint64
	Claims    map[ClaimKind]uint64
	Heals     uint64
	// Probes counts ARP probes and Neighbor Solicitations sent: for a
	// conflict, and to learn a new master's MAC.
	Probes uint64
	// ProxyAnnounces counts gratuitous ARP and NA packets sent for a new
	// master, at its MAC, after stepping down to it (node_guard.go).
	ProxyAnnounces uint64
	// PathSilences counts heartbeat paths that went silent while another
	// path heard the peer (path.go).
	PathSilences uint64
}

// ConflictStatus is an address conflict in progress: another host (MAC)
// claims Addr, one of the VIPs, while this node is master.
type ConflictStatus struct {
	Addr  netip.Addr
	MAC   string
	Since time.Time
}

// NodeStatus is a snapshot of a Node for operators.
type NodeStatus struct {
	Name      string
	Interface string
	VRID      uint8
	State     State
	// Priority is the effective priority, after tracking and SetPriority.
	Priority uint8
	// Master is the master's address as last heard, our own address while
	// we hold the VIPs, or the zero Addr when unknown.
	Master netip.Addr
	// Since is when the current state began.
	Since time.Time
	// Faults lists why the node is in Fault (tracked items or group).
	Faults []string
	// PreemptHold says why the node's preemption is held (HoldPreempt),
	// "" when it is not.
	PreemptHold string
	// LastAdvert is when the last advertisement from another router was
	// handled, and Peer who sent it; zero before any.
	LastAdvert time.Time
	Peer       netip.Addr
	// LastSent is when this node last sent an advertisement.
	LastSent time.Time
	// Transitions are the last 20 state changes, oldest first.
	Transitions []Transition
	Counters    Counters
	// Conflict is the address conflict in progress, or the zero value.
	Conflict ConflictStatus
	// Paths are the heartbeat paths, the instance's own interface first;
	// nil before Run opens them.
	Paths []PathStatus
	// AdvertLateness is how late the timed advertisements went out
	// against their deadlines (lateness.go).
	AdvertLateness Lateness
}

// stats holds a Node's status and counters. The Node's goroutine and its
// readLoop write it; Status reads a copy from any goroutine.
type stats struct {
	mu sync.Mutex
	s  NodeStatus
}

func newStats(cfg InstanceConfig) *stats {
	return &stats{s: NodeStatus{
		Name: cfg.Name, Interface: cfg.Interface, VRID: cfg.VRID, Priority: cfg.Priority,
		Counters: Counters{Drops: map[DropReason]uint64{}, Claims: map[ClaimKind]uint64{}},
	}}
}

// snapshot returns a deep copy.
func (st *stats) snapshot() NodeStatus {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.s
	s.Faults = slices.Clone(s.Faults)
	s.Transitions = slices.Clone(s.Transitions)
	s.Counters.Drops = maps.Clone(s.Counters.Drops)
	s.Counters.Claims = maps.Clone(s.Counters.Claims)
	s.Paths = slices.Clone(s.Paths)
	return s
}

// update runs fn with the status locked.
func (st *stats) update(fn func(s *NodeStatus)) {
	st.mu.Lock()
	fn(&st.s)
	st.mu.Unlock()
}

func (st *stats) drop(r DropReason) {
	st.update(func(s *NodeStatus) { s.Counters.Drops[r]++ })
}

func (st *stats) claim(k ClaimKind) {
	st.update(func(s *NodeStatus) { s.Counters.Claims[k]++ })
}

func (st *stats) conflict(c ConflictStatus) {
	st.update(func(s *NodeStatus) { s.Conflict = c })
}

func (st *stats) count(field func(c *Counters) *uint64, n int) {
	st.update(func(s *NodeStatus) { *field(&s.Counters) += uint64(n) })
}

// transition records a state change.
func (st *stats) transition(t Transition) {
	st.update(func(s *NodeStatus) {
		s.Since = t.Time
		s.Counters.Transitions++
		if t.To == Master {
			s.Counters.ToMaster++
		}
		if t.From == Master {
			s.Counters.FromMaster++
		}
		if len(s.Transitions) == maxTransitions {
			s.Transitions = slices.Delete(s.Transitions, 0, 1)
		}
		s.Transitions = append(s.Transitions, t)
	})
}

// sent records one advertisement written to ok destinations and failed
// on failed; late is how late a timed one went out, negative for an
// advert that had no deadline. One lock for the whole advert: this runs
// on the loop's advert path and allocates nothing.
func (st *stats) sent(at time.Time, ok, failed int, late time.Duration) {
	st.mu.Lock()
	c := &st.s.Counters
	c.AdvertsSent += uint64(ok)
	c.SendErrors += uint64(failed)
	if ok > 0 {
		st.s.LastSent = at
	}
	if late >= 0 {
		st.s.AdvertLateness.record(late)
	}
	st.mu.Unlock()
}

// heard records an advertisement from another router.
func (st *stats) heard(at time.Time, from netip.Addr) {
	st.update(func(s *NodeStatus) { s.LastAdvert, s.Peer = at, from })
}

// machine copies the Machine's view of things.
func (st *stats) machine(ms Status, faults []string) {
	st.update(func(s *NodeStatus) {
		s.State, s.Priority, s.Master = ms.State, ms.Priority, ms.Master
		s.Faults = faults
	})
}

// Field selectors for stats.count.
func cSent(c *Counters) *uint64         { return &c.AdvertsSent }
func cReceived(c *Counters) *uint64     { return &c.AdvertsReceived }
func cAnnounces(c *Counters) *uint64    { return &c.AnnouncesSent }
func cSendErr(c *Counters) *uint64      { return &c.SendErrors }
func cAddrErr(c *Counters) *uint64      { return &c.AddrErrors }
func cAnnounceErr(c *Counters) *uint64  { return &c.AnnounceErrors }
func cReadErr(c *Counters) *uint64      { return &c.ReadErrors }
func cConflicts(c *Counters) *uint64    { return &c.Conflicts }
func cHeals(c *Counters) *uint64        { return &c.Heals }
func cProbes(c *Counters) *uint64       { return &c.Probes }
func cProxy(c *Counters) *uint64        { return &c.ProxyAnnounces }
func cPathSilences(c *Counters) *uint64 { return &c.PathSilences }
