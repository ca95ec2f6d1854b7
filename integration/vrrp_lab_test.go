//go:build integration && !ipvs

package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/integration/netlab"
	"github.com/lvsd/lvsd/vrrp"
)

// vrrpLab is a LAN of network namespaces for the VRRP tests: a "switch"
// namespace with one bridge per segment, and host namespaces (directors
// a and b, a client c) each plugged into every bridge by a veth pair
// whose host end is eth0, eth1, ... and whose switch end is the host's
// name and the segment's number (a0, a1, ...). Everything goes at the end
// of the test, also on failure (netlab.ForTest).
type vrrpLab struct {
	*netlab.T
	sw    string
	hosts map[string]*vrrpHost
	mu    sync.Mutex
}

// vrrpHost is one namespace of the lab.
type vrrpHost struct {
	l     *vrrpLab
	name  string // full namespace name
	index int    // this host's number: the last byte of its addresses
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
	l := &vrrpLab{T: netlab.ForTest(t), hosts: map[string]*vrrpHost{}}
	l.sw = l.NS("sw")
	for s := range segments {
		l.Bridge(l.sw, fmt.Sprintf("br%d", s))
	}
	for name, idx := range hosts {
		full := l.NS(name)
		for s := range segments {
			l.Plug(l.sw, fmt.Sprintf("br%d", s), fmt.Sprintf("%s%d", name, s), full, fmt.Sprintf("eth%d", s),
				fmt.Sprintf(vrrpSegments[s].v4, idx), fmt.Sprintf(vrrpSegments[s].v6, idx))
		}
		l.hosts[name] = &vrrpHost{l: l, name: full, index: idx}
	}
	// Every host's eth0 has a usable link-local address: the source of
	// IPv6 adverts.
	l.WaitFor(5*time.Second, "link-local addresses", func() bool {
		for _, h := range l.hosts {
			if !l.LinkLocal(h.name, "eth0") {
				return false
			}
		}
		return true
	})
	return l
}

// host returns a host of the lab.
func (l *vrrpLab) host(name string) *vrrpHost { return l.hosts[name] }

// holds reports whether the host has the address on any interface.
func (h *vrrpHost) holds(addr netip.Addr) bool { return h.l.HasAddr(h.name, "", addr) }

// mac returns the MAC of one of the host's interfaces.
func (h *vrrpHost) mac(t *testing.T, ifname string) net.HardwareAddr {
	t.Helper()
	return h.l.MAC(h.name, ifname)
}

// neighbour returns the host's neighbour entry's MAC for addr, if any.
func (h *vrrpHost) neighbour(addr netip.Addr) net.HardwareAddr { return h.l.Neighbour(h.name, addr) }

// vrrpRun is a running Node.
type vrrpRun struct {
	node   *vrrp.Node
	cancel context.CancelFunc
	done   chan error
}

// newNode creates a Node in the host's namespace, so that its sockets and
// netlink handles live there.
func (l *vrrpLab) newNode(host string, cfg vrrp.InstanceConfig) *vrrp.Node {
	l.TB.Helper()
	var n *vrrp.Node
	l.Must(<-l.Go(l.host(host).name, func() (err error) {
		n, err = vrrp.NewNode(cfg, vrrp.Deps{Log: l.logger(host)})
		return err
	}))
	return n
}

// start runs a Node until the test ends or stop is called.
func (l *vrrpLab) start(n *vrrp.Node) *vrrpRun {
	ctx, cancel := context.WithCancel(context.Background())
	r := &vrrpRun{node: n, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- n.Run(ctx) }()
	l.TB.Cleanup(func() {
		if err := r.stop(10 * time.Second); err != nil {
			l.TB.Errorf("stop %s: %v", n.Status().Name, err)
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
	w.l.TB.Log(strings.TrimSpace(string(b)))
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
