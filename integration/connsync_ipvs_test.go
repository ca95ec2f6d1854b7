//go:build integration && ipvs

package integration

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/handover/connsync"
	"github.com/lvsd/lvsd/integration/netlab"
)

// TestIPVSConnFlush: director A, whose kernel runs no sync master daemon,
// sends its connection table with lvsd's own sync messages; the backup
// daemon of B's kernel accepts them (a connection and a persistence
// template), and the connection keeps working through B once B holds the
// VIP. This is what makes a planned switchover lose nothing that the
// kernel's own batching (up to 2 s) has not sent yet.
func TestIPVSConnFlush(t *testing.T) {
	netlab.NeedIPVS(t)
	l := netlab.ForTest(t)
	ns := l.Segment("e0", map[string]string{"client": "192.0.2.100/24", "a": "192.0.2.1/24", "b": "192.0.2.2/24", "rs1": "192.0.2.11/24"})
	l.In(ns["rs1"], "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2")
	l.In(ns["rs1"], "ip", "addr", "add", "192.0.2.10/32", "dev", "lo")
	l.Echo(ns["rs1"], ":7000")
	l.Echo(ns["rs1"], ":7001")
	for _, d := range []string{"a", "b"} {
		l.In(ns[d], "ipvsadm", "-A", "-t", "192.0.2.10:7000", "-s", "rr")
		l.In(ns[d], "ipvsadm", "-a", "-t", "192.0.2.10:7000", "-r", "192.0.2.11:7000", "-g")
		l.In(ns[d], "ipvsadm", "-A", "-t", "192.0.2.10:7001", "-s", "rr", "-p", "300")
		l.In(ns[d], "ipvsadm", "-a", "-t", "192.0.2.10:7001", "-r", "192.0.2.11:7001", "-g")
	}
	l.In(ns["b"], "ipvsadm", "--start-daemon", "backup", "--mcast-interface", "e0", "--syncid", "7")
	l.In(ns["a"], "ip", "addr", "add", "192.0.2.10/32", "dev", "e0")

	conn, r := dialEcho(l, ns["client"], "192.0.2.10:7000")
	defer conn.Close()
	pconn, pr := dialEcho(l, ns["client"], "192.0.2.10:7001")
	defer pconn.Close()
	for _, c := range []struct {
		what string
		f    func() error
	}{{"through A", func() error { return roundTrip(conn, r, "through A") }}, {"persistent through A", func() error { return roundTrip(pconn, pr, "p through A") }}} {
		if err := c.f(); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	if b := l.In(ns["b"], "ipvsadm", "-Lnc"); strings.Contains(b, "192.0.2.100") {
		t.Fatalf("B knows the connection before the flush (no master daemon runs on A):\n%s", b)
	}

	services := []config.Service{
		{Protocol: "tcp", Virtual: netip.MustParseAddrPort("192.0.2.10:7000"), Forward: config.DR,
			Reals: []config.Real{{Addr: netip.MustParseAddrPort("192.0.2.11:7000"), Forward: config.DR}}},
		{Protocol: "tcp", Virtual: netip.MustParseAddrPort("192.0.2.10:7001"), Forward: config.DR,
			Persistence: &config.Persistence{Timeout: 300 * time.Second, Netmask: 32},
			Reals:       []config.Real{{Addr: netip.MustParseAddrPort("192.0.2.11:7001"), Forward: config.DR}}},
	}
	var sent int
	start := time.Now()
	if err := <-l.Go(ns["a"], func() (err error) {
		sent, err = connsync.Flush("e0", 7, connsync.NewResolver(services))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("flushed %d entries in %v; A's table:\n%s", sent, time.Since(start), l.In(ns["a"], "ipvsadm", "-Lnc"))
	if sent != 3 { // two connections and the persistence template
		t.Errorf("sent %d entries, want 3", sent)
	}
	var got string
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		got = l.In(ns["b"], "cat", "/proc/net/ip_vs_conn")
		if strings.Count(got, "C0000264") >= 3 {
			break
		}
	}
	b := l.In(ns["b"], "ipvsadm", "-Lnc")
	t.Logf("B's table after the flush:\n%s", b)
	for _, want := range []string{"ESTABLISHED 192.0.2.100:", "ASSURED 192.0.2.100:0"} {
		if !strings.Contains(strings.Join(strings.Fields(b), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("B's table lacks %q", want)
		}
	}
	// B takes the VIP; the connections go on through B's IPVS.
	l.In(ns["a"], "ip", "addr", "del", "192.0.2.10/32", "dev", "e0")
	l.In(ns["a"], "ipvsadm", "-C")
	l.In(ns["b"], "ip", "addr", "add", "192.0.2.10/32", "dev", "e0")
	l.In(ns["client"], "ip", "neigh", "flush", "dev", "e0")
	for i := range 3 {
		if err := roundTrip(conn, r, fmt.Sprintf("through B %d", i)); err != nil {
			t.Fatalf("the connection broke at the move to B: %v", err)
		}
		if err := roundTrip(pconn, pr, fmt.Sprintf("p through B %d", i)); err != nil {
			t.Fatalf("the persistent connection broke at the move to B: %v", err)
		}
	}
}
