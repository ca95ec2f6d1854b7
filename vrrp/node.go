package vrrp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Node runs one VRRP instance: it owns a Machine and carries out its
// actions on the kernel through a Conn, Addrs and an Announcer. Build it
// with NewNode and run it with Run; Status, Switchover and SetPriority may
// be called from any goroutine.
type Node struct {
	cfg   InstanceConfig
	deps  Deps
	log   *logrus.Entry
	logq  *logq // the loop's log calls (logq.go)
	clock Clock
	st    *stats
	ns    *os.File // Linux: the network namespace NewNode ran in

	// Set before Run; unit tests replace them.
	conn      Conn
	pathConns []Conn // one per cfg.Paths (path.go)
	addrs     Addrs
	ann       Announcer
	watch     Watcher // nil: no conflict detection, no proxy announcements
	links     linkSource
	runCmd    func(ctx context.Context, argv []string) error
	idle      func(next time.Time) // test hook: called before each wait

	started atomic.Bool
	// announceLast and announced order a group's announce (announceOrder
	// in group.go): set by SetAnnounceLast; announced by Run's goroutine,
	// read by the other members'.
	announceLast atomic.Bool
	announced    atomic.Bool
	done         chan struct{} // closed when Run returns
	events       chan func()   // run on Run's goroutine: admin calls, scripts
	linkCh       chan linkState
	group        *Group
	mbox         *mailbox

	// Owned by Run's goroutine.
	m         *Machine
	self      netip.Addr
	paths     []*hbPath // paths[0] is the LAN (path.go)
	pathSince time.Time // when the paths started listening
	pathNext  time.Time
	lanLast   time.Time // when the LAN last handed the Machine an advert
	lanPrio   uint8     // and of which priority
	exp       Expect
	vips      []netip.Addr
	base      uint8  // configured priority, or the last SetPriority
	hold      string // why preemption is held (hold.go), "" when it is not
	tracks    *tracks
	view      groupView
	leadSeen  uint64
	last      State
	held      map[netip.Prefix]bool
	want      bool      // the Machine wants the VIPs
	holdUntil time.Time // keep them until then anyway (handoverGrace)
	annLeft   int
	annNext   time.Time
	annLate   time.Time // one more round past the hosts' neighbour locktime
	annGroup  time.Time // the first announce waits for the group until then (groupAnnounce)
	g         *guard    // the master's watch over its VIPs (guard.go)
	heir      heir      // a new master to announce the VIPs for (node_guard.go)
	refresh   time.Time
	retry     time.Time
	stopping  bool
	stopAt    time.Time
	waiters   []chan error
	warned    map[string]time.Time // warn's memory
	due       time.Time            // the deadline of the Machine's Timeout under way, for send
	wbuf      []byte               // send's encoding buffer, kept between adverts
	advertCh  chan pathAdvert      // the readers' adverts, for tests
	ev        takeoverEvidence     // of the last Master_Down_Timer firing (evidence.go)
	woke      time.Time            // when the loop's last wait ended, for send's late warning
	waited    time.Time            // when it began: after the due time, the lateness came before the wait

	kw             *kernelWait // the direct loop's wait, nil for loop (direct.go)
	directAnyClock bool        // test hook: the direct loop on a fake clock too
}

// Errors of Run, Switchover and SetPriority.
var (
	// ErrNotMaster means Switchover was asked of a node that is not master.
	ErrNotMaster = errors.New("vrrp: not master")
	// ErrResignTimeout means a Switchover's resign timed out without
	// hearing a new master; the node released its addresses anyway.
	ErrResignTimeout = errors.New("vrrp: resign timed out without a new master")
	// ErrStopped means the Node stopped before the call completed.
	ErrStopped = errors.New("vrrp: node stopped")
	// ErrResignFault means a Switchover's resign ended in Fault (a link
	// or a tracked script failed meanwhile): the node released its
	// addresses as a faulty node does, and the peer takes over on its
	// own, unplanned. The error names the fault.
	ErrResignFault = errors.New("vrrp: resign ended in FAULT; the peer takes over unplanned")
)

