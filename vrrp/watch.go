package vrrp

import (
	"net"
	"net/netip"
)

// Watcher is a Node's eye and voice on its link for address resolution:
// it reports who says which address is at which MAC, probes addresses
// without claiming them, and announces an address at another router's MAC.
// The Linux Watcher is a packet socket on the instance's interface (for
// IPv4 ARP, for IPv6 Neighbor Advertisements); tests give a fake. A Node
// without one (Deps.Announcer injected, Deps.Watcher nil) does without
// conflict detection and proxy announcements.
type Watcher interface {
	// Read blocks until the next sighting and returns it, or returns an
	// error once the Watcher is closed.
	Read() (Sighting, error)
	// Probe asks who holds addr without claiming it: an ARP probe from
	// 0.0.0.0 (RFC 5227 §2.1.1), or a Neighbor Solicitation from ::
	// (RFC 4862 §5.4.2).
	Probe(addr netip.Addr) error
	// AnnounceAs announces addr at mac, another router's MAC: gratuitous
	// ARP or an unsolicited Neighbor Advertisement, as Announcer sends
	// for our own. It returns how many packets it sent.
	AnnounceAs(addr netip.Addr, mac net.HardwareAddr) (int, error)
	// MAC is the hardware address the Node's own announcements carry:
	// the interface's, or the virtual MAC.
	MAC() net.HardwareAddr
	Close() error
}
