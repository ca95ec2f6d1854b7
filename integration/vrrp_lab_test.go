//go:build integration

package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/lvsd/lvsd/vrrp"
)

// vrrpLab is a LAN of network namespaces for the VRRP tests: a "switch"
// namespace with one bridge per segment, and host namespaces (directors
// a and b, a client c) each joined to every bridge by a veth pair whose
// host end is eth0, eth1, ... Everything is removed at the end of the
// test, also on failure; names carry a random prefix.
type vrrpLab struct {
	t      *testing.T
	prefix string
	sw     string
	hosts  map[string]*vrrpHost
	mu     sync.Mutex
}

// vrrpHost is one namespace of the lab.
type vrrpHost struct {
	name  string // full namespace name
	ns    netns.NsHandle
	h     *netlink.Handle
	index int // this host's number: the last byte of its addresses
}

// vrrpSegments are the lab's subnets: eth0 is on the first, eth1 on the
// second.
var vrrpSegments = []struct{ v4, v6 string }{
	{"192.0.2.%d/24", "2001:db8::%d/64"},
	{"198.51.100.%d/24", "2001:db8:1::%d/64"},
}

// newVRRPLab builds the lab with the given segments count and hosts (name
// to last address byte).
func newVRRPLab(t *testing.T, segments int, hosts map[string]int) *vrrpLab {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "vrrp lab: needs root")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	l := &vrrpLab{t: t, prefix: "vr" + hex.EncodeToString(b), hosts: map[string]*vrrpHost{}}
	l.sw = l.netns("sw")
	for s := range segments {
		br := fmt.Sprintf("br%d", s)
		l.run(l.sw, "ip", "link", "add", br, "type", "bridge", "mcast_snooping", "0")
		l.run(l.sw, "ip", "link", "set", br, "up")
	}
	for name, idx := range hosts {
		full := l.netns(name)
		for s := range segments {
			port, ifname := fmt.Sprintf("%s%d", name, s), fmt.Sprintf("eth%d", s)
			l.run(l.sw, "ip", "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", full)
			l.run(l.sw, "ip", "link", "set", port, "master", fmt.Sprintf("br%d", s), "up")
			l.run(full, "ip", "addr", "add", fmt.Sprintf(vrrpSegments[s].v4, idx), "dev", ifname)
			l.run(full, "ip", "addr", "add", fmt.Sprintf(vrrpSegments[s].v6, idx), "dev", ifname, "nodad")
			l.run(full, "ip", "link", "set", ifname, "up")
		}
		ns, err := netns.GetFromName(full)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ns.Close() })
		h, err := netlink.NewHandleAt(ns)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Close)
		l.hosts[name] = &vrrpHost{name: full, ns: ns, h: h, index: idx}
	}
	l.waitLinkLocal()
	return l
}

