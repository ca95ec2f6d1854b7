//go:build integration && !ipvs

package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/handover/rstguard"
	"github.com/lvsd/lvsd/integration/netlab"
)

// TestRelayCarriesAMovedConnection runs the relay (rstguard.Relay) on this
// machine's kernel, the way a planned move uses it. A connection is opened
// through director "old", which takes the VIP in as local only by the
// relay's mark (it does not hold the address); then the client follows the
// VIP to director "new" (its neighbour entry changes, as a gratuitous ARP
// makes it), which holds the address and knows nothing of the connection.
// Without the relay, new's stack resets the connection at its next
// segment (the control); with new relaying the VIP:port to old, the
// segment reaches old's socket, whose answer goes to the client directly,
// and the connection lives on. No IPVS here: on this kernel the relay's
// input chain sees every segment, as it sees those IPVS leaves alone.
func TestRelayCarriesAMovedConnection(t *testing.T) {
	l := netlab.ForTest(t)
	ns := l.Segment("e0", map[string]string{"c": "192.0.2.100/24", "old": "192.0.2.1/24", "new": "192.0.2.2/24"})
	l.In(ns["new"], "ip", "addr", "add", "192.0.2.10/32", "dev", "e0")
	l.In(ns["new"], "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1") // only new answers for the VIP anyway
	oldMAC, newMAC := l.MAC(ns["old"], "e0"), l.MAC(ns["new"], "e0")
	follow := func(mac net.HardwareAddr) {
		l.In(ns["c"], "ip", "neigh", "replace", "192.0.2.10", "lladdr", mac.String(), "dev", "e0", "nud", "permanent")
	}
	vip := netip.MustParseAddrPort("192.0.2.10:7000")
	transparentEcho(t, l, ns["old"], "0.0.0.0:7000")

	oldRelay := openRelay(t, l, ns["old"], "lvsdrelay")
	newRelay := openRelay(t, l, ns["new"], "lvsdrelay")
	out := l.In(ns["new"], "nft", "list", "table", "ip", "lvsdrelay")
	for _, want := range []string{"hook input priority 101", "ip daddr . tcp dport map @in",
		"hook forward priority 101", "ip saddr . tcp sport map @replies", "meta mark set 0x00004c56"} {
		if !strings.Contains(strings.ReplaceAll(out, "\t", " "), want) {
			t.Errorf("nft list table ip lvsdrelay lacks %q:\n%s", want, out)
		}
	}
	l.Must(oldRelay.Relay(rstguard.Relays{Local: []netip.AddrPort{vip}}, 10*time.Second))

	open := func() (net.Conn, *bufio.Reader) {
		follow(oldMAC)
		c, err := l.Lab.Dial(ns["c"], vip.String(), 2*time.Second)
		if err != nil {
			t.Fatalf("dial through old, by the relay's local mark alone: %v\n%s\n%s\n%s", err, l.In(ns["old"], "ip", "rule"),
				l.In(ns["old"], "ip", "route", "show", "table", "all", "type", "local"), l.In(ns["old"], "nft", "list", "table", "ip", "lvsdrelay"))
		}
		t.Cleanup(func() { c.Close() })
		r := bufio.NewReader(c)
		if err := roundTrip(c, r, "through old"); err != nil {
			t.Fatalf("through old, by the relay's local mark alone: %v\n%s\n%s\n%s", err, l.In(ns["old"], "ip", "rule"),
				l.In(ns["old"], "ip", "route", "show", "table", "all", "type", "local"), l.In(ns["old"], "nft", "list", "table", "ip", "lvsdrelay"))
		}
		follow(newMAC)
		return c, r
	}

	// The control: new does not relay, its stack resets the connection.
	c, r := open()
	if err := roundTrip(c, r, "through new, no relay"); err == nil {
		t.Fatal("without the relay the moved connection still worked: the test shows nothing")
	} else {
		t.Logf("without the relay: %v", err)
	}

	l.Must(newRelay.Relay(rstguard.Relays{In: map[netip.AddrPort]netip.Addr{vip: netip.MustParseAddr("192.0.2.1")}}, 10*time.Second))
	c, r = open()
	for i := range 3 {
		if err := roundTrip(c, r, fmt.Sprintf("through new, relayed %d", i)); err != nil {
			t.Fatalf("relayed segment %d: %v", i, err)
		}
	}
	n, err := newRelay.Relayed()
	l.Must(err)
	if n < 3 {
		t.Errorf("Relayed() = %d after three relayed segments, want at least 3", n)
	}
	t.Logf("relayed %d segments", n)

	// A new connection to new is its own: SYNs are never relayed, so with
	// nothing listening on new it is refused there.
	if err := rstDial(l, ns["c"], vip.String(), time.Second); err == nil {
		t.Error("a SYN to new reached a listener: SYNs must stay with the director that has the VIP")
	}

	// Close takes the rule and the route away with the table.
	l.Must(oldRelay.Close())
	if rules := l.In(ns["old"], "ip", "rule"); strings.Contains(rules, "0x4c56") {
		t.Errorf("rule left after Close:\n%s", rules)
	}
}

func openRelay(t *testing.T, l *netlab.T, ns, table string) *rstguard.Relay {
	t.Helper()
	var r *rstguard.Relay
	l.Must(<-l.Go(ns, func() (err error) {
		r, err = rstguard.OpenRelay(table)
		return err
	}))
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// transparentEcho serves line echo on addr in ns from a socket with
// IP_TRANSPARENT: it stands in for old's IPVS, which forwards what the
// relay's mark makes local without answering it itself; a plain socket
// could not answer from the VIP, which is not one of old's addresses
// (ip_route_output refuses a source that is not local).
func transparentEcho(t *testing.T, l *netlab.T, ns, addr string) {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_IP, syscall.IP_TRANSPARENT, 1) })
		return errors.Join(err, serr)
	}}
	var ln net.Listener
	l.Must(<-l.Go(ns, func() (err error) { ln, err = lc.Listen(context.Background(), "tcp", addr); return err }))
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
}
