//go:build linux

package vrrp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// The EtherTypes the announcer sends.
const (
	etherTypeARP  = 0x0806
	etherTypeIPv6 = 0x86dd
)

var (
	broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	allNodesMAC  = net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1} // ff02::1 (RFC 2464 §7)
)

// linkAnnouncer is the Linux Announcer. It writes whole ARP packets or
// IPv6 packets to a datagram packet socket, so the kernel adds an
// Ethernet header from the interface's MAC (the virtual MAC on a
// macvlan), and nothing depends on the interface's IP configuration.
type linkAnnouncer struct {
	mac    net.HardwareAddr
	pc     *packet.Conn
	v4     bool
	router bool
}

// newAnnouncer opens the packet socket; it must run in the node's
// namespace. router sets the Router flag of Neighbor Advertisements.
func newAnnouncer(ifi *net.Interface, v4, router bool) (*linkAnnouncer, error) {
	proto := etherTypeIPv6
	if v4 {
		proto = etherTypeARP
	}
	// Send only: the filter keeps the socket from queueing what it hears.
	pc, err := packet.Listen(ifi, packet.Datagram, proto, &packet.Config{Filter: dropAll()})
	if err != nil {
		return nil, fmt.Errorf("packet socket on %s: %w", ifi.Name, err)
	}
	return &linkAnnouncer{mac: ifi.HardwareAddr, pc: pc, v4: v4, router: router}, nil
}

// Announce implements Announcer. For IPv4 it broadcasts a gratuitous ARP
// request and a gratuitous ARP reply, both with sender and target
// address addr: hosts differ in which one updates their caches (Linux
// takes both, see RFC 5227 §3). For IPv6 it sends an unsolicited Neighbor
// Advertisement to ff02::1 (RFC 5798 §6.4.1, RFC 4861 §7.2.6): Override
// set, Solicited clear, the target link-layer address option, and the
// Router flag if the interface forwards IPv6 (RFC 4861 §4.4: the flag
// says whether the sender is a router; clearing it wrongly would remove
// a gateway VIP from hosts' default router lists).
func (a *linkAnnouncer) Announce(addr netip.Addr) (int, error) {
	if a.v4 {
		return a.garp(addr)
	}
	return a.unsolicitedNA(addr)
}

func (a *linkAnnouncer) garp(addr netip.Addr) (int, error) {
	pkts, err := arpAnnounce(a.mac, addr)
	if err != nil {
		return 0, err
	}
	sent := 0
	var errs []error
	for i, b := range pkts {
		if err := downOnce(a.pc, b, broadcastMAC); err != nil {
			errs = append(errs, fmt.Errorf("gratuitous arp %d of %d for %v: %w", i+1, len(pkts), addr, err))
			continue
		}
		sent++
	}
	return sent, errors.Join(errs...)
}

// unsolicitedNA sends one advertisement from the target itself, which is
// on the interface, as Linux does for its own unsolicited advertisements.
func (a *linkAnnouncer) unsolicitedNA(addr netip.Addr) (int, error) {
	pkt, err := naAnnounce(a.mac, addr, a.router)
	if err != nil {
		return 0, err
	}
	if err := downOnce(a.pc, pkt, allNodesMAC); err != nil {
		return 0, fmt.Errorf("neighbor advertisement for %v: %w", addr, err)
	}
	return 1, nil
}

// downOnce sends b to dst on pc, and once more if the send fails with
// ENETDOWN: when its interface goes down, a packet socket takes ENETDOWN
// as a pending error (af_packet's notifier sets sk_err), and the next
// send or receive returns it, once, whatever the link's state by then
// (sock_alloc_send_pskb and skb_recv_datagram read and clear it).
// Without the retry the first announcement after a link comes back is
// lost: one of the two ARPs, an IPv6 VIP's only Neighbor Advertisement,
// the address guard's probe (the watcher's Read skips the error for the
// same reason). A link that is still down fails the retry too.
func downOnce(pc *packet.Conn, b []byte, dst net.HardwareAddr) error {
	_, err := pc.WriteTo(b, &packet.Addr{HardwareAddr: dst})
	if errors.Is(err, unix.ENETDOWN) {
		_, err = pc.WriteTo(b, &packet.Addr{HardwareAddr: dst})
	}
	return err
}

func (a *linkAnnouncer) Close() error { return a.pc.Close() }
