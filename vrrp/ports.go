package vrrp

import (
	"net/netip"
	"time"
)

// This file holds the small interfaces through which a Node touches the
// kernel and the clock. The Linux implementations are in *_linux.go; tests
// use fakes.

// Received describes one VRRP message that a Conn read: its length in the
// caller's buffer and what the IP header and control messages said.
type Received struct {
	// Len is the length of the VRRP message (the IP payload).
	Len int
	// Src and Dst are the IP source and destination, without zones.
	Src, Dst netip.Addr
	// TTL is the IPv4 TTL or IPv6 Hop Limit the packet arrived with
	// (IP_RECVTTL, IPV6_RECVHOPLIMIT); Validate wants 255 (RFC 5798 §7.1).
	TTL uint8
}

// Conn sends and receives the VRRP messages of one virtual router: IP
// protocol 112 on one interface, with TTL 255.
type Conn interface {
	// ReadFrom reads one VRRP message into b. It blocks until a message
	// arrives or the Conn is closed, when it returns an error that wraps
	// net.ErrClosed.
	ReadFrom(b []byte) (Received, error)
	// WriteTo sends the VRRP message b from Source to dst: the multicast
	// group or one unicast peer.
	WriteTo(b []byte, dst netip.Addr) error
	// Source returns the IP source address of our messages, which is the
	// node's Self in the election (RFC 5798 §6.4.3).
	Source() netip.Addr
	// Close closes the Conn and ends a blocked ReadFrom.
	Close() error
}

// Addrs adds and removes the virtual addresses on the interface that
// holds them. Adding an address that is already there, or removing one
// that is not, is not an error.
type Addrs interface {
	Add(p netip.Prefix) error
	Remove(p netip.Prefix) error
}

// Announcer tells the hosts on the link that a virtual address is here:
// gratuitous ARP for IPv4, an unsolicited Neighbor Advertisement for IPv6
// (RFC 5798 §6.4.1, §6.4.2).
type Announcer interface {
	// Announce sends one round of announcements for addr and returns how
	// many packets it sent.
	Announce(addr netip.Addr) (int, error)
}

// Clock is the Node's only source of time, so that tests can drive it.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

// realClock is the Clock of package time.
type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// waiter arms the loop's timer. On the real clock it re-arms one
// time.Timer for every wait, rather than making one per wait as
// time.After does: the loop wakes up for every advert, and its advert
// path allocates nothing (Go 1.23 timers: Reset drops a stale expiry, so
// the channel never delivers an old deadline). Deadlines are absolute
// times (the Machine's, see nextTick) and each wait is computed from them
// afresh, so wake-up latency does not add up.
type waiter struct {
	clock Clock
	t     *time.Timer // nil on another Clock
}

func newWaiter(c Clock) *waiter {
	w := &waiter{clock: c}
	if _, ok := c.(realClock); ok {
		w.t = time.NewTimer(time.Hour)
		w.t.Stop()
	}
	return w
}

// after returns a channel that receives once d has passed; a call ends
// the wait of the previous one.
func (w *waiter) after(d time.Duration) <-chan time.Time {
	if w.t == nil {
		return w.clock.After(d)
	}
	w.t.Reset(d)
	return w.t.C
}

func (w *waiter) stop() {
	if w.t != nil {
		w.t.Stop()
	}
}
