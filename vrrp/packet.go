package vrrp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// TypeAdvertisement is the only VRRP packet type (RFC 5798 §5.2.2,
// RFC 3768 §5.3.2).
const TypeAdvertisement = 1

const (
	headerLen = 8 // version/type, VRID, priority, count, interval, checksum
	authLen   = 8 // version 2 only: Authentication Data (RFC 3768 §5.3.10)

	maxIntervalV3 = 0x0fff * 10 * time.Millisecond // 12 bits of centiseconds
	maxIntervalV2 = 0xff * time.Second             // 8 bits of seconds
)

// AuthType is the version 2 Auth Type field (RFC 3768 §5.3.6). Version 3
// has no authentication (RFC 5798 §9).
type AuthType uint8

// The version 2 authentication types. RFC 3768 reserves 1 and 2 (they were
// defined by RFC 2338); keepalived still sends a simple text password as
// type 1, so lvsd accepts it. Type 2, IP Authentication Header, puts an AH
// header before the VRRP message and is rejected with ErrAuth.
const (
	AuthNone     AuthType = 0
	AuthPassword AuthType = 1
	AuthAH       AuthType = 2
)

// Advert is a VRRP ADVERTISEMENT as it is on the wire, after the IP header
// (RFC 5798 §5.1, RFC 3768 §5.1). The address count is len(Addrs).
type Advert struct {
	// Version is 2 (RFC 3768, IPv4 only) or 3 (RFC 5798).
	Version int
	// Type must be TypeAdvertisement.
	Type uint8
	// VRID is the Virtual Router Identifier, 1 to 255 (RFC 5798 §5.2.3).
	VRID uint8
	// Priority is the sender's priority: 255 for the address owner, 0 for
	// a master that is giving up (RFC 5798 §5.2.4).
	Priority uint8
	// Interval is Max Adver Int for version 3, sent in centiseconds in 12
	// bits (RFC 5798 §5.2.7), or Adver Int for version 2, sent in seconds in
	// 8 bits (RFC 3768 §5.3.7). Marshalling fails with ErrInterval if it is
	// not a whole number of those units or does not fit.
	Interval time.Duration
	// AuthType is the version 2 authentication type; it must be AuthNone
	// for version 3.
	AuthType AuthType
	// AuthData is the version 2 Authentication Data: with AuthPassword the
	// password, zero padded (see Password). It is not sent in version 3.
	AuthData [8]byte
	// Checksum is the checksum field as received, or as written by
	// MarshalBinary. Marshal and Parse compute and check it.
	Checksum uint16
	// Addrs are the virtual router's IPv4 or IPv6 addresses; all must be of
	// one family, IPv4 for version 2. Zones are not sent.
	Addrs []netip.Addr
	// From is the IP source address of a received advertisement, the
	// sender's primary address (RFC 5798 §6.4.3 tie-break). It is not part
	// of the VRRP message: Parse sets it and marshalling ignores it.
	From netip.Addr
}

// Password returns the version 2 Authentication Data for a simple text
// password: its first eight bytes, zero padded (RFC 2338 §5.3.10), which is
// also how keepalived truncates longer passwords.
func Password(s string) [8]byte {
	var d [8]byte
	copy(d[:], s)
	return d
}

// MarshalBinary encodes a without computing its checksum: the Checksum
// field is written as it is. Use Marshal to send a packet; MarshalBinary is
// the inverse of UnmarshalBinary.
func (a Advert) MarshalBinary() ([]byte, error) {
	return a.appendBinary(nil)
}

// appendBinary appends the message to b, as MarshalBinary returns it.
// With room in b it allocates nothing, so that a Node can encode its
// adverts into one buffer (Node.send).
func (a Advert) appendBinary(b []byte) ([]byte, error) {
	if a.Version != 2 && a.Version != 3 {
		return nil, fmt.Errorf("marshal advert: version %d: %w", a.Version, ErrVersion)
	}
	if a.Type != TypeAdvertisement {
		return nil, fmt.Errorf("marshal advert: type %d: %w", a.Type, ErrType)
	}
	size, err := a.addrSize()
	if err != nil {
		return nil, fmt.Errorf("marshal advert: %w", err)
	}
	field, err := a.intervalField()
	if err != nil {
		return nil, fmt.Errorf("marshal advert: %w", err)
	}
	n := headerLen + size*len(a.Addrs)
	if a.Version == 2 {
		if a.AuthType > AuthPassword {
			return nil, fmt.Errorf("marshal advert: auth type %d: %w", a.AuthType, ErrAuth)
		}
		n += authLen
	} else if a.AuthType != AuthNone {
		return nil, fmt.Errorf("marshal advert: version 3 has no authentication: %w", ErrAuth)
	}
	b = slices.Grow(b, n)
	var h [headerLen]byte
	h[0] = byte(a.Version)<<4 | a.Type
	h[1], h[2], h[3] = a.VRID, a.Priority, byte(len(a.Addrs))
	binary.BigEndian.PutUint16(h[4:], field)
	binary.BigEndian.PutUint16(h[6:], a.Checksum)
	b = append(b, h[:]...)
	for _, ip := range a.Addrs {
		if size == 4 {
			ip4 := ip.As4()
			b = append(b, ip4[:]...)
		} else {
			ip16 := ip.As16()
			b = append(b, ip16[:]...)
		}
	}
	if a.Version == 2 {
		b = append(b, a.AuthData[:]...)
	}
	return b, nil
}

