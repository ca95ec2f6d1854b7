//go:build !linux

package vrrp

import (
	"errors"
	"os"
)

// captureNetns has nothing to capture outside Linux.
func captureNetns() (*os.File, error) { return nil, nil }

// open has no real kernel to offer outside Linux: every Deps field and
// the link source must be injected.
func (n *Node) open() (func(), error) {
	if n.conn == nil || n.addrs == nil || n.ann == nil || n.links == nil {
		return nil, errors.New("vrrp: sockets and netlink need Linux")
	}
	return func() {}, nil
}

// openPaths has no sockets to open outside Linux: Deps.PathConns must
// hold every path's Conn.
func (n *Node) openPaths() error {
	for _, c := range n.pathConns {
		if c == nil {
			return errors.New("vrrp: heartbeat path sockets need Linux")
		}
	}
	return nil
}
