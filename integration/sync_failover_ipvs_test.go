//go:build integration && ipvs

package integration

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/netlab"
)

// TestIPVSSyncFailover: a long-lived TCP connection opened through
// director A keeps working through director B once A is gone and B holds
// the VIP, because lvsd runs the kernel's connection sync between them
// (DR mode: B must already know which realserver the connection is on,
// or it drops the connection's next packet).
func TestIPVSSyncFailover(t *testing.T) {
	netlab.NeedIPVS(t)
	bin := lvsdBinary(t)
	l := netlab.ForTest(t)
	ns := l.Segment("e0", map[string]string{"client": "192.0.2.100/24", "a": "192.0.2.1/24", "b": "192.0.2.2/24", "rs1": "192.0.2.11/24", "rs2": "192.0.2.12/24"})
	for _, rs := range []string{"rs1", "rs2"} {
		l.In(ns[rs], "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2")
		l.In(ns[rs], "ip", "addr", "add", "192.0.2.10/32", "dev", "lo")
		l.Echo(ns[rs], ":7000")
	}
	service := "name: echo\nvirtual: 192.0.2.10:7000\nscheduler: rr\nforward: dr\ncheck: {type: none}\n" +
		"reals:\n  - address: 192.0.2.11:7000\n  - address: 192.0.2.12:7000\n"
	for _, d := range []string{"a", "b"} {
		l.Write(d+"/lvsd.yaml", "node: "+d+"\ncontrol: {socket: ctl.sock}\nhttp: {listen: \"\"}\nsync: {interface: e0, sync_id: 7}\n")
		l.Write(d+"/services.d/echo.yaml", service)
		l.Start(ns[d], "lvsd-"+d, bin, "run", "-c", l.Dir+"/"+d+"/lvsd.yaml")
		waitUp(t, l.Dir+"/"+d+"/ctl.sock")
	}
	l.In(ns["a"], "ip", "addr", "add", "192.0.2.10/32", "dev", "e0")

	conn, r := dialEcho(l, ns["client"], "192.0.2.10:7000")
	defer conn.Close()
	if err := roundTrip(conn, r, "through A"); err != nil {
		t.Fatal(err)
	}
	// Wait until B's kernel has the connection from A's sync messages.
	var synced string
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && !strings.Contains(synced, "ESTABLISHED"); time.Sleep(100 * time.Millisecond) {
		synced, _ = l.Try(ns["b"], "ipvsadm", "-Lnc")
		if !strings.Contains(synced, "192.0.2.100") {
			synced = ""
		}
	}
	if synced == "" {
		t.Fatalf("B never learned the connection; B's table:\n%s\nA's:\n%s", l.In(ns["b"], "ipvsadm", "-Lnc"), l.In(ns["a"], "ipvsadm", "-Lnc"))
	}
	t.Logf("B's synced connection table:\n%s", synced)

	// A goes away with its IPVS state; B takes the VIP, and the client
	// learns B's MAC (what a VRRP takeover's gratuitous ARP does).
	l.In(ns["a"], "ip", "link", "set", "e0", "down")
	l.In(ns["a"], "ipvsadm", "-C")
	l.In(ns["b"], "ip", "addr", "add", "192.0.2.10/32", "dev", "e0")
	l.In(ns["client"], "ip", "neigh", "flush", "dev", "e0")
	for i := 0; i < 3; i++ {
		if err := roundTrip(conn, r, fmt.Sprintf("through B %d", i)); err != nil {
			t.Fatalf("the established connection broke at the failover: %v", err)
		}
	}
}

// dialEcho opens a TCP connection from ns (the socket lives there; it can
// be used from any goroutine afterwards).
func dialEcho(l *netlab.T, ns, addr string) (net.Conn, *bufio.Reader) {
	l.TB.Helper()
	c := l.Dial(ns, addr, 3*time.Second)
	return c, bufio.NewReader(c)
}
