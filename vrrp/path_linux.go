//go:build linux

package vrrp

import (
	"fmt"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// openPaths opens the raw IP-112 Conn of each heartbeat path that Deps
// left out, in the node's namespace: bound to the path's interface, from
// its unicast source or primary address, joined to the multicast group
// when it has no unicast peers (RFC 5798 §5.1.1.2, §7.1).
func (n *Node) openPaths() (err error) {
	missing := false
	for _, c := range n.pathConns {
		missing = missing || c == nil
	}
	if !missing {
		return nil
	}
	ns := netns.None()
	if n.ns != nil {
		ns = netns.NsHandle(n.ns.Fd())
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	defer h.Close()
	for i, p := range n.cfg.Paths {
		if n.pathConns[i] != nil {
			continue
		}
		c, err := openPathConn(ns, h, p, n.cfg)
		if err != nil {
			return fmt.Errorf("heartbeat path %s: %w", p.Interface, err)
		}
		n.pathConns[i] = c
	}
	return nil
}

func openPathConn(ns netns.NsHandle, h *netlink.Handle, p Path, cfg InstanceConfig) (Conn, error) {
	link, err := h.LinkByName(p.Interface)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", p.Interface, err)
	}
	src := p.Unicast.Source
	if !src.IsValid() {
		if src, err = primaryAddr(h, link, cfg.is4(), cfg.VIPs); err != nil {
			return nil, err
		}
	}
	var c *rawConn
	err = runInNetns(ns, func() (err error) {
		c, err = newRawConn(netInterface(link), netInterface(link), src, len(p.Unicast.Peers) == 0)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}
