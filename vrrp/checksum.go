package vrrp

import (
	"encoding/binary"
	"net/netip"
)

// ProtocolNumber is the IP protocol number of VRRP (RFC 5798 §5.1.1.4),
// also the Next Header value in the IPv6 pseudo-header.
const ProtocolNumber = 112

// MulticastIPv4 is the IPv4 group VRRP advertisements are sent to
// (RFC 5798 §5.1.1.2); legacy keepalived puts it in the pseudo-header even
// for unicast (see ChecksumLegacyUnicast).
var MulticastIPv4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})

// ChecksumMode chooses how a version 3 checksum over IPv4 is computed.
// It does not matter for version 2, whose checksum covers only the VRRP
// message (RFC 3768 §5.3.8), nor for IPv6, which always includes the
// pseudo-header of RFC 2460 §8.1.
//
// RFC 5798 §5.2.8 says the checksum covers the VRRP message and "a
// pseudo-header as defined in Section 8.1 of [RFC2460]", a section that
// only defines an IPv6 pseudo-header. Vendors read that two ways for IPv4:
//
//   - keepalived (default), FRR (default), Wireshark and tcpdump prepend an
//     IPv4 pseudo-header (source, destination, zero, protocol 112, length);
//   - Cisco and Juniper leave it out, and so, by the account of keepalived's
//     documentation ("for compliance with RFC9568, this option should be
//     set") and of FRR issue 14024, does RFC 9568, which obsoletes RFC 5798.
//     keepalived does the same with "v3_checksum_as_v2".
//
// The zero value, ChecksumPseudoHeader, matches keepalived's default, which
// is the peer lvsd is most likely to meet.
type ChecksumMode uint8

const (
	// ChecksumPseudoHeader includes the IPv4 pseudo-header, as keepalived
	// does by default.
	ChecksumPseudoHeader ChecksumMode = iota
	// ChecksumNoPseudoHeader leaves the IPv4 pseudo-header out, as RFC 9568,
	// Cisco, Juniper and keepalived's "v3_checksum_as_v2" do.
	ChecksumNoPseudoHeader
	// ChecksumLegacyUnicast includes an IPv4 pseudo-header whose destination
	// is always 224.0.0.18, as keepalived 1.3.6 and earlier did even for
	// unicast peers. keepalived's "old_unicast_checksum" forces this; newer
	// keepalived built with OLD_CHKSUM_COMPAT (the default build) switches
	// to it by itself when it meets such a peer. lvsd never switches on its
	// own: the shell selects this mode from configuration.
	ChecksumLegacyUnicast
)

// String returns the name used in configuration and logs.
func (c ChecksumMode) String() string {
	switch c {
	case ChecksumPseudoHeader:
		return "pseudo-header"
	case ChecksumNoPseudoHeader:
		return "no-pseudo-header"
	case ChecksumLegacyUnicast:
		return "legacy-unicast"
	}
	return "unknown"
}

// checksum returns the Internet checksum (RFC 1071) of msg, with msg's own
// checksum field (bytes 6 and 7) counted as zero, preceded by the
// pseudo-header that version, family and mode call for.
func checksum(msg []byte, version int, src, dst netip.Addr, mode ChecksumMode) uint16 {
	var sum uint32
	if version == 3 {
		sum = pseudoHeaderSum(len(msg), src, dst, mode)
	}
	sum = onesSum(sum, msg[:6])
	sum = onesSum(sum, msg[8:])
	return ^fold(sum)
}

// pseudoHeaderSum returns the one's complement sum of the pseudo-header for
// a VRRPv3 message of length n, or 0 when mode leaves it out.
func pseudoHeaderSum(n int, src, dst netip.Addr, mode ChecksumMode) uint32 {
	var sum uint32
	if src.Is6() {
		// RFC 2460 §8.1: source, destination, 32-bit upper-layer length,
		// three zero bytes, next header.
		s, d := src.As16(), dst.As16()
		sum = onesSum(sum, s[:])
		sum = onesSum(sum, d[:])
		return sum + uint32(n>>16) + uint32(n&0xffff) + ProtocolNumber
	}
	switch mode {
	case ChecksumNoPseudoHeader:
		return 0
	case ChecksumLegacyUnicast:
		dst = MulticastIPv4
	}
	// RFC 768 style: source, destination, zero, protocol, 16-bit length.
	s, d := src.As4(), dst.As4()
	sum = onesSum(sum, s[:])
	sum = onesSum(sum, d[:])
	return sum + ProtocolNumber + uint32(n&0xffff)
}

// onesSum adds b, as big-endian 16-bit words padded with a zero byte, to
// sum. Carries are folded later by fold; a VRRP message is at most a few
// kilobytes, so the 32-bit accumulator cannot overflow.
func onesSum(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

// fold adds the carries of sum back into its low 16 bits.
func fold(sum uint32) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}
