package vrrp

import (
	"net/netip"
	"sync/atomic"

	"github.com/sirupsen/logrus"
)

// Listen-only mode (Deps.ListenOnly) is what `lvsd run --dry-run` runs:
// the Node opens its receive socket, hears the live routers' adverts and
// runs its Machine, so its status says what it would do, but nothing
// leaves it: no advert is sent, no address is added or removed, no
// gratuitous ARP or NA is sent and no virtual MAC is made. An operator
// reads "dry run" as "touches nothing"; on a live pair a Node that sent
// adverts could take the VIPs.

// listenConn receives like the Conn it wraps and sends nothing.
type listenConn struct {
	Conn
	log    *logrus.Entry
	logged atomic.Bool
}

func (c *listenConn) WriteTo(b []byte, dst netip.Addr) error {
	if c.logged.CompareAndSwap(false, true) {
		c.log.WithField("to", dst).Info("dry run: would send adverts (not sent; further ones logged at debug)")
	} else {
		c.log.WithField("to", dst).Debug("dry run: would send an advert")
	}
	return nil
}

// listenAddrs logs the address changes it is asked for.
type listenAddrs struct{ log *logrus.Entry }

func (a listenAddrs) Add(p netip.Prefix) error {
	a.log.WithField("vip", p).Info("dry run: would add the virtual address")
	return nil
}

func (a listenAddrs) Remove(p netip.Prefix) error {
	a.log.WithField("vip", p).Debug("dry run: would remove the virtual address (if present)")
	return nil
}

// listenAnnouncer logs the announcements it is asked for.
type listenAnnouncer struct{ log *logrus.Entry }

func (a listenAnnouncer) Announce(addr netip.Addr) (int, error) {
	a.log.WithField("vip", addr).Debug("dry run: would announce the virtual address")
	return 0, nil
}

// listenOnly wraps the Node's sending parts; called once they are open.
func (n *Node) listenOnly() {
	n.conn = &listenConn{Conn: n.conn, log: n.log}
	for i, c := range n.pathConns {
		n.pathConns[i] = &listenConn{Conn: c, log: n.log}
	}
	n.addrs = listenAddrs{log: n.log}
	n.ann = listenAnnouncer{log: n.log}
	if n.watch != nil {
		// No conflict watch either: a guard that may not probe would take
		// every claim for a conflict and every silence for its end.
		n.watch.Close()
		n.watch = nil
	}
}
