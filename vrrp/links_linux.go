//go:build linux

package vrrp

import (
	"net"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nlLinks is the Linux linkSource: an RTNLGRP_LINK subscription in the
// node's namespace.
type nlLinks struct {
	ns netns.NsHandle
	h  *netlink.Handle
	wg sync.WaitGroup // the goroutine of watch, which uses h
}

// watch implements linkSource. It subscribes before reading the current
// states, so no change is lost; a change that raced with the read is
// reported again, which is harmless because states are levels. If the
// subscription dies (the kernel drops a socket that overflows, ENOBUFS),
// it subscribes again and re-reads the states.
func (l *nlLinks) watch(names []string, ch chan<- linkState, done <-chan struct{}) (map[string]bool, error) {
	want := map[string]bool{}
	for _, name := range names {
		want[name] = true
	}
	updates, err := l.subscribe(done)
	if err != nil {
		return nil, err
	}
	init := l.read(want)
	l.wg.Go(func() {
		for {
			// netlink closes updates when done closes or the socket fails.
			for u := range updates {
				name := u.Attrs().Name
				if !want[name] {
					continue
				}
				up := u.Header.Type != unix.RTM_DELLINK && linkUp(u.Attrs())
				select {
				case ch <- linkState{name: name, up: up}:
				case <-done:
				}
			}
			if updates = l.resubscribe(done); updates == nil {
				return
			}
			for name, up := range l.read(want) {
				select {
				case ch <- linkState{name: name, up: up}:
				case <-done:
					return
				}
			}
		}
	})
	return init, nil
}

func (l *nlLinks) subscribe(done <-chan struct{}) (chan netlink.LinkUpdate, error) {
	updates := make(chan netlink.LinkUpdate, 64)
	ns := l.ns
	err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{
		Namespace:     &ns,
		ErrorCallback: func(error) {}, // the closed channel says enough
	})
	return updates, err
}

// resubscribe subscribes again, once a second until it works, or returns
// nil once done is closed.
func (l *nlLinks) resubscribe(done <-chan struct{}) chan netlink.LinkUpdate {
	for {
		select {
		case <-done:
			return nil
		case <-time.After(time.Second):
		}
		if updates, err := l.subscribe(done); err == nil {
			return updates
		}
	}
}

// read returns the current state of the links; a missing link is down.
func (l *nlLinks) read(want map[string]bool) map[string]bool {
	states := map[string]bool{}
	for name := range want {
		link, err := l.h.LinkByName(name)
		states[name] = err == nil && linkUp(link.Attrs())
	}
	return states
}

// linkUp reports whether a link is administratively up and operational.
// Dummy interfaces and loopback report IF_OPER_UNKNOWN when up.
func linkUp(a *netlink.LinkAttrs) bool {
	return a.Flags&net.FlagUp != 0 && (a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown)
}
