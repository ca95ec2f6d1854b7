package vrrp

import (
	"crypto/subtle"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Expect describes the local virtual router that Validate checks a
// received advertisement against.
type Expect struct {
	// Version is the VRRP version we run, 2 or 3.
	Version int
	// VRID is our Virtual Router Identifier.
	VRID uint8
	// Checksum is how to check a version 3 IPv4 checksum; see ChecksumMode.
	Checksum ChecksumMode
	// Interval is our Advertisement_Interval. Version 2 drops adverts whose
	// interval differs (RFC 3768 §7.1); version 3 learns the master's
	// instead (RFC 5798 §6.4.2), so there it is not compared.
	Interval time.Duration
	// AuthType and Password are our version 2 authentication (RFC 3768
	// §7.1); a received advert must use the same type, and with
	// AuthPassword the same password (see Password for truncation).
	AuthType AuthType
	Password string
	// Addrs, when not nil, are our virtual addresses. RFC 5798 §7.1 lets a
	// receiver compare them with the advertised ones, in any order, and
	// says to drop a mismatch unless the sender is the owner (priority
	// 255); lvsd drops an owner's mismatch too (see check).
	Addrs []netip.Addr
	// Owner makes Validate drop every advertisement, as RFC 5798 §7.1 asks
	// of the address owner (priority 255). Leave it false to let the
	// Machine hear a rival owner or a split-brain master anyway.
	Owner bool
}

// Validate parses a received VRRP message pkt (the IP payload), which came
// from src to dst with the given IPv4 TTL or IPv6 Hop Limit, and runs the
// receive checks of RFC 5798 §7.1 (RFC 3768 §7.1 for version 2) against
// exp. It returns the advertisement, with From set, or an error wrapping
// one sentinel; Reason(err) names it for a drop counter.
//
// The checks run in the RFC's order: TTL 255, version, completeness and
// checksum (Parse), VRID, owner, then for version 2 authentication and
// interval, then the optional address list.
func Validate(pkt []byte, ttl uint8, src, dst netip.Addr, exp Expect) (Advert, error) {
	if ttl != 255 {
		return Advert{}, fmt.Errorf("validate advert from %v: ttl %d: %w", src, ttl, ErrTTL)
	}
	if len(pkt) > 0 && int(pkt[0]>>4) != exp.Version {
		return Advert{}, fmt.Errorf("validate advert from %v: version %d, want %d: %w",
			src, pkt[0]>>4, exp.Version, ErrVersion)
	}
	a, err := Parse(pkt, src, dst, exp.Checksum)
	if err != nil {
		return Advert{}, err
	}
	if err := exp.check(a); err != nil {
		return Advert{}, fmt.Errorf("validate advert from %v: %w", src, err)
	}
	return a, nil
}

// check runs the checks that need the decoded advertisement.
func (exp Expect) check(a Advert) error {
	if a.VRID != exp.VRID {
		return fmt.Errorf("vrid %d, want %d: %w", a.VRID, exp.VRID, ErrVRID)
	}
	if exp.Owner {
		return fmt.Errorf("vrid %d: %w", a.VRID, ErrOwner)
	}
	if a.Version == 2 {
		if err := exp.checkAuth(a); err != nil {
			return err
		}
		if a.Interval != exp.Interval {
			return fmt.Errorf("interval %v, want %v: %w", a.Interval, exp.Interval, ErrInterval)
		}
	}
	if a.Interval <= 0 {
		return fmt.Errorf("interval %v: %w", a.Interval, ErrInterval)
	}
	// RFC 5798 §7.1 lets a priority-255 advert through a mismatch, but
	// the owner owns the virtual router's addresses: one advertising
	// others does not own ours. Taking it stepped a master down to any
	// host that sent 255, and announced our VIPs at that host's MAC.
	if exp.Addrs != nil && !sameAddrs(a.Addrs, exp.Addrs) {
		return fmt.Errorf("addresses %v, want %v (priority %d): %w", a.Addrs, exp.Addrs, a.Priority, ErrAddrList)
	}
	return nil
}

// checkAuth applies version 2 authentication (RFC 3768 §7.1, §10). With
// AuthNone the Authentication Data is ignored, as RFC 3768 §5.3.10 says.
func (exp Expect) checkAuth(a Advert) error {
	if a.AuthType != exp.AuthType {
		return fmt.Errorf("auth type %d, want %d: %w", a.AuthType, exp.AuthType, ErrAuth)
	}
	if a.AuthType == AuthPassword {
		want := Password(exp.Password)
		if subtle.ConstantTimeCompare(a.AuthData[:], want[:]) != 1 {
			return fmt.Errorf("password mismatch: %w", ErrAuth)
		}
	}
	return nil
}

// sameAddrs reports whether got and want hold the same addresses, ignoring
// order and zones.
func sameAddrs(got, want []netip.Addr) bool {
	if len(got) != len(want) {
		return false
	}
	g := make([]netip.Addr, len(got))
	w := make([]netip.Addr, len(want))
	for i := range got {
		g[i], w[i] = got[i].WithZone("").Unmap(), want[i].WithZone("").Unmap()
	}
	slices.SortFunc(g, netip.Addr.Compare)
	slices.SortFunc(w, netip.Addr.Compare)
	return slices.Equal(g, w)
}
