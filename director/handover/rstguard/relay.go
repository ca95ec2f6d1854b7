package rstguard

import (
	"fmt"
	"net/netip"
	"time"
)

// Relays are what a director passes to the other director for a window
// after a VIP move instead of holding it: the packets of connections its
// IPVS does not know yet but the other director does, because they were
// opened through it (the "second chance" of GitHub's GLB director, done
// with nftables' dup). Holding such a packet (Holds) makes the client
// retransmit, 200 ms later at best, which a planned move must not cost;
// relaying it lets the director that has the connection carry it at once,
// until the connection table has arrived (package connsync) and the new
// master knows the connection itself.
//
// Found with captures on every hop of the VM end-to-end test (LVSD_CAPTURE=1):
// a connection whose handshake went through the old master sent its data
// to the new one 100 ms later, before the old master's table (read from
// /proc/net/ip_vs_conn, 300 ms under emulation) had arrived; and on a
// preempting return the realservers' SYN-ACKs still went to the old
// master's gateway MAC for the few milliseconds between the front and the
// gateway VIP moving. IPv4 only: IPv6 still holds (Holds) and retransmits.
type Relays struct {
	// In maps a VIP:port to the director to which non-SYN segments that
	// IPVS did not take are passed (the new master's side).
	In map[netip.AddrPort]netip.Addr
	// Replies maps a NAT realserver addr:port to the director to which its
	// replies that IPVS left untranslated are passed (both sides: the new
	// master for the old one's connections, the old master for the
	// replies that still reach it for the new one's).
	Replies map[netip.AddrPort]netip.Addr
	// Local are the VIP:ports this director keeps taking in as local after
	// releasing their VIPs (the old master's side), so that what the new
	// master passes to it reaches its IPVS; it answers no ARP for them,
	// as they are not its addresses.
	Local []netip.AddrPort
	// LocalFor is how long Local lasts, when not the window given to
	// Relay: a master keeps its VIP:ports local for good (it holds them
	// anyway), so that they still are the instant it releases them.
	LocalFor time.Duration
}

// Empty reports whether r relays nothing.
func (r Relays) Empty() bool { return len(r.In)+len(r.Replies)+len(r.Local) == 0 }

// relayKeys are the elements of one Relay: map keys with their data (the
// other director's address), and the local set's keys. IPv6 entries are
// left out (see Relays).
type relayKeys struct {
	in, replies [][2][]byte
	local       [][]byte
}

func (r Relays) keys() (k relayKeys, err error) {
	mapKeys := func(what string, m map[netip.AddrPort]netip.Addr) ([][2][]byte, error) {
		var out [][2][]byte
		for ep, to := range m {
			if !ep.Addr().IsValid() || !to.IsValid() {
				return nil, fmt.Errorf("%s: %v to %v: no address", what, ep, to)
			}
			key, is4 := setKey(netip.AddrPortFrom(ep.Addr().Unmap().WithZone(""), ep.Port()))
			if !is4 {
				continue
			}
			if !to.Unmap().Is4() {
				return nil, fmt.Errorf("%s: %v to %v: an IPv4 endpoint relayed to a non-IPv4 address", what, ep, to)
			}
			a := to.Unmap().As4()
			out = append(out, [2][]byte{key, a[:]})
		}
		return out, nil
	}
	if k.in, err = mapKeys("in", r.In); err != nil {
		return relayKeys{}, err
	}
	if k.replies, err = mapKeys("replies", r.Replies); err != nil {
		return relayKeys{}, err
	}
	local, _, err := splitKeys(r.Local)
	if err != nil {
		return relayKeys{}, fmt.Errorf("local: %w", err)
	}
	k.local = local
	return k, nil
}

// check is checkWindow for a Relay: d for In and Replies, local for Local.
func (k relayKeys) check(d, local time.Duration) error {
	if err := checkWindow(len(k.in)+len(k.replies), d); err != nil {
		return err
	}
	return checkWindow(len(k.local), local)
}

// localFor is how long Local lasts in a Relay for d.
func (r Relays) localFor(d time.Duration) time.Duration {
	if r.LocalFor > 0 {
		return r.LocalFor
	}
	return d
}