// NewNode checks cfg, applies its defaults and returns a Node that Run
// starts. On Linux, the Node's sockets, netlink handles and track scripts
// live in the network namespace of the thread that calls NewNode, whatever
// thread later runs Run: to run a Node in another namespace, call NewNode
// on a locked OS thread switched into it.
func NewNode(cfg InstanceConfig, deps Deps) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	log := deps.Log
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = logrus.NewEntry(l)
	}
	log = log.WithFields(logrus.Fields{"instance": cfg.Name, "vrid": cfg.VRID})
	n := &Node{
		cfg: cfg, deps: deps, clock: deps.Clock, st: newStats(cfg), log: log, logq: newLogq(log),
		conn: deps.Conn, addrs: deps.Addrs, ann: deps.Announcer, watch: deps.Watcher, g: newGuard(cfg.AdvertInterval),
		done: make(chan struct{}), events: make(chan func()), linkCh: make(chan linkState),
		mbox: newMailbox(), base: cfg.Priority, tracks: newTracks(cfg), pathConns: make([]Conn, len(cfg.Paths)),
		held: map[netip.Prefix]bool{}, warned: map[string]time.Time{},
	}
	if n.clock == nil {
		n.clock = realClock{}
	}
	copy(n.pathConns, deps.PathConns)
	ns, err := captureNetns()
	if err != nil {
		return nil, fmt.Errorf("vrrp instance %q: %w", cfg.Name, err)
	}
	n.ns = ns
	return n, nil
}

// Status returns a snapshot of the node; it is safe from any goroutine.
func (n *Node) Status() NodeStatus { return n.st.snapshot() }

// Run runs the instance until ctx is done, then stops gracefully: with
// Handover.OnStop a master resigns and Run returns once a new master is
// heard or Handover.Timeout passes; otherwise it shuts down at once
// (priority 0 advert, addresses released). Run closes the Conn, also an
// injected one, and removes what it created (virtual MAC). It returns an
// error if it cannot start, or if reading adverts fails, after releasing
// the addresses. Run may be called once.
func (n *Node) Run(ctx context.Context) error {
	if !n.started.CompareAndSwap(false, true) {
		return fmt.Errorf("vrrp instance %q: Run called twice", n.cfg.Name)
	}
	defer close(n.done)
	closeSys, err := n.open()
	if err != nil {
		return fmt.Errorf("vrrp instance %q: %w", n.cfg.Name, err)
	}
	defer closeSys()
	if err := n.openPaths(); err != nil {
		n.closeConns()
		return fmt.Errorf("vrrp instance %q: %w", n.cfg.Name, err)
	}
	if err := n.openWatch(); err != nil {
		n.closeConns()
		return fmt.Errorf("vrrp instance %q: %w", n.cfg.Name, err)
	}
	closeWatch := sync.OnceFunc(func() {
		if n.watch != nil {
			n.watch.Close() // also an injected one, as the Conn
		}
	})
	defer closeWatch()
	if n.deps.ListenOnly {
		n.listenOnly()
	}
	if err := n.setup(); err != nil {
		n.closeConns()
		return fmt.Errorf("vrrp instance %q: %w", n.cfg.Name, err)
	}
	bg := make(chan struct{})
	var wg sync.WaitGroup
	// stopBg ends the background goroutines: closing the Conn and the
	// Watcher ends their reads.
	stopBg := func() {
		n.closeConns()
		closeWatch()
		close(bg)
		wg.Wait()
	}
	// Buffered, so that adverts that came while the loop was busy or woke
	// late are there for drainAdverts to see.
	adverts, readErr := make(chan pathAdvert, advertQueue), make(chan error, 1)
	n.advertCh = adverts
	kw, dcs := n.openDirect()
	if kw != nil {
		defer kw.close()
	}
	var readers []func()
	if kw == nil { // the direct loop reads the sockets itself (direct.go)
		readers = n.startReaders(bg, adverts, readErr)
	}
	for _, loop := range readers {
		wg.Go(func() {
			// Each reader on a thread of its own, realtime like the loop,
			// so that an advert is read when it arrives, not when a busy
			// process gets round to it. Its error is the loop's to log.
			unpin, _ := pinThread(n.deps.RTPriority)
			defer unpin()
			loop()
		})
	}
	sightings := make(chan Sighting)
	if n.watch != nil {
		wg.Go(func() { n.watchLoop(bg, sightings) })
	}
	if err := n.startTracking(bg, &wg); err != nil {
		stopBg()
		return fmt.Errorf("vrrp instance %q: %w", n.cfg.Name, err)
	}
	// The loop keeps one OS thread, realtime when configured: the adverts'
	// timing must survive a saturated machine (see pinThread). On Linux it
	// waits in the kernel on that thread (loopDirect), elsewhere, or with
	// fake Conns, on channels fed by the readers (loop).
	unpin, rtErr := pinThread(n.deps.RTPriority)
	if rtErr != nil {
		n.log.WithError(rtErr).Warn("vrrp loop runs at normal priority")
	}
	n.begin()
	if kw != nil {
		err = n.loopDirect(ctx, kw, dcs, sightings)
	} else {
		err = n.loop(ctx, adverts, sightings, readErr)
	}
	unpin()
	stopBg()
	n.logq.flush()
	return err
}

