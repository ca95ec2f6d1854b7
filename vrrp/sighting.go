package vrrp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
)

// This file is the codec of the Watcher: what it reads (ARP packets and
// Neighbor Advertisements, as a datagram packet socket delivers them,
// without the Ethernet header) and what it writes (probes, and
// announcements on another router's behalf). It does no I/O.

// The ICMPv6 types the watcher reads and writes (RFC 4861 §4.3, §4.4).
const (
	icmpv6NS = 135
	icmpv6NA = 136
)

// parseARP decodes an Ethernet/IPv4 ARP packet into a Sighting: its sender
// address is at its sender MAC. It reports false for anything else, and
// for a probe (sender address 0.0.0.0, RFC 5227 §2.1.1), which claims
// nothing.
func parseARP(b []byte, ethSrc net.HardwareAddr) (Sighting, bool) {
	var p arp.Packet
	if p.UnmarshalBinary(b) != nil || p.HardwareType != 1 || p.ProtocolType != 0x0800 ||
		p.HardwareAddrLength != 6 || p.IPLength != 4 || !p.SenderIP.IsValid() || p.SenderIP.IsUnspecified() {
		return Sighting{}, false
	}
	kind := ClaimOther
	switch {
	case p.SenderIP == p.TargetIP: // gratuitous, request or reply (RFC 5227 §3)
		kind = ClaimAnnounce
	case p.Operation == arp.OperationReply:
		kind = ClaimReply
	}
	return Sighting{Addr: p.SenderIP, MAC: bytes.Clone(p.SenderHardwareAddr), EthSrc: bytes.Clone(ethSrc), Kind: kind}, true
}

// parseNA decodes an IPv6 packet holding a Neighbor Advertisement into a
// Sighting: its target is at its target link-layer address, or at the
// frame's source without that option. It checks what RFC 4861 §7.1.2
// requires of a receiver that cannot be forged from off-link (hop limit
// 255, code 0) and reports false for anything else. An advertisement with
// the Solicited flag answers a question; without it, it announces.
func parseNA(b []byte, ethSrc net.HardwareAddr) (Sighting, bool) {
	if len(b) < 40+24 || b[0]>>4 != 6 || b[6] != 58 || b[7] != ndp.HopLimit || b[40] != icmpv6NA || b[41] != 0 {
		return Sighting{}, false
	}
	end := 40 + int(binary.BigEndian.Uint16(b[4:6]))
	if end > len(b) {
		return Sighting{}, false
	}
	m, err := ndp.ParseMessage(b[40:end])
	if err != nil {
		return Sighting{}, false
	}
	na, ok := m.(*ndp.NeighborAdvertisement)
	if !ok {
		return Sighting{}, false
	}
	mac := ethSrc
	for _, o := range na.Options {
		if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target {
			mac = lla.Addr
		}
	}
	kind := ClaimAnnounce
	if na.Solicited {
		kind = ClaimReply
	}
	return Sighting{Addr: na.TargetAddress, MAC: bytes.Clone(mac), EthSrc: bytes.Clone(ethSrc), Kind: kind}, true
}

// arpProbe is an ARP probe for addr from mac (RFC 5227 §2.1.1): a request
// with sender address 0.0.0.0, so that it changes no host's cache, and an
// all-zero target MAC. A holder of addr answers it.
func arpProbe(mac net.HardwareAddr, addr netip.Addr) ([]byte, error) {
	p, err := arp.NewPacket(arp.OperationRequest, mac, netip.IPv4Unspecified(), make(net.HardwareAddr, 6), addr)
	if err != nil {
		return nil, fmt.Errorf("arp probe for %v: %w", addr, err)
	}
	return p.MarshalBinary()
}

// arpAnnounce is the pair of gratuitous ARP packets, request then reply,
// saying addr is at mac (see linkAnnouncer.garp).
func arpAnnounce(mac net.HardwareAddr, addr netip.Addr) ([][]byte, error) {
	var out [][]byte
	for _, p := range []struct {
		op  arp.Operation
		tha net.HardwareAddr
	}{
		{arp.OperationRequest, make(net.HardwareAddr, 6)},
		{arp.OperationReply, mac},
	} {
		pkt, err := arp.NewPacket(p.op, mac, addr, p.tha, addr)
		if err != nil {
			return nil, fmt.Errorf("gratuitous arp for %v: %w", addr, err)
		}
		b, _ := pkt.MarshalBinary() // never fails
		out = append(out, b)
	}
	return out, nil
}

// nsProbe is the IPv6 probe for addr: a Neighbor Solicitation from the
// unspecified address to addr's solicited-node group, without a source
// link-layer option, as duplicate address detection sends it (RFC 4862
// §5.4.2, RFC 4861 §4.3). A holder answers with an advertisement to all
// nodes (RFC 4861 §7.2.4). It returns the packet and the frame's
// destination MAC.
func nsProbe(addr netip.Addr) ([]byte, net.HardwareAddr, error) {
	group := solicitedNode(addr)
	icmp, err := ndp.MarshalMessageChecksum(&ndp.NeighborSolicitation{TargetAddress: addr}, netip.IPv6Unspecified(), group)
	if err != nil {
		return nil, nil, fmt.Errorf("neighbor solicitation for %v: %w", addr, err)
	}
	g := group.As16()
	return ipv6Packet(netip.IPv6Unspecified(), group, icmp), net.HardwareAddr{0x33, 0x33, g[12], g[13], g[14], g[15]}, nil
}

// naAnnounce is an unsolicited Neighbor Advertisement to all nodes saying
// addr is at mac, with Override (RFC 4861 §7.2.6), from addr itself (see
// linkAnnouncer.unsolicitedNA).
func naAnnounce(mac net.HardwareAddr, addr netip.Addr, router bool) ([]byte, error) {
	na := &ndp.NeighborAdvertisement{
		Router: router, Override: true, TargetAddress: addr,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: mac}},
	}
	dst := netip.IPv6LinkLocalAllNodes()
	icmp, err := ndp.MarshalMessageChecksum(na, addr, dst)
	if err != nil {
		return nil, fmt.Errorf("neighbor advertisement for %v: %w", addr, err)
	}
	return ipv6Packet(addr, dst, icmp), nil
}

// ipv6Packet wraps an ICMPv6 message in an IPv6 header with hop limit 255
// (RFC 4861 §7.1.2).
func ipv6Packet(src, dst netip.Addr, icmp []byte) []byte {
	pkt := make([]byte, 40, 40+len(icmp))
	pkt[0] = 6 << 4
	binary.BigEndian.PutUint16(pkt[4:], uint16(len(icmp)))
	pkt[6], pkt[7] = 58, ndp.HopLimit
	s, d := src.As16(), dst.As16()
	copy(pkt[8:], s[:])
	copy(pkt[24:], d[:])
	return append(pkt, icmp...)
}

// solicitedNode returns addr's solicited-node multicast address,
// ff02::1:ffXX:XXXX (RFC 4291 §2.7.1).
func solicitedNode(addr netip.Addr) netip.Addr {
	a := addr.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 10: 0, 11: 1, 12: 0xff, 13: a[13], 14: a[14], 15: a[15]})
}
