package vrrp

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

// Heartbeat paths. An instance may send and receive its adverts on more
// links than its own interface (the LAN): a crossover cable or a private
// network, so that the loss of one link alone does not make both
// directors master. Every advert goes out on every path; one heard on any
// path is handed to the Machine, so a backup keeps its Master_Down_Timer
// reset (RFC 5798 §6.4.2) while the master is heard anywhere. The LAN
// interface alone decides whether the node can serve: it is tracked with
// weight 0 (track.go), so a master whose LAN goes down goes to Fault and
// its priority 0 advert (RFC 5798 §6.4.3, shutdown) leaves on every path,
// where the backup hears it and takes over after Skew_Time instead of
// Master_Down_Interval. Each path keeps the rules of RFC 5798 §7.1 (TTL
// 255, checked by Validate) and its own unicast source and peers.

// Path is one additional heartbeat path of an instance.
type Path struct {
	// Interface is the link the adverts are sent and received on.
	Interface string
	// Unicast, when it has peers, sends to them instead of the multicast
	// group on this path; Source is then our address on it (the zero Addr:
	// the interface's primary address of the family).
	Unicast Unicast
}

// PathStatus is what an operator sees of one heartbeat path; the first
// is the instance's own interface.
type PathStatus struct {
	Interface string
	// Source is our address on the path.
	Source netip.Addr
	// LastAdvert is when an advert from another router last arrived on
	// the path; zero before any.
	LastAdvert time.Time
	// Silent is set while the path hears nothing although another path
	// hears the peer: the redundancy is gone.
	Silent bool
	// Silences counts how often the path went silent.
	Silences uint64
}

// hbPath is one path as the Node runs it; paths[0] is the LAN.
type hbPath struct {
	name   string
	conn   Conn
	self   netip.Addr
	dsts   []netip.Addr
	peers  map[netip.Addr]bool // nil: multicast, any sender
	heard  time.Time           // Run's goroutine only
	silent bool
	readAt atomic.Int64 // when the reader last accepted an advert, Unix ns (evidence.go)
}

// pathAdvert is an advert that a path's reader accepted.
type pathAdvert struct {
	path int
	a    Advert
}

// silentAfter is how long a path may hear nothing while another path
// hears the peer before it counts as silent: three adverts missed.
func (n *Node) silentAfter() time.Duration {
	return 3 * max(n.cfg.AdvertInterval, n.m.Status().MasterAdverInterval)
}

// newPath builds a path's send and receive rules around its Conn.
func newPath(name string, c Conn, u Unicast, is4 bool) *hbPath {
	p := &hbPath{name: name, conn: c, self: c.Source().WithZone("").Unmap()}
	switch {
	case len(u.Peers) > 0:
		p.peers = map[netip.Addr]bool{}
		for _, a := range u.Peers {
			p.peers[a.WithZone("").Unmap()] = true
			p.dsts = append(p.dsts, a.WithZone(""))
		}
	case is4:
		p.dsts = []netip.Addr{MulticastIPv4}
	default:
		p.dsts = []netip.Addr{MulticastIPv6}
	}
	return p
}

// setupPaths builds the paths: the LAN from the Node's own Conn, then one
// per configured Path from the Conns Run opened.
func (n *Node) setupPaths() {
	lan := newPath(n.cfg.Interface, n.conn, n.cfg.Unicast, n.cfg.is4())
	lan.self = n.self
	n.paths = []*hbPath{lan}
	for i, p := range n.cfg.Paths {
		n.paths = append(n.paths, newPath(p.Interface, n.pathConns[i], p.Unicast, n.cfg.is4()))
	}
	st := make([]PathStatus, len(n.paths))
	for i, p := range n.paths {
		st[i] = PathStatus{Interface: p.name, Source: p.self}
	}
	n.st.update(func(s *NodeStatus) { s.Paths = st })
}

// closeConns closes the Conns of every path, which ends their readers.
func (n *Node) closeConns() {
	n.conn.Close()
	for _, c := range n.pathConns {
		if c != nil {
			c.Close()
		}
	}
}

