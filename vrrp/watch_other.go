//go:build !linux

package vrrp

// openWatch has no packet sockets to open outside Linux: a Node runs
// with an injected Watcher or without one.
func (n *Node) openWatch() error { return nil }