// setup builds the Machine and what readLoop needs, before it starts.
func (n *Node) setup() error {
	n.self = n.conn.Source().WithZone("").Unmap()
	m, err := NewMachine(n.cfg.machineConfig(n.self))
	if err != nil {
		return err
	}
	n.m = m
	for _, p := range n.cfg.VIPs {
		n.vips = append(n.vips, p.Addr())
	}
	n.exp = Expect{Version: n.cfg.Version, VRID: n.cfg.VRID, Checksum: n.cfg.ChecksumMode,
		Interval: n.cfg.AdvertInterval, Password: n.cfg.AuthPass, Addrs: n.vips}
	if n.cfg.AuthPass != "" {
		n.exp.AuthType = AuthPassword
	}
	n.setupPaths()
	n.wbuf = make([]byte, 0, 1500) // send's: an advert fits an Ethernet frame
	return nil
}

// MulticastIPv6 is the IPv6 group VRRP advertisements are sent to
// (RFC 5798 §5.1.2.2).
var MulticastIPv6 = netip.MustParseAddr("ff02::12")

// begin applies the initial tracking state, starts the Machine and, unless
// it took the VIPs at once (the owner), removes any that a previous run
// left behind: they must not be here while we are not master.
func (n *Node) begin() {
	now := n.clock.Now()
	n.pathSince, n.pathNext = now, now.Add(n.cfg.AdvertInterval)
	n.st.update(func(s *NodeStatus) { s.Since = now })
	n.report(nil)
	if n.m.State() == Initialize {
		n.do(n.m.Start(now))
	}
	n.applyView(n.view) // a group lead that came before we started
	if !n.want {
		for _, p := range n.cfg.VIPs {
			n.held[p] = true
		}
		n.reconcile(now)
	}
}

// loop is the event loop: the only goroutine that touches the Machine.
func (n *Node) loop(ctx context.Context, adverts <-chan pathAdvert, sightings <-chan Sighting, readErr <-chan error) error {
	stop := ctx.Done()
	wait := newWaiter(n.clock)
	defer wait.stop()
	for {
		now := n.clock.Now()
		if n.stopping && (n.m.State() != Resigning || !now.Before(n.stopAt)) && !now.Before(n.holdUntil) {
			n.finish()
			return nil
		}
		n.publish()
		var timer <-chan time.Time
		next := n.nextDeadline()
		n.waited = n.clock.Now()
		if !next.IsZero() {
			timer = wait.after(next.Sub(n.waited))
		}
		if n.idle != nil {
			n.idle(next)
		}
		select {
		case <-stop:
			stop = nil
			n.beginStop()
		case pa := <-adverts:
			n.onAdvert(pa)
		case s := <-sightings:
			n.onSighting(s)
		case f := <-n.events:
			f()
		case ls := <-n.linkCh:
			n.onLink(ls)
		case <-n.mbox.signal:
			n.onMailbox()
		case err := <-readErr:
			n.finish()
			return fmt.Errorf("vrrp instance %q: read: %w", n.cfg.Name, err)
		case <-timer:
			n.woke = n.clock.Now()
			n.drainAdverts(adverts)
			n.onTimer()
		}
	}
}

// advertQueue is how many adverts the readers may hand the loop ahead.
const advertQueue = 8

// onAdvert hands the Machine an advert that a reader accepted.
func (n *Node) onAdvert(pa pathAdvert) {
	now := n.clock.Now()
	n.st.heard(now, pa.a.From)
	n.heardOn(pa.path, now)
	if !n.duplicate(pa.path, now, pa.a) {
		n.do(n.m.Receive(now, n.heldAdvert(pa.a)))
	}
}