// addrSize checks that Addrs fit the count field and are of one family that
// the version allows, and returns the size of one address.
func (a Advert) addrSize() (int, error) {
	if len(a.Addrs) > 255 {
		return 0, fmt.Errorf("%d addresses, at most 255: %w", len(a.Addrs), ErrAddrCount)
	}
	if len(a.Addrs) == 0 {
		if a.Version == 3 {
			return 0, fmt.Errorf("no addresses, version 3 needs one: %w", ErrAddrCount)
		}
		return 4, nil
	}
	is4 := a.Addrs[0].Is4()
	for _, ip := range a.Addrs {
		if !ip.IsValid() || ip.Is4In6() || ip.Is4() != is4 {
			return 0, fmt.Errorf("address %v among %v: %w", ip, a.Addrs[0], ErrFamily)
		}
	}
	if !is4 && a.Version == 2 {
		return 0, fmt.Errorf("version 2 carries IPv4 only: %w", ErrFamily)
	}
	if is4 {
		return 4, nil
	}
	return 16, nil
}

// intervalField returns the 16 bits at offset 4: Max Adver Int for version
// 3, Auth Type and Adver Int for version 2.
func (a Advert) intervalField() (uint16, error) {
	unit, limit := 10*time.Millisecond, maxIntervalV3
	if a.Version == 2 {
		unit, limit = time.Second, maxIntervalV2
	}
	if a.Interval < 0 || a.Interval > limit || a.Interval%unit != 0 {
		return 0, fmt.Errorf("interval %v is not a multiple of %v up to %v: %w", a.Interval, unit, limit, ErrInterval)
	}
	v := uint16(a.Interval / unit)
	if a.Version == 2 {
		v |= uint16(a.AuthType) << 8
	}
	return v, nil
}

// UnmarshalBinary decodes a VRRP message without checking its checksum,
// which for version 3 needs the IP addresses: use Parse for received
// packets. The reserved bits of version 3 are ignored (RFC 5798 §5.2.6).
// It sets From to the zero Addr.
func (a *Advert) UnmarshalBinary(b []byte) error {
	if len(b) < headerLen {
		return fmt.Errorf("unmarshal advert: %d bytes, header needs %d: %w", len(b), headerLen, ErrShort)
	}
	x := Advert{
		Version:  int(b[0] >> 4),
		Type:     b[0] & 0x0f,
		VRID:     b[1],
		Priority: b[2],
		Checksum: binary.BigEndian.Uint16(b[6:]),
	}
	if x.Version != 2 && x.Version != 3 {
		return fmt.Errorf("unmarshal advert: version %d: %w", x.Version, ErrVersion)
	}
	if x.Type != TypeAdvertisement {
		return fmt.Errorf("unmarshal advert: type %d: %w", x.Type, ErrType)
	}
	var err error
	if x.Version == 2 {
		err = x.decodeV2(b)
	} else {
		err = x.decodeV3(b)
	}
	if err != nil {
		return fmt.Errorf("unmarshal advert: %w", err)
	}
	*a = x
	return nil
}

// decodeV2 decodes the rest of a version 2 message (RFC 3768 §5.1).
func (a *Advert) decodeV2(b []byte) error {
	a.AuthType = AuthType(b[4])
	a.Interval = time.Duration(b[5]) * time.Second
	if a.AuthType > AuthPassword {
		return fmt.Errorf("auth type %d: %w", a.AuthType, ErrAuth)
	}
	n := int(b[3])
	want := headerLen + 4*n + authLen
	if err := checkLen(len(b), want, n); err != nil {
		return err
	}
	a.Addrs = decodeAddrs(b[headerLen:want-authLen], n, 4)
	copy(a.AuthData[:], b[want-authLen:])
	return nil
}

// decodeV3 decodes the rest of a version 3 message (RFC 5798 §5.1). The
// family is not in the message: it follows from the count and the length.
func (a *Advert) decodeV3(b []byte) error {
	a.Interval = time.Duration(binary.BigEndian.Uint16(b[4:])&0x0fff) * 10 * time.Millisecond
	n := int(b[3])
	if n == 0 {
		return fmt.Errorf("count 0, version 3 needs one: %w", ErrAddrCount)
	}
	rest := len(b) - headerLen
	switch {
	case rest == 4*n:
		a.Addrs = decodeAddrs(b[headerLen:], n, 4)
	case rest == 16*n:
		a.Addrs = decodeAddrs(b[headerLen:], n, 16)
		for _, ip := range a.Addrs {
			if ip.Is4In6() {
				// RFC 4291 §2.5.5.2: never a real IPv6 address.
				return fmt.Errorf("IPv4-mapped address %v: %w", ip, ErrFamily)
			}
		}
	case rest < 4*n:
		return fmt.Errorf("count %d needs %d bytes, have %d: %w", n, headerLen+4*n, len(b), ErrShort)
	default:
		return fmt.Errorf("count %d with %d address bytes fits neither IPv4 nor IPv6: %w", n, rest, ErrAddrCount)
	}
	return nil
}

// checkLen compares a version 2 message's length with what its count n
// needs: a shorter one is truncated, a longer one miscounted.
func checkLen(have, want, n int) error {
	switch {
	case have < want:
		return fmt.Errorf("count %d needs %d bytes, have %d: %w", n, want, have, ErrShort)
	case have > want:
		return fmt.Errorf("count %d needs %d bytes, have %d: %w", n, want, have, ErrAddrCount)
	}
	return nil
}

// decodeAddrs decodes n addresses of size bytes each from b.
func decodeAddrs(b []byte, n, size int) []netip.Addr {
	if n == 0 {
		return nil
	}
	addrs := make([]netip.Addr, n)
	for i := range addrs {
		addrs[i], _ = netip.AddrFromSlice(b[i*size : (i+1)*size])
	}
	return addrs
}
