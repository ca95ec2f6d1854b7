package vrrp

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"
)

// The direct loop. On a saturated machine, what delays a realtime VRRP
// thread is not the CPU but Go's scheduler: a goroutine locked to a
// realtime thread that waits on a channel, a timer or the netpoller is
// woken by whichever runtime thread next polls the network, runs the
// timers or schedules a goroutine, and those threads are SCHED_OTHER,
// queued behind the load for as long as the kernel's fair scheduler
// likes. BenchmarkFalseFailover saw a master's adverts stop for 60-130 ms
// so, with the loop's Go timer due and no garbage collection near, and its
// backup take over (5 times in 2 minutes at 20 ms adverts, both cores
// saturated); keepalived, one realtime thread waiting in the kernel, sent
// no gap over 39 ms on the same wire.
//
// So on Linux, when every path's Conn can be read without blocking
// (directConn, the raw sockets), the loop waits in the kernel itself:
// ppoll(2) on its thread, on every path's socket and an eventfd, with the
// next deadline as its timeout. The kernel then wakes the loop's own
// thread, at its realtime priority, for an advert or a deadline, and the
// loop reads the adverts itself: no reader goroutine, no channel, no Go
// timer between the socket and the Machine. Everything else that the
// loop serves (admin calls, scripts, links, the group's mailbox,
// sightings, the stop) arrives on channels as before; a relay goroutine
// takes it off them, queues it for the loop and rings the eventfd.

// directConn is a Conn whose receiving socket the loop can wait on and
// read itself.
type directConn interface {
	Conn
	recvFD() int
	// TryReadFrom reads a message that is waiting, without blocking; ok
	// is false when none is.
	TryReadFrom(b []byte) (r Received, ok bool, err error)
}

// directReadBurst bounds the adverts read from one socket per wake-up, so
// that a flood on one path cannot hold the loop from its timers.
const directReadBurst = 16

// directConns returns every path's Conn as a directConn, or nil if one
// is not (a fake, a dry run's listenConn).
func (n *Node) directConns() []directConn {
	if _, ok := n.clock.(realClock); !ok && !n.directAnyClock {
		return nil
	}
	var dcs []directConn
	for _, p := range n.paths {
		dc, ok := p.conn.(directConn)
		if !ok {
			return nil
		}
		dcs = append(dcs, dc)
	}
	return dcs
}

// openDirect opens the direct loop's wait if every path's Conn is a
// directConn; nil means the channel loop.
func (n *Node) openDirect() (*kernelWait, []directConn) {
	dcs := n.directConns()
	if dcs == nil {
		return nil, nil
	}
	kw, err := newKernelWait(dcs)
	if err != nil {
		n.log.WithError(err).Warn("vrrp loop waits on channels, not in the kernel")
		return nil, nil
	}
	n.kw = kw
	return kw, dcs
}

// loopDirect is loop for a Node whose sockets the loop reads itself.
func (n *Node) loopDirect(ctx context.Context, kw *kernelWait, dcs []directConn, sightings <-chan Sighting) error {
	inbox := make(chan func(), 16)
	quit, relayed := make(chan struct{}), make(chan struct{})
	go n.relay(ctx, sightings, inbox, kw.ring, quit, relayed)
	defer func() {
		close(quit)
		<-relayed
	}()
	buf := make([]byte, 9000)
	for {
		now := n.clock.Now()
		if n.stopping && (n.m.State() != Resigning || !now.Before(n.stopAt)) && !now.Before(n.holdUntil) {
			n.finish()
			return nil
		}
		n.publish()
		next := n.nextDeadline()
		if n.idle != nil {
			n.idle(next)
		}
		n.waited = n.clock.Now()
		if err := kw.wait(next, n.waited); err != nil {
			n.finish()
			return fmt.Errorf("vrrp instance %q: wait: %w", n.cfg.Name, err)
		}
		n.woke = n.clock.Now()
		// The adverts first: one that came before a deadline the loop woke
		// late for is handled before it (see drainAdverts).
		for i, dc := range dcs {
			if !kw.readable(i) {
				continue
			}
			if err := n.readDirect(i, dc, buf); err != nil {
				if i == 0 {
					n.finish()
					return fmt.Errorf("vrrp instance %q: read: %w", n.cfg.Name, err)
				}
				kw.drop(i)
				n.log.WithError(err).WithField("path", n.paths[i].name).Warn("heartbeat path: read failed, path stopped")
			}
		}
		for more := true; more; {
			select {
			case f := <-inbox:
				f()
			default:
				more = false
			}
		}
		if !next.IsZero() && !n.clock.Now().Before(next) {
			n.onTimer()
		}
	}
}

// readDirect reads, checks and hands the Machine the adverts waiting on
// path i, as readLoop does on a reader's goroutine.
func (n *Node) readDirect(i int, dc directConn, buf []byte) error {
	p := n.paths[i]
	for range directReadBurst {
		r, ok, err := dc.TryReadFrom(buf)
		if err != nil {
			n.st.count(cReadErr, 1)
			return err
		}
		if !ok {
			return nil
		}
		if a, ok := n.check(p, buf, r); ok {
			n.onAdvert(pathAdvert{i, a})
		}
	}
	return nil
}

// check validates a message a path received and counts it: ok is true
// for an advert from another router.
func (n *Node) check(p *hbPath, buf []byte, r Received) (Advert, bool) {
	a, err := n.accept(p, buf[:r.Len], r)
	if err != nil {
		n.st.drop(Reason(err))
		if n.log.Logger.IsLevelEnabled(logrus.DebugLevel) { // off the loop: a flood of bad packets must not wait on the log
			name := p.name
			n.logq.do(func(l *logrus.Entry) { l.WithError(err).WithField("path", name).Debug("advert dropped") })
		}
		return Advert{}, false
	}
	if a.From == p.self || a.From == n.self {
		return Advert{}, false // our own, looped back
	}
	n.st.count(cReceived, 1)
	p.readAt.Store(n.clock.Now().UnixNano())
	return a, true
}

// relay takes the loop's other events off their channels, queues them on
// inbox and rings the loop's kernel wait, until quit.
func (n *Node) relay(ctx context.Context, sightings <-chan Sighting, inbox chan<- func(), ring func(), quit <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	stop := ctx.Done()
	for {
		var f func()
		select {
		case <-quit:
			return
		case <-stop:
			stop, f = nil, n.beginStop
		case s := <-sightings:
			f = func() { n.onSighting(s) }
		case g := <-n.events:
			f = g
		case ls := <-n.linkCh:
			f = func() { n.onLink(ls) }
		case <-n.mbox.signal:
			f = n.onMailbox
		}
		select {
		case inbox <- f:
			ring()
		case <-quit:
			return
		}
	}
}
