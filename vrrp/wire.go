package vrrp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Marshal encodes a with its checksum computed for an IP packet from src to
// dst, ready to send as the payload of IP protocol 112. The Checksum field
// of a is ignored.
//
// Version 3 needs src and dst because its checksum covers a pseudo-header
// (RFC 5798 §5.2.8; see ChecksumMode for the IPv4 interop question).
// Version 2 covers only the VRRP message (RFC 3768 §5.3.8), but src must
// still be IPv4.
func (a Advert) Marshal(src, dst netip.Addr, mode ChecksumMode) ([]byte, error) {
	return a.AppendMarshal(nil, src, dst, mode)
}

// AppendMarshal appends the message that Marshal returns to b and returns
// the extended buffer. With room in b it allocates nothing: a Node encodes
// every advert into one buffer it keeps.
func (a Advert) AppendMarshal(b []byte, src, dst netip.Addr, mode ChecksumMode) ([]byte, error) {
	src, dst = src.Unmap(), dst.Unmap()
	if err := a.checkFamily(src, dst); err != nil {
		return nil, fmt.Errorf("marshal advert: %w", err)
	}
	a.Checksum = 0
	start := len(b)
	b, err := a.appendBinary(b)
	if err != nil {
		return nil, err
	}
	msg := b[start:]
	binary.BigEndian.PutUint16(msg[6:], checksum(msg, a.Version, src, dst, mode))
	return b, nil
}

// Parse decodes a received VRRP message b (the IP payload) sent from src to
// dst and checks its checksum, then sets From to src. Its errors wrap the
// package's sentinels: ErrShort, ErrVersion, ErrType, ErrAddrCount,
// ErrFamily, ErrAuth or ErrBadChecksum.
//
// Parse checks the packet only; Validate also checks it against the local
// virtual router, as RFC 5798 §7.1 requires.
func Parse(b []byte, src, dst netip.Addr, mode ChecksumMode) (Advert, error) {
	var a Advert
	if err := a.UnmarshalBinary(b); err != nil {
		return Advert{}, err
	}
	src, dst = src.Unmap(), dst.Unmap()
	if err := a.checkFamily(src, dst); err != nil {
		return Advert{}, fmt.Errorf("parse advert from %v: %w", src, err)
	}
	if sum := checksum(b, a.Version, src, dst, mode); sum != a.Checksum {
		return Advert{}, fmt.Errorf("parse advert from %v: checksum %#04x, want %#04x (%v): %w",
			src, a.Checksum, sum, mode, ErrBadChecksum)
	}
	a.From = src
	return a, nil
}

// checkFamily checks that the IP addresses suit the advertisement: IPv4 for
// version 2 (RFC 3768 defines VRRP for IPv4 only), and for version 3 the
// family of the advertised addresses (RFC 5798 §5.2.9).
func (a Advert) checkFamily(src, dst netip.Addr) error {
	if a.Version == 2 {
		if !src.Is4() {
			return fmt.Errorf("version 2 from %v, not IPv4: %w", src, ErrVersion)
		}
		return nil
	}
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return fmt.Errorf("ip source %v, destination %v: %w", src, dst, ErrFamily)
	}
	if len(a.Addrs) > 0 && a.Addrs[0].Is4() != src.Is4() {
		return fmt.Errorf("addresses like %v sent over %v: %w", a.Addrs[0], src, ErrFamily)
	}
	return nil
}
