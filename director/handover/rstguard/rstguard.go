// Package rstguard holds back the TCP resets that a director's own stack
// sends for VIP connections it has not learned yet, and the NAT replies
// that it would forward untranslated for them, for a short window after
// it takes the VIPs over.
//
// When a VIP moves from director A to director B (VRRP switchover or
// preemption), a connection whose SYN went through A's IPVS can send its
// next segment to B before IPVS connection sync has told B about it. B
// holds the VIP as a local address, so IPVS hands the unknown non-SYN
// segment to B's own TCP stack, which has no such connection and answers
// with a reset (RFC 793 section 3.4, "Reset Generation", restated in RFC
// 9293 section 3.5.2). The reset kills a connection that would have
// survived: had B stayed silent, the client would have retransmitted
// after its RTO (200 ms at least on Linux, TCP_RTO_MIN), and by then the
// old master has flushed its table to B. A Guard drops those
// resets, and only those whose source is a held VIP:port, until a timeout
// that the kernel enforces, so the hold ends even if lvsd dies.
//
// In IPVS NAT mode the realservers' replies come back through the
// director that holds the gateway VIP, and the same race has a second
// victim. IPVS translates a reply (source realserver, rewritten to the
// VIP) only if it knows the connection; a reply, SYN-ACK or data, of a
// connection B has not learned yet goes out untranslated, with the
// realserver's own address and port as source. The client has no
// connection from that endpoint and answers with a reset, which kills
// the connection on the realserver. So a Guard also drops, for the same
// window, the TCP segments that B forwards from held realserver
// endpoints, but only those IPVS left untranslated (see the forward chain
// in newGuard). The realserver retransmits, a SYN-ACK after 1 s (RFC 6298
// section 2, TCP_TIMEOUT_INIT), data after its RTO, and by then IPVS
// knows the connection and translates the retransmission.
//
// The price: during the window a SYN to a held VIP:port that has no
// virtual service, or a segment no director knows, goes unanswered and
// times out instead of being refused; and what a held realserver
// endpoint sends through B outside IPVS (to clients that reach it
// directly, say) is dropped too. Keep the window short (a few seconds)
// and hold only the VIP:ports of virtual services and the endpoints of
// their NAT realservers.
package rstguard

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// Names inside the guard's table. The table name is the caller's. All
// four sets are typed addr . inet_service with flags timeout.
const (
	held4Name    = "held4"    // VIP:ports whose resets are dropped, IPv4
	held6Name    = "held6"    // the same, IPv6
	replies4Name = "replies4" // realserver endpoints whose untranslated replies are dropped, IPv4
	replies6Name = "replies6" // the same, IPv6
	outputName   = "output"   // filter hook output priority filter, policy accept
	forwardName  = "forward"  // filter hook forward priority 101, policy accept
)

// Holds are what a Guard holds during a window. Endpoints are TCP; IPv4,
// IPv6 or IPv4-mapped.
type Holds struct {
	Resets  []netip.AddrPort // VIP:port whose own TCP resets are dropped (output)
	Replies []netip.AddrPort // NAT realserver addr:port whose untranslated forwarded replies are dropped
}

// Key lengths of the IPv4 and the IPv6 sets. nftables lays each
// component of a concatenation in its own 32-bit registers, so the 2-byte
// port takes 4 bytes: the kernel compares the whole registers, and a
// payload load of 2 bytes zeroes the rest of its register.
const (
	key4Len = 4 + 4
	key6Len = 16 + 4
)

// minWindow is the shortest hold. The kernel counts element timeouts in
// milliseconds, and an element with a timeout of 0 never expires: the one
// outcome a guard must not have, since it would hold for good.
const minWindow = time.Millisecond

// maxElemsPerMsg bounds the elements in one netlink message. The element
// list is one netlink attribute, whose length is 16 bits: about 1,500
// IPv6 elements would overflow it, so Hold sends bigger sets in chunks
// (still one batch, still atomic).
const maxElemsPerMsg = 1024

// setKey returns ep's key in the set of its family: the address bytes,
// then the port in network byte order padded with two zero bytes. An
// IPv4-mapped IPv6 address (::ffff:192.0.2.10) is IPv4: the packet
// travels as IPv4 (the IPv4 stack sends the reset, or forwards the
// reply), so only the IPv4 set can match it.
func setKey(ep netip.AddrPort) (key []byte, is4 bool) {
	a := ep.Addr().Unmap()
	key = binary.BigEndian.AppendUint16(a.AsSlice(), ep.Port())
	return append(key, 0, 0), a.Is4()
}

// splitKeys turns eps into the keys of the IPv4 and IPv6 sets, in the
// order given, without duplicates (an IPv4-mapped address and its IPv4
// form are the same endpoint).
func splitKeys(eps []netip.AddrPort) (v4, v6 [][]byte, err error) {
	seen := make(map[netip.AddrPort]bool, len(eps))
	for i, ep := range eps {
		if !ep.Addr().IsValid() {
			return nil, nil, fmt.Errorf("endpoint %d: no address", i)
		}
		norm := netip.AddrPortFrom(ep.Addr().Unmap().WithZone(""), ep.Port())
		if seen[norm] {
			continue
		}
		seen[norm] = true
		if k, is4 := setKey(norm); is4 {
			v4 = append(v4, k)
		} else {
			v6 = append(v6, k)
		}
	}
	return v4, v6, nil
}

// holdKeys are the keys of one Hold, set by set.
type holdKeys struct {
	held4, held6, replies4, replies6 [][]byte
}

// keys splits h into the keys of each set (see splitKeys).
func (h Holds) keys() (k holdKeys, err error) {
	if k.held4, k.held6, err = splitKeys(h.Resets); err != nil {
		return holdKeys{}, fmt.Errorf("resets: %w", err)
	}
	if k.replies4, k.replies6, err = splitKeys(h.Replies); err != nil {
		return holdKeys{}, fmt.Errorf("replies: %w", err)
	}
	return k, nil
}

// checkWindow refuses a window the kernel would not end (see minWindow).
// An empty hold needs no window: it releases everything.
func checkWindow(n int, d time.Duration) error {
	if n > 0 && d < minWindow {
		return fmt.Errorf("window %v: shorter than %v, the kernel would never expire it", d, minWindow)
	}
	return nil
}
