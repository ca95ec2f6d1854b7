//go:build integration && !ipvs

package integration

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mdlayher/packet"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/integration/netlab"
)

// dryRunConfig is a director that, run for real, would take VIP
// 192.0.2.50 at once (priority 200, nobody else on the link), make a
// virtual MAC, set ip_forward for its NAT service and run hooks.
const dryRunConfig = `node: dry
control: {socket: ctl.sock}
http: {listen: ""}
notify: {command: [/bin/true], timeout: 1s}
director: {set_sysctls: true}
vrrp:
  instances:
    - name: front
      interface: e0
      vrid: 52
      priority: 200
      advert_interval: 100ms
      virtual_mac: true
      virtual_ips: [192.0.2.50/24]
`

// TestDryRunTouchesNothing runs `lvsd run --dry-run` on a link with a
// capture beside it for 3 s: no VRRP packet (IP protocol 112) leaves, the
// VIP is never added, no virtual MAC is made, ip_forward and nftables
// stay as they were; yet its status says it would be MASTER. The same
// files under `--ipvs=memory` do send adverts and take the VIP within the
// same window, so the capture is shown able to see them.
func TestDryRunTouchesNothing(t *testing.T) {
	l := netlab.ForTest(t)
	bin := lvsdBinary(t)
	dir, watch := l.NS("dir"), l.NS("watch")
	l.Link(dir, "e0", "192.0.2.1/24", watch, "w0", "192.0.2.2/24")
	l.In(dir, "sysctl", "-qw", "net.ipv4.ip_forward=0")
	conf := l.Write("dry/lvsd.yaml", dryRunConfig)
	l.Write("dry/services.d/web.yaml", "name: web\nvirtual: 192.0.2.50:80\nforward: nat\ncheck: {type: none}\n"+
		"reals:\n  - address: 198.51.100.11:8080\n")

	cap := startVRRPCapture(t, l, watch, "w0")
	cmd := l.Start(dir, "lvsd-dry", bin, "run", "--dry-run", "-c", conf)
	sock := l.Dir + "/dry/ctl.dry-run.sock"
	st := waitStatus(t, sock, func(s api.Status) bool {
		return len(s.VRRP) == 1 && s.VRRP[0].State == api.StateMaster
	})
	if st.Mode != "dry-run" {
		t.Errorf("status mode %q, want dry-run", st.Mode)
	}
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if out := l.In(dir, "ip", "-o", "addr", "show"); strings.Contains(out, "192.0.2.50") {
			t.Fatalf("dry run added the VIP:\n%s", out)
		}
	}
	if n := cap.count.Load(); n != 0 {
		t.Errorf("dry run sent %d VRRP packet(s)", n)
	}
	if out := l.In(dir, "ip", "-o", "link", "show"); strings.Contains(out, "macvlan") || strings.Contains(out, "00:00:5e:00:01:34") {
		t.Errorf("dry run made a virtual MAC:\n%s", out)
	}
	if out := l.In(dir, "sysctl", "-n", "net.ipv4.ip_forward"); strings.TrimSpace(out) != "0" {
		t.Errorf("dry run set ip_forward to %s", out)
	}
	if out := l.In(dir, "nft", "list", "tables"); strings.TrimSpace(out) != "" {
		t.Errorf("dry run made nftables tables:\n%s", out)
	}
	if !strings.Contains(l.LogOf("lvsd-dry"), "dry run: would add the virtual address") {
		t.Errorf("dry run did not log the VIP it would add:\n%s", l.LogOf("lvsd-dry"))
	}
	stopLvsd(t, cmd)

	// The control: the same files, run for real (in-memory IPVS).
	cmd = l.Start(dir, "lvsd-real", bin, "run", "--ipvs=memory", "-c", conf)
	defer stopLvsd(t, cmd)
	deadline := time.Now().Add(3 * time.Second)
	for cap.count.Load() == 0 || !strings.Contains(l.In(dir, "ip", "-o", "addr", "show"), "192.0.2.50") {
		if time.Now().After(deadline) {
			t.Fatalf("control run: %d VRRP packets seen, addresses:\n%s", cap.count.Load(), l.In(dir, "ip", "-o", "addr", "show"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// vrrpCapture counts IPv4 packets of protocol 112 seen on an interface.
type vrrpCapture struct{ count atomic.Int64 }

// startVRRPCapture listens on ifname in ns with an AF_PACKET socket
// (every frame, whatever its destination group) until the test ends.
func startVRRPCapture(t *testing.T, l *netlab.T, ns, ifname string) *vrrpCapture {
	t.Helper()
	c := &vrrpCapture{}
	ready := make(chan error, 1)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	l.Go(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			ready <- err
			return err
		}
		const ethPAll = 0x0003
		conn, err := packet.Listen(ifi, packet.Datagram, ethPAll, nil)
		if err != nil {
			ready <- fmt.Errorf("capture on %s: %w", ifname, err)
			return err
		}
		defer conn.Close()
		ready <- nil
		b := make([]byte, 2048)
		for {
			select {
			case <-done:
				return nil
			default:
			}
			_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, _, err := conn.ReadFrom(b)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if err != nil {
				return err
			}
			// Datagram sockets strip the link header: b is the IP packet.
			if n >= 20 && b[0]>>4 == 4 && b[9] == 112 {
				c.count.Add(1)
			}
		}
	})
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	return c
}

// stopLvsd ends a started lvsd with SIGTERM and waits (at most 10 s)
// until it has gone, so that the next run finds the link as it left it.
func stopLvsd(t *testing.T, p *netlab.Proc) {
	t.Helper()
	if err := p.Stop(10 * time.Second); err != nil {
		t.Error(err)
	}
}