// drainAdverts handles the adverts already waiting when the timer fires,
// before the timer. A loop that wakes late, on a saturated machine, finds
// both the Master_Down_Timer past and the master's advert that came in
// time waiting; select would pick either, and picking the timer makes a
// backup take over from a live master only to step down at once, two
// false transitions and a gratuitous ARP storm. Handling the advert first
// is what the RFC's timeline says happened (the advert arrived before the
// loop got to the timer). A master that is really gone sends nothing, so
// this never delays a takeover.
func (n *Node) drainAdverts(adverts <-chan pathAdvert) {
	for range advertQueue {
		select {
		case pa := <-adverts:
			n.onAdvert(pa)
		default:
			return
		}
	}
}

// nextDeadline returns the earliest time the loop must wake up at, or
// zero for none.
func (n *Node) nextDeadline() time.Time {
	var next, stopAt time.Time
	if n.stopping && n.m.State() == Resigning {
		stopAt = n.stopAt
	}
	for _, t := range []time.Time{n.m.Deadline(), n.annNext, n.annLate, n.annGroup, n.refresh, n.retry, stopAt,
		n.g.deadline(), n.heirDeadline(), n.pathDeadline()} {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next
}

// onTimer handles every deadline that has passed.
func (n *Node) onTimer() {
	now := n.clock.Now()
	if d := n.m.Deadline(); !d.IsZero() && !now.Before(d) {
		n.due = d // an advert this sends was due at d (Lateness)
		if n.m.State() == Backup {
			n.captureEvidence(now, d)
		}
		n.do(n.m.Timeout(now))
		n.due = time.Time{}
	}
	if !n.annNext.IsZero() && !now.Before(n.annNext) {
		n.announceRound()
		n.annLeft--
		n.annNext = time.Time{}
		if n.annLeft > 0 {
			n.annNext = now.Add(n.cfg.Announce.Interval)
		}
	}
	if !n.annGroup.IsZero() && !now.Before(n.annGroup) {
		n.annGroup = time.Time{} // a member that did not follow: announce anyway
		n.startAnnounce(now)
	}
	if !n.annLate.IsZero() && !now.Before(n.annLate) {
		n.announceRound()
		n.annLate = time.Time{}
	}
	if !n.refresh.IsZero() && !now.Before(n.refresh) {
		n.announceRound()
		n.refresh = now.Add(n.cfg.Announce.Refresh)
	}
	if !n.retry.IsZero() && !now.Before(n.retry) && n.reconcile(now) && n.want {
		n.startAnnounce(now) // a VIP that failed before is there now
	}
	if d := n.g.deadline(); !d.IsZero() && !now.Before(d) {
		n.do(n.g.timeout(now))
	}
	n.onHeirTimer(now)
	if d := n.pathDeadline(); !d.IsZero() && !now.Before(d) {
		n.checkPaths(now)
	}
}

// beginStop starts a graceful stop; loop ends it.
func (n *Node) beginStop() {
	now := n.clock.Now()
	n.stopping, n.stopAt = true, now
	if n.cfg.Handover.OnStop && n.m.State() == Master {
		n.do(n.m.Resign(now))
		timeout := n.m.cfg.resignTimeout()
		n.stopAt = now.Add(timeout + n.cfg.AdvertInterval)
		n.logq.do(func(l *logrus.Entry) {
			l.WithField("timeout", timeout).Info("stopping: resigned, waiting for a new master")
		})
	}
}

// finish shuts the Machine down and makes sure the VIPs are gone.
func (n *Node) finish() {
	n.stopping = true
	n.do(n.m.Shutdown(n.clock.Now()))
	n.want, n.holdUntil = false, time.Time{}
	n.reconcile(n.clock.Now())
	for _, w := range n.waiters {
		w <- ErrStopped
	}
	n.waiters = nil
	if n.group != nil {
		n.group.update(n, nil, nil) // leave: our faults no longer count
	}
	n.publish()
}

// publish copies the Machine's state into the status.
func (n *Node) publish() {
	n.st.machine(n.m.Status(), n.view.faultList())
}

// accept checks a received packet: the unicast peer list, then Validate.
func (n *Node) accept(p *hbPath, pkt []byte, r Received) (Advert, error) {
	src := r.Src.WithZone("").Unmap()
	if p.peers != nil && !p.peers[src] {
		return Advert{}, fmt.Errorf("advert from %v: %w", src, ErrNotPeer)
	}
	return Validate(pkt, r.TTL, src, r.Dst.WithZone("").Unmap(), n.exp)
}
