//go:build integration && ipvs

package integration

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/handover/connsync"
	"github.com/lvsd/lvsd/integration/netlab"
)

// TestIPVSBackupSweepsClosedEntries is the regression test of the reset
// seen in the NAT end-to-end test: a restarted director took the VIP back
// with a TIME_WAIT entry (120 s in IPVS) for a tuple the client had
// reused after its own 60 s TIME_WAIT, pointing at rs1, while the new
// connection lived on rs2 through the peer; its IPVS sent the data to rs1,
// which reset it. lvsd's sweep ages such entries out through the host's
// own backup sync daemon (connsync.Expire). Here, on director A's real
// IPVS (NAT): closed connections reach TIME_WAIT with about 120 s left;
// an expiry naming another destination (the master replaced the entry
// meanwhile) and a sweep by a node that is no longer a backup change
// nothing; the sweep removes every TIME_WAIT entry within seconds and
// leaves the ESTABLISHED one (still working) alone; and nothing of it
// leaves the host: a listener on the segment (spy) and director B's
// backup daemon, which has the same service and sync id, see nothing,
// while an ordinary TTL 1 sync message sent afterwards reaches both.
func TestIPVSBackupSweepsClosedEntries(t *testing.T) {
	netlab.NeedIPVS(t)
	l := netlab.ForTest(t)
	ns := l.Segment("e0", map[string]string{"client": "192.0.2.100/24", "a": "192.0.2.1/24", "b": "192.0.2.2/24", "spy": "192.0.2.3/24"})
	rs := l.NS("rs1")
	l.Link(ns["a"], "r0", "198.51.100.1/24", rs, "e0", "198.51.100.11/24")
	l.In(rs, "ip", "route", "add", "default", "via", "198.51.100.1")
	l.Echo(rs, ":7000")
	l.In(ns["a"], "sysctl", "-qw", "net.ipv4.ip_forward=1")
	for _, d := range []string{"a", "b"} {
		l.In(ns[d], "ipvsadm", "-A", "-t", "192.0.2.10:7000", "-s", "rr")
		l.In(ns[d], "ipvsadm", "-a", "-t", "192.0.2.10:7000", "-r", "198.51.100.11:7000", "-m")
		l.In(ns[d], "ipvsadm", "--start-daemon", "backup", "--mcast-interface", "e0", "--syncid", "7")
	}
	l.In(ns["a"], "ip", "addr", "add", "192.0.2.10/32", "dev", "e0")
	services := []config.Service{{Protocol: "tcp", Virtual: netip.MustParseAddrPort("192.0.2.10:7000"), Forward: config.NAT,
		Reals: []config.Real{{Addr: netip.MustParseAddrPort("198.51.100.11:7000"), Forward: config.NAT}}}}
	heard := spyOnSync(t, l, ns["spy"])

	live, lr := dialEcho(l, ns["client"], "192.0.2.10:7000")
	defer live.Close()
	if err := roundTrip(live, lr, "live"); err != nil {
		t.Fatal(err)
	}
	const closed = 20
	for i := range closed {
		c, r := dialEcho(l, ns["client"], "192.0.2.10:7000")
		if err := roundTrip(c, r, fmt.Sprint("short ", i)); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	client := netip.MustParseAddr("192.0.2.100")
	table := func(ns string) []connsync.Conn { return clientConns(t, l, ns, client) }
	count := func(cs []connsync.Conn, state string) int {
		n := 0
		for _, c := range cs {
			if c.State == state {
				n++
			}
		}
		return n
	}
	show := func(ns string) func() string {
		return func() string { return l.In(ns, "ipvsadm", "-Lnc") }
	}
	l.WaitFor(10*time.Second, "A's closed connections in TIME_WAIT", func() bool { return count(table(ns["a"]), "TIME_WAIT") == closed }, show(ns["a"]))
	before := table(ns["a"])
	var victim connsync.Conn
	for _, c := range before {
		if c.State == "TIME_WAIT" {
			if c.Expires < 100 {
				t.Fatalf("a TIME_WAIT entry with %d s left, want about 120 (the kernel's own timeout)", c.Expires)
			}
			victim = c
		}
	}
	t.Logf("A's table before the sweep: %d TIME_WAIT, %d ESTABLISHED (TIME_WAIT expires in %d s)",
		count(before, "TIME_WAIT"), count(before, "ESTABLISHED"), victim.Expires)
	if count(before, "ESTABLISHED") != 1 {
		t.Fatalf("want the one live connection ESTABLISHED:\n%s", show(ns["a"])())
	}

	// The master replaced the entry with one to another destination: the
	// expiry (FlagInactive) is taken for the old connection's and dropped.
	// And a node that took the VIPs before sending sends nothing.
	stale := connsync.Record{Protocol: syscall.IPPROTO_TCP, Flags: connsync.FlagInactive, State: 5, Timeout: connsync.ExpireTimeout,
		Client: victim.Client, Virtual: victim.Virtual, Dest: netip.MustParseAddrPort("198.51.100.12:7000")}
	msgs, err := connsync.Encode(7, []connsync.Record{stale}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-l.Go(ns["a"], func() error { return connsync.SendLocal("e0", msgs) }); err != nil {
		t.Fatal(err)
	}
	var tookOver error
	<-l.Go(ns["a"], func() error {
		_, tookOver = connsync.Expire("e0", 7, connsync.NewResolver(services), func() bool { return false })
		return nil
	})
	if !errors.Is(tookOver, connsync.ErrNotBackup) {
		t.Fatalf("sweep by a node that took the VIPs: %v, want ErrNotBackup", tookOver)
	}
	time.Sleep(2500 * time.Millisecond) // an applied 1 s timeout would have run out
	if n := count(table(ns["a"]), "TIME_WAIT"); n != closed {
		t.Fatalf("%d TIME_WAIT entries after an expiry for another destination and a master's sweep, want %d:\n%s",
			n, closed, show(ns["a"])())
	}

	var sent int
	start := time.Now()
	if err := <-l.Go(ns["a"], func() (err error) {
		sent, err = connsync.Expire("e0", 7, connsync.NewResolver(services), func() bool { return true })
		return err
	}); err != nil {
		t.Fatal(err)
	}
	sendTook := time.Since(start)
	if sent != closed {
		t.Errorf("the sweep sent %d expiries, want %d", sent, closed)
	}
	took := l.WaitFor(10*time.Second, "A's TIME_WAIT entries gone after the sweep",
		func() bool { return count(table(ns["a"]), "TIME_WAIT") == 0 }, show(ns["a"]))
	after := table(ns["a"])
	t.Logf("the sweep sent %d expiries in %v; A's TIME_WAIT entries went %v after (the kernel alone: %d s); left: %d ESTABLISHED",
		sent, sendTook.Round(time.Millisecond), took.Round(10*time.Millisecond), victim.Expires, count(after, "ESTABLISHED"))
	if took > 5*time.Second {
		t.Errorf("TIME_WAIT entries gone only %v after the sweep, want within 5 s", took)
	}
	if len(after) != 1 || after[0].State != "ESTABLISHED" || after[0].Expires < 800 {
		t.Fatalf("after the sweep A's table is %+v, want the live connection ESTABLISHED (about 900 s left)", after)
	}
	if err := roundTrip(live, lr, "live after the sweep"); err != nil {
		t.Fatalf("the live connection broke at the sweep: %v", err)
	}

	// Nothing left the host: the spy heard nothing and B's daemon (same
	// service, same sync id) added nothing.
	if n := heard.Load(); n != 0 {
		t.Fatalf("the spy on the segment heard %d sync datagrams, want none (TTL 0)", n)
	}
	if b := table(ns["b"]); len(b) != 0 {
		t.Fatalf("B's table holds %+v: the sweep reached the peer", b)
	}
	// The control: an ordinary sync message (TTL 1) reaches both.
	planted := connsync.Record{Protocol: syscall.IPPROTO_TCP, Flags: connsync.FlagInactive, State: 5, Timeout: 60,
		Client: netip.MustParseAddrPort("192.0.2.100:1"), Virtual: victim.Virtual, Dest: victim.Dest}
	if msgs, err = connsync.Encode(7, []connsync.Record{planted}, 0); err != nil {
		t.Fatal(err)
	}
	if err := <-l.Go(ns["a"], func() error { return connsync.Send("e0", msgs) }); err != nil {
		t.Fatal(err)
	}
	l.WaitFor(5*time.Second, "the control message at the spy and in B's table",
		func() bool { return heard.Load() == 1 && len(table(ns["b"])) == 1 }, show(ns["b"]))
}

// spyOnSync listens in ns for sync datagrams (the group and port of
// connsync) on its e0 and counts them.
func spyOnSync(t *testing.T, l *netlab.T, ns string) *atomic.Int64 {
	t.Helper()
	var pc *net.UDPConn
	if err := <-l.Go(ns, func() error {
		ifi, err := net.InterfaceByName("e0")
		if err != nil {
			return err
		}
		g := connsync.Group
		pc, err = net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: net.IPv4(g[0], g[1], g[2], g[3]), Port: connsync.Port})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	var n atomic.Int64
	go func() {
		b := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(b); err != nil {
				return
			}
			n.Add(1)
		}
	}()
	return &n
}

// clientConns reads the IPVS connection table of ns: the entries of
// client.
func clientConns(t *testing.T, l *netlab.T, ns string, client netip.Addr) []connsync.Conn {
	t.Helper()
	var conns []connsync.Conn
	if err := <-l.Go(ns, func() error {
		f, err := os.Open(connsync.ProcPath)
		if err != nil {
			return err
		}
		defer f.Close()
		all, err := connsync.ParseProc(f)
		for _, c := range all {
			if c.Client.Addr() == client {
				conns = append(conns, c)
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return conns
}

// sweepDirector is the main file of one lvsd of TestIPVSRestartedDirector
// SweepsBeforePreempting: priority %[2]d, sync on the segment, no health
// hold (only the sweep's holds preemption).
const sweepDirector = `node: %[1]s
control: {socket: ctl.sock}
http: {listen: ""}
sync: {interface: e0, sync_id: 9}
vrrp:
  instances:
    - {name: front, interface: e0, vrid: 10, priority: %[2]d, virtual_ips: [192.0.2.10/24], preempt_needs_realservers: false}
`

const sweepService = "name: echo\nvirtual: 192.0.2.10:7000\nforward: nat\ncheck: {type: none}\nreals: [{address: 198.51.100.11:7000}]\n"

// TestIPVSRestartedDirectorSweepsBeforePreempting is the bug's scenario
// through lvsd itself: director B, stopped, keeps in its kernel the
// TIME_WAIT entries of its services (planted here by sync messages, 120 s)
// and an ESTABLISHED one; restarted with a priority above the master A's,
// it holds its preemption ("sweeping stale connections") until its first
// sweep has expired them, and only then takes the VIPs, with the
// ESTABLISHED entry still in place.
func TestIPVSRestartedDirectorSweepsBeforePreempting(t *testing.T) {
	netlab.NeedIPVS(t)
	bin := lvsdBinary(t)
	l := netlab.ForTest(t)
	ns := l.Segment("e0", map[string]string{"a": "192.0.2.1/24", "b": "192.0.2.2/24"})
	conf := map[string]string{}
	for d, prio := range map[string]int{"a": 150, "b": 100} {
		conf[d] = l.Write(d+"/lvsd.yaml", fmt.Sprintf(sweepDirector, d, prio))
		l.Write(d+"/services.d/echo.yaml", sweepService)
	}
	sock := func(d string) string { return l.Dir + "/" + d + "/ctl.sock" }
	l.Start(ns["a"], "lvsd-a", bin, "run", "-c", conf["a"])
	waitStatus(t, sock("a"), masterOf)
	b1 := l.Start(ns["b"], "lvsd-b-1", bin, "run", "-c", conf["b"])
	waitStatus(t, sock("b"), backupOf)
	if err := b1.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}

	// B's kernel keeps its service and backup daemon (on_stop: keep);
	// the master's sync daemon would put these there the same way.
	var recs []connsync.Record
	for i := range 10 {
		recs = append(recs, connsync.Record{Protocol: syscall.IPPROTO_TCP, Flags: connsync.FlagInactive, State: 5,
			Client:  netip.AddrPortFrom(netip.MustParseAddr("192.0.2.100"), uint16(43600+i)),
			Virtual: netip.MustParseAddrPort("192.0.2.10:7000"), Dest: netip.MustParseAddrPort("198.51.100.11:7000")})
	}
	recs = append(recs, connsync.Record{Protocol: syscall.IPPROTO_TCP, State: 1,
		Client:  netip.MustParseAddrPort("192.0.2.100:50000"),
		Virtual: netip.MustParseAddrPort("192.0.2.10:7000"), Dest: netip.MustParseAddrPort("198.51.100.11:7000")})
	msgs, err := connsync.Encode(9, recs, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-l.Go(ns["a"], func() error { return connsync.Send("e0", msgs) }); err != nil {
		t.Fatal(err)
	}
	client := netip.MustParseAddr("192.0.2.100")
	count := func(state string) int {
		n := 0
		for _, c := range clientConns(t, l, ns["b"], client) {
			if c.State == state {
				n++
			}
		}
		return n
	}
	l.WaitFor(5*time.Second, "the planted entries in B's table", func() bool { return count("TIME_WAIT") == 10 && count("ESTABLISHED") == 1 },
		func() string { return l.In(ns["b"], "ipvsadm", "-Lnc") })

	// B restarts above A: it preempts, but only after its sweep.
	l.Write("b/lvsd.yaml", fmt.Sprintf(sweepDirector, "b", 200))
	start := time.Now()
	l.Start(ns["b"], "lvsd-b-2", bin, "run", "-c", conf["b"])
	waitStatus(t, sock("b"), masterOf)
	took := time.Since(start)
	tw, est := count("TIME_WAIT"), count("ESTABLISHED")
	log := l.LogOf("lvsd-b-2")
	t.Logf("B restarted and preempted after %v; TIME_WAIT entries then: %d, ESTABLISHED: %d", took.Round(10*time.Millisecond), tw, est)
	if tw != 0 || est != 1 {
		t.Errorf("B took the VIPs with %d TIME_WAIT and %d ESTABLISHED entries, want 0 and 1:\n%s", tw, est, l.In(ns["b"], "ipvsadm", "-Lnc"))
	}
	var lines []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "preemption") || strings.Contains(line, "closed connections") || strings.Contains(line, "state change") {
			lines = append(lines, line)
		}
	}
	t.Logf("B's log:\n%s", strings.Join(lines, "\n"))
	// In B's log: held for the sweep and the sweep, released, then master.
	at := func(what string) int {
		i := strings.Index(log, what)
		if i < 0 {
			t.Fatalf("B's log lacks %q:\n%s", what, log)
		}
		return i
	}
	held, swept := at(`reason="sweeping stale connections"`), at("closed connections expired on this backup")
	released, master := at("preemption no longer held"), at("state=MASTER")
	if !strings.Contains(log[swept:], "connections=10") {
		t.Errorf("the sweep did not expire the 10 TIME_WAIT entries:\n%s", log)
	}
	// (The hold and the sweep start together, in either order.)
	if !(held < released && swept < released && released < master) {
		t.Errorf("B's log, want the hold and the sweep before the release, and that before MASTER; got %d %d %d %d:\n%s",
			held, swept, released, master, log)
	}
}

func masterOf(s api.Status) bool { return len(s.VRRP) == 1 && s.VRRP[0].State == "MASTER" }
func backupOf(s api.Status) bool { return len(s.VRRP) == 1 && s.VRRP[0].State == "BACKUP" }
