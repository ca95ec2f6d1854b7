package vrrp

import "errors"

// Sentinel errors returned (wrapped with context) by the codec and by
// Validate. Test for them with errors.Is; Reason maps them to a DropReason.
var (
	// ErrShort means the packet is shorter than its header and address
	// count require (RFC 5798 §7.1: "contains the complete VRRP packet").
	ErrShort = errors.New("packet too short")
	// ErrVersion means the version field is not the one expected, or that
	// version 2 was seen over IPv6, which RFC 3768 does not define.
	ErrVersion = errors.New("bad vrrp version")
	// ErrType means the type field is not ADVERTISEMENT (1); RFC 5798
	// §5.2.2 says packets of unknown type MUST be discarded.
	ErrType = errors.New("unknown vrrp packet type")
	// ErrBadChecksum means the checksum does not match the packet
	// (RFC 5798 §5.2.8, RFC 3768 §5.3.8).
	ErrBadChecksum = errors.New("bad checksum")
	// ErrAddrCount means the address count disagrees with the packet length,
	// is zero in version 3 (RFC 5798 §5.2.5: the minimum is 1), or there
	// are more than 255 addresses to send.
	ErrAddrCount = errors.New("bad address count")
	// ErrFamily means the IP header's addresses and the advertised
	// addresses are not of one family (RFC 5798 §5.2.9), or an advertised
	// address is IPv4-mapped IPv6, which is never on the wire (RFC 4291
	// §2.5.5.2).
	ErrFamily = errors.New("address family mismatch")
	// ErrAuth means the version 2 authentication type or password does not
	// match (RFC 3768 §7.1), or is IP Authentication Header (type 2), which
	// lvsd does not support.
	ErrAuth = errors.New("authentication failed")
	// ErrInterval means the advertisement interval cannot be encoded, is
	// zero, or (version 2) differs from ours (RFC 3768 §7.1).
	ErrInterval = errors.New("bad advertisement interval")
	// ErrTTL means the IPv4 TTL or IPv6 Hop Limit is not 255, so the
	// packet may have come from off-link (RFC 5798 §7.1).
	ErrTTL = errors.New("ttl is not 255")
	// ErrVRID means the advertisement is for another virtual router.
	ErrVRID = errors.New("vrid mismatch")
	// ErrOwner means we own the virtual addresses (priority 255) and were
	// asked to drop every advertisement, as RFC 5798 §7.1 says an owner must.
	ErrOwner = errors.New("local router is the address owner")
	// ErrAddrList means the advertised addresses differ from ours and the
	// sender is not the owner, so RFC 5798 §7.1 says to drop the packet.
	ErrAddrList = errors.New("virtual address list mismatch")
	// ErrNotPeer means a unicast advertisement came from an address that
	// is not a configured peer (the shell checks this before Validate).
	ErrNotPeer = errors.New("source is not a unicast peer")
)

// DropReason names why a received packet was dropped, for use as a metric
// label. Its values are stable, short and lower case.
type DropReason string

// The drop reasons, one per sentinel error. ReasonOther covers errors this
// package did not produce.
const (
	ReasonNone     DropReason = ""
	ReasonShort    DropReason = "short"
	ReasonVersion  DropReason = "version"
	ReasonType     DropReason = "type"
	ReasonChecksum DropReason = "checksum"
	ReasonCount    DropReason = "addr_count"
	ReasonFamily   DropReason = "family"
	ReasonAuth     DropReason = "auth"
	ReasonInterval DropReason = "interval"
	ReasonTTL      DropReason = "ttl"
	ReasonVRID     DropReason = "vrid"
	ReasonOwner    DropReason = "owner"
	ReasonAddrList DropReason = "addr_list"
	ReasonNotPeer  DropReason = "not_peer"
	ReasonOther    DropReason = "other"
)

var reasons = []struct {
	err    error
	reason DropReason
}{
	{ErrShort, ReasonShort},
	{ErrVersion, ReasonVersion},
	{ErrType, ReasonType},
	{ErrBadChecksum, ReasonChecksum},
	{ErrAddrCount, ReasonCount},
	{ErrFamily, ReasonFamily},
	{ErrAuth, ReasonAuth},
	{ErrInterval, ReasonInterval},
	{ErrTTL, ReasonTTL},
	{ErrVRID, ReasonVRID},
	{ErrOwner, ReasonOwner},
	{ErrAddrList, ReasonAddrList},
	{ErrNotPeer, ReasonNotPeer},
}

// Reason returns the DropReason for an error from Parse or Validate:
// ReasonNone for nil and ReasonOther for an error it does not know.
func Reason(err error) DropReason {
	if err == nil {
		return ReasonNone
	}
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return ReasonOther
}