// startReaders starts one reader per path. A read error on the LAN ends
// Run, as it always did; one on another path only stops that path, which
// then goes silent and is reported as such.
func (n *Node) startReaders(bg <-chan struct{}, out chan<- pathAdvert, errc chan<- error) []func() {
	var loops []func()
	for i, p := range n.paths {
		loops = append(loops, func() {
			err := n.readLoop(i, p, bg, out)
			switch {
			case err == nil:
			case i == 0:
				errc <- err
			default:
				n.log.WithError(err).WithField("path", p.name).Warn("heartbeat path: read failed, path stopped")
			}
		})
	}
	return loops
}

// readLoop reads, checks and hands over the advertisements of one path
// until its Conn is closed. It counts drops itself, so only good adverts
// wake the loop.
func (n *Node) readLoop(i int, p *hbPath, done <-chan struct{}, out chan<- pathAdvert) error {
	buf := make([]byte, 9000)
	for {
		r, err := p.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			n.st.count(cReadErr, 1)
			return err
		}
		a, ok := n.check(p, buf, r)
		if !ok {
			continue
		}
		select {
		case out <- pathAdvert{i, a}:
		case <-done:
			return nil
		}
	}
}

// duplicate reports whether an advert heard on path i is the copy of one
// the LAN path handed over just before: the same priority within half an
// advert interval, as the sender writes every path in one go. The
// Machine then sees the LAN's copy only, so that while the LAN works the
// master it follows, its status and the election's tie-break on equal
// priority (RFC 5798 §6.4.3) use the LAN addresses, whatever the
// addresses on the other paths. Adverts on the other paths still count
// for the path's status, and reach the Machine once the LAN is silent.
func (n *Node) duplicate(i int, now time.Time, a Advert) bool {
	if i == 0 {
		n.lanLast, n.lanPrio = now, a.Priority
		return false
	}
	return !n.lanLast.IsZero() && a.Priority == n.lanPrio &&
		now.Sub(n.lanLast) <= max(n.cfg.AdvertInterval, n.m.Status().MasterAdverInterval)/2
}

// heardOn records an advert from another router on path i.
func (n *Node) heardOn(i int, now time.Time) {
	n.paths[i].heard = now
	n.st.update(func(s *NodeStatus) {
		if i < len(s.Paths) {
			s.Paths[i].LastAdvert = now
		}
	})
	if n.paths[i].silent {
		n.checkPaths(now)
	}
}

// pathDeadline returns when checkPaths must next run: every advert
// interval while there is more than one path.
func (n *Node) pathDeadline() time.Time {
	if len(n.paths) < 2 || n.stopping {
		return time.Time{}
	}
	return n.pathNext
}

// checkPaths marks a path silent when it has heard nothing for
// silentAfter while another path heard the peer within it, and clears
// that when it hears again. Going silent is logged at Warn once and
// counted: the heartbeat no longer has a second path. A node that hears
// nobody on any path (a master: backups do not advertise, RFC 5798
// §6.4.2) reports nothing.
func (n *Node) checkPaths(now time.Time) {
	n.pathNext = now.Add(n.cfg.AdvertInterval)
	window := n.silentAfter()
	fresh := func(p *hbPath) bool { return !p.heard.IsZero() && now.Sub(p.heard) <= window }
	anyFresh := false
	for _, p := range n.paths {
		anyFresh = anyFresh || fresh(p)
	}
	for i, p := range n.paths {
		since := p.heard
		if since.Before(n.pathSince) {
			since = n.pathSince
		}
		quiet := now.Sub(since) > window
		switch {
		case !p.silent && anyFresh && quiet:
			p.silent = true
			n.st.count(cPathSilences, 1)
			fields := logrus.Fields{"path": p.name, "last": p.heard}
			n.logq.do(func(l *logrus.Entry) {
				l.WithFields(fields).Warn("heartbeat path silent: adverts arrive on another path only, the redundancy is gone")
			})
		case p.silent && fresh(p):
			p.silent = false
			name := p.name
			n.logq.do(func(l *logrus.Entry) { l.WithField("path", name).Info("heartbeat path heard again") })
		default:
			continue
		}
		silent := p.silent
		n.st.update(func(s *NodeStatus) {
			s.Paths[i].Silent = silent
			if silent {
				s.Paths[i].Silences++
			}
		})
	}
}
