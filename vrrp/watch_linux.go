//go:build linux

package vrrp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// linkWatcher is the Linux Watcher: a datagram packet socket on the
// instance's interface (never the macvlan) for ARP, or for IPv6 with a
// filter that keeps only Neighbor Advertisements. A packet socket for one
// protocol receives what arrives from the link but not what this host
// sends, so everything it reads comes from another host, also a frame
// from our own virtual MAC: that is the other holder of it (see Sighting).
// It probes from the interface's own MAC, so that the answer, sent to
// that MAC, reaches us even while the other holder has the virtual MAC's
// place in the switch.
type linkWatcher struct {
	pc     *packet.Conn
	own    net.HardwareAddr // what our announcements carry
	base   net.HardwareAddr // the interface's
	v4     bool
	router bool
	buf    []byte
}

// newWatcher opens the socket on base; it must run in the node's
// namespace. own is the MAC the node announces with.
func newWatcher(base *net.Interface, own net.HardwareAddr, v4, router bool) (*linkWatcher, error) {
	proto, filter := etherTypeARP, []bpf.RawInstruction(nil)
	if !v4 {
		proto, filter = etherTypeIPv6, onlyNA()
	}
	pc, err := packet.Listen(base, packet.Datagram, proto, &packet.Config{Filter: filter})
	if err != nil {
		return nil, fmt.Errorf("packet socket on %s: %w", base.Name, err)
	}
	return &linkWatcher{pc: pc, own: own, base: base.HardwareAddr, v4: v4, router: router, buf: make([]byte, 1500)}, nil
}

// onlyNA is a socket filter for IPv6 datagrams that keeps ICMPv6 (next
// header 58, with no extension header, as RFC 4861 messages come)
// Neighbor Advertisements.
func onlyNA() []bpf.RawInstruction {
	prog, _ := bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 6, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 58, SkipTrue: 3},
		bpf.LoadAbsolute{Off: 40, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: icmpv6NA, SkipTrue: 1},
		bpf.RetConstant{Val: 0xffff},
		bpf.RetConstant{Val: 0},
	})
	return prog
}

// Read implements Watcher.
func (w *linkWatcher) Read() (Sighting, error) {
	for {
		n, from, err := w.pc.ReadFrom(w.buf)
		if errors.Is(err, unix.ENETDOWN) {
			continue // the interface went down since: see downOnce
		}
		if err != nil {
			return Sighting{}, err
		}
		var src net.HardwareAddr
		if a, ok := from.(*packet.Addr); ok {
			src = a.HardwareAddr
		}
		parse := parseNA
		if w.v4 {
			parse = parseARP
		}
		if s, ok := parse(w.buf[:n], src); ok {
			return s, nil
		}
	}
}

// Probe implements Watcher.
func (w *linkWatcher) Probe(addr netip.Addr) error {
	var (
		b   []byte
		dst = broadcastMAC
		err error
	)
	if w.v4 {
		b, err = arpProbe(w.base, addr)
	} else {
		b, dst, err = nsProbe(addr)
	}
	if err == nil {
		err = downOnce(w.pc, b, dst)
	}
	if err != nil {
		return fmt.Errorf("probe %v: %w", addr, err)
	}
	return nil
}

// AnnounceAs implements Watcher.
func (w *linkWatcher) AnnounceAs(addr netip.Addr, mac net.HardwareAddr) (int, error) {
	var pkts [][]byte
	dst := broadcastMAC
	if w.v4 {
		var err error
		if pkts, err = arpAnnounce(mac, addr); err != nil {
			return 0, err
		}
	} else {
		b, err := naAnnounce(mac, addr, w.router)
		if err != nil {
			return 0, err
		}
		pkts, dst = [][]byte{b}, allNodesMAC
	}
	sent := 0
	var errs []error
	for _, b := range pkts {
		if err := downOnce(w.pc, b, dst); err != nil {
			errs = append(errs, fmt.Errorf("announce %v at %v: %w", addr, mac, err))
			continue
		}
		sent++
	}
	return sent, errors.Join(errs...)
}

// MAC implements Watcher.
func (w *linkWatcher) MAC() net.HardwareAddr { return w.own }

// Close implements Watcher.
func (w *linkWatcher) Close() error { return w.pc.Close() }

// openWatch opens the real Watcher unless one was injected, or the
// Announcer was (unit tests on fakes run without one), or the Node only
// listens (see listenOnly). It runs after
// open, in the node's namespace; Run closes the Watcher.
func (n *Node) openWatch() error {
	if n.watch != nil || n.deps.Announcer != nil || n.deps.ListenOnly {
		return nil
	}
	ns := netns.None() // the process's own (see captureNetns)
	if n.ns != nil {
		ns = netns.NsHandle(n.ns.Fd())
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	base, err := h.LinkByName(n.cfg.Interface)
	if err != nil {
		return fmt.Errorf("interface %s: %w", n.cfg.Interface, err)
	}
	own := base.Attrs().HardwareAddr
	if n.cfg.VirtualMAC {
		own = VirtualMAC(n.cfg.VRID, n.cfg.is4())
	}
	router := !n.cfg.is4() && forwards6(ns, base.Attrs().Name)
	var w *linkWatcher
	err = runInNetns(ns, func() (err error) {
		w, err = newWatcher(netInterface(base), own, n.cfg.is4(), router)
		return err
	})
	if err != nil {
		return err
	}
	n.watch = w
	return nil
}