// netns creates a namespace with lo up and no duplicate address
// detection (addresses move between hosts; DAD would only slow the tests).
func (l *vrrpLab) netns(name string) string {
	l.t.Helper()
	full := l.prefix + "-" + name
	if out, err := exec.Command("ip", "netns", "add", full).CombinedOutput(); err != nil {
		l.t.Fatalf("ip netns add %s: %v\n%s", full, err, out)
	}
	l.t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", full).Run() })
	l.run(full, "ip", "link", "set", "lo", "up")
	l.run(full, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
	return full
}

// run runs a command in namespace ns and fails the test if it fails.
func (l *vrrpLab) run(ns string, args ...string) string {
	l.t.Helper()
	out, err := l.try(ns, args...)
	if err != nil {
		l.t.Fatalf("in %s: %s: %v\n%s", ns, strings.Join(args, " "), err, out)
	}
	return out
}

// try runs a command in namespace ns.
func (l *vrrpLab) try(ns string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	return string(out), err
}

// host returns a host of the lab.
func (l *vrrpLab) host(name string) *vrrpHost { return l.hosts[name] }

// waitLinkLocal waits until every host's eth0 has a link-local address,
// the source of IPv6 adverts.
func (l *vrrpLab) waitLinkLocal() {
	l.t.Helper()
	l.waitFor(5*time.Second, "link-local addresses", func() bool {
		for _, h := range l.hosts {
			link, err := h.h.LinkByName("eth0")
			if err != nil {
				return false
			}
			addrs, _ := h.h.AddrList(link, netlink.FAMILY_V6)
			ok := false
			for _, a := range addrs {
				ok = ok || (a.IP.IsLinkLocalUnicast() && a.Flags&0x40 == 0) // not tentative
			}
			if !ok {
				return false
			}
		}
		return true
	})
}

// waitFor polls cond every 5ms until it holds or timeout passes.
func (l *vrrpLab) waitFor(timeout time.Duration, what string, cond func() bool) time.Duration {
	l.t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			l.t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// holds reports whether the host has the address on any interface.
func (h *vrrpHost) holds(addr netip.Addr) bool {
	family := netlink.FAMILY_V6
	if addr.Is4() {
		family = netlink.FAMILY_V4
	}
	addrs, err := h.h.AddrList(nil, family)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if ip, _ := netip.AddrFromSlice(a.IP); ip.Unmap() == addr {
			return true
		}
	}
	return false
}

// mac returns the MAC of one of the host's interfaces.
func (h *vrrpHost) mac(t *testing.T, ifname string) net.HardwareAddr {
	t.Helper()
	link, err := h.h.LinkByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	return link.Attrs().HardwareAddr
}

// neighbour returns the host's neighbour entry's MAC for addr, if any.
func (h *vrrpHost) neighbour(addr netip.Addr) net.HardwareAddr {
	family := netlink.FAMILY_V6
	if addr.Is4() {
		family = netlink.FAMILY_V4
	}
	neighs, err := h.h.NeighList(0, family)
	if err != nil {
		return nil
	}
	for _, n := range neighs {
		if ip, _ := netip.AddrFromSlice(n.IP); ip.Unmap() == addr && n.HardwareAddr != nil {
			return n.HardwareAddr
		}
	}
	return nil
}

// inNS runs fn on a locked OS thread switched into the host's namespace;
// the thread is thrown away afterwards.
func (h *vrrpHost) inNS(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := netns.Set(h.ns); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// vrrpRun is a running Node.
type vrrpRun struct {
	node   *vrrp.Node
	cancel context.CancelFunc
	done   chan error
}

// newNode creates a Node in the host's namespace, so that its sockets and
// netlink handles live there.
func (l *vrrpLab) newNode(host string, cfg vrrp.InstanceConfig) *vrrp.Node {
	l.t.Helper()
	var n *vrrp.Node
	err := l.host(host).inNS(func() (err error) {
		n, err = vrrp.NewNode(cfg, vrrp.Deps{Log: l.logger(host)})
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	return n
}

// start runs a Node until the test ends or stop is called.
func (l *vrrpLab) start(n *vrrp.Node) *vrrpRun {
	ctx, cancel := context.WithCancel(context.Background())
	r := &vrrpRun{node: n, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- n.Run(ctx) }()
	l.t.Cleanup(func() {
		if err := r.stop(10 * time.Second); err != nil {
			l.t.Errorf("stop %s: %v", n.Status().Name, err)
		}
	})
	return r
}

// stop cancels the Node and waits for Run to return, at most timeout.
func (r *vrrpRun) stop(timeout time.Duration) error {
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(timeout):
		return errors.New("Run did not return")
	}
}

// logger sends a Node's log to the test log.
func (l *vrrpLab) logger(host string) *logrus.Entry {
	lg := logrus.New()
	lg.SetOutput(vrrpTestWriter{l})
	lg.SetLevel(logrus.InfoLevel)
	lg.SetFormatter(&logrus.TextFormatter{DisableTimestamp: false, TimestampFormat: "15:04:05.000"})
	return lg.WithField("host", host)
}

type vrrpTestWriter struct{ l *vrrpLab }

func (w vrrpTestWriter) Write(b []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	w.l.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// vrrpConfig is the instance the tests start from: version 3, VRID 51,
// 100ms adverts, one IPv4 VIP on eth0, preempting.
func vrrpConfig(name string, prio uint8) vrrp.InstanceConfig {
	return vrrp.InstanceConfig{
		Name: name, Interface: "eth0", VRID: 51, Priority: prio, Preempt: true,
		AdvertInterval: 100 * time.Millisecond,
		VIPs:           []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24")},
		Announce:       vrrp.AnnounceConfig{Repeat: 3, Interval: 100 * time.Millisecond},
	}
}

// masterDown is Master_Down_Interval for a 100ms interval (RFC 5798 §6.1).
func masterDown(prio uint8) time.Duration {
	return 300*time.Millisecond + time.Duration(256-int(prio))*100*time.Millisecond/256
}
