// Package connsync hands a director's IPVS connection table to its peer
// at the moment the VIPs move, in the kernel's own sync protocol.
//
// Why: the kernel's sync master daemon (net/netfilter/ipvs/ip_vs_sync.c)
// batches connections into a buffer that it sends only when the buffer is
// full or two seconds old (IPVS_SYNC_FLUSH_TIME), and stopping the daemon
// discards the buffer. On a quiet or moderately busy director the last
// second or two of new connections therefore never reach the backup before
// a planned switchover moves the VIPs, and the new master's TCP stack
// resets them. lvsd closes the gap: when this node stops holding the VIPs
// it reads /proc/net/ip_vs_conn and sends every live connection to the
// peer's backup daemon as version 1 sync messages, the format the kernel
// itself sends, so the peer's kernel adds them exactly as if its own
// master had sent them.
package connsync

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
)

// Conn is one line of /proc/net/ip_vs_conn: a connection, or a
// persistence template (client port 0).
type Conn struct {
	Protocol uint8 // syscall.IPPROTO_TCP, _UDP, _SCTP; 0 ("IP") for fwmark templates
	Client   netip.AddrPort
	Virtual  netip.AddrPort
	Dest     netip.AddrPort
	State    string
	Expires  uint32 // seconds left
}

// Template reports whether the entry is a persistence template: the
// kernel makes those with client port 0, which no connection has.
func (c Conn) Template() bool { return c.Client.Port() == 0 }

var protoNames = map[string]uint8{"TCP": syscall.IPPROTO_TCP, "UDP": syscall.IPPROTO_UDP, "SCTP": syscall.IPPROTO_SCTP, "IP": 0}

// ParseProc reads the kernel's connection table as /proc/net/ip_vs_conn
// prints it (ip_vs_conn_seq_show): IPv4 addresses as 8 hex digits, IPv6
// ones as %pI6, ports as 4 hex digits, then state and seconds to expiry;
// optional persistence-engine columns follow and are ignored. Lines of
// protocols lvsd does not sync are skipped; a malformed line is an error
// naming its number.
func ParseProc(r io.Reader) ([]Conn, error) {
	var out []Conn
	err := ScanProc(r, func(c Conn) error {
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ScanProc is ParseProc calling fn for each connection in turn, keeping
// none: a director's memory then does not grow with its connection table
// (see scanTable). An error from fn ends the scan and is returned.
func ScanProc(r io.Reader, fn func(Conn) error) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if n == 1 && len(f) > 0 && f[0] == "Pro" {
			continue // header
		}
		if len(f) == 0 {
			continue
		}
		if len(f) < 9 {
			return fmt.Errorf("ip_vs_conn line %d: %d fields, want at least 9", n, len(f))
		}
		proto, ok := protoNames[f[0]]
		if !ok {
			continue
		}
		var c Conn
		var err error
		c.Protocol = proto
		if c.Client, err = addrPort(f[1], f[2]); err == nil {
			if c.Virtual, err = addrPort(f[3], f[4]); err == nil {
				c.Dest, err = addrPort(f[5], f[6])
			}
		}
		if err != nil {
			return fmt.Errorf("ip_vs_conn line %d: %w", n, err)
		}
		c.State = f[7]
		exp, err := strconv.ParseUint(f[8], 10, 32)
		if err != nil {
			return fmt.Errorf("ip_vs_conn line %d: expires %q: %w", n, f[8], err)
		}
		c.Expires = uint32(exp)
		if err := fn(c); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("ip_vs_conn: %w", err)
	}
	return nil
}

func addrPort(a, p string) (netip.AddrPort, error) {
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q: %w", p, err)
	}
	var addr netip.Addr
	if len(a) == 8 && !strings.Contains(a, ":") {
		b, err := hex.DecodeString(a)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("address %q: %w", a, err)
		}
		addr = netip.AddrFrom4([4]byte(b))
	} else if addr, err = netip.ParseAddr(a); err != nil || !addr.Is6() {
		return netip.AddrPort{}, fmt.Errorf("address %q: not IPv4 hex or IPv6", a)
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}
