//go:build integration

package integration

import (
	"fmt"
	"net"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/lvsd/lvsd/integration/netlab"
)

// When a director whose link came back is healthy again, for the
// no-holder invariant ("never no holder for longer than
// Master_Down_Interval + 100 ms while at least one director is
// healthy"): once the kernel reports the link operationally up, not when
// the lab's "ip link set up" returns. Until then the kernel itself holds
// the link down (no carrier: IF_OPER_DOWN), so no director can send an
// advert or answer on it, and lvsd (like keepalived) tracks that state
// (vrrp/links_linux.go). The kernel moves a link's operational state in
// its linkwatch work (net/core/link_watch.c), which runs a non-urgent
// event at most once a second: the VM soak (seed 7, #115) set a's e0 and
// e1 up 77 ms apart, the kernel reported e0 up at once and e1 900 ms
// later, and a became master one Master_Down_Interval after that, 478 ms
// after the lab's call had returned.

// linkReady reports whether a link can carry a director's adverts:
// administratively up and operationally up (or unknown: dummy links and
// loopback report IF_OPER_UNKNOWN when up), lvsd's own test.
func linkReady(a *netlink.LinkAttrs) bool {
	return a.Flags&net.FlagUp != 0 && (a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown)
}

// waitLinksReady waits until the kernel reports every one of links in ns
// ready (linkReady), polling every 5 ms for at most limit, and returns
// how long that took.
func waitLinksReady(lab *netlab.Lab, ns string, links []string, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	for _, name := range links {
		for {
			var ready bool
			err := <-lab.Go(ns, func() error {
				l, err := netlink.LinkByName(name)
				if err == nil {
					ready = linkReady(l.Attrs())
				}
				return err
			})
			if err != nil {
				return time.Since(start), fmt.Errorf("%s in %s: %w", name, ns, err)
			}
			if ready {
				break
			}
			if time.Since(start) > limit {
				return time.Since(start), fmt.Errorf("%s in %s not operationally up %v after it was set up", name, ns, limit)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return time.Since(start), nil
}
