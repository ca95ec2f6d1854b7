//go:build integration

package integration

import (
	"time"

	"github.com/lvsd/lvsd/integration/netlab"
)

// flap toggles director d's front link (e0, in namespace ns) every
// period for dur, ending up; d is not healthy meanwhile.
func (p *soakProcs) flap(l *netlab.T, d, ns string, dur, period time.Duration) error {
	p.set(p.linkDown, d, true)
	defer p.set(p.linkDown, d, false)
	up := true
	for end := time.Now().Add(dur); time.Now().Before(end); time.Sleep(period) {
		up = !up
		if err := l.Lab.SetLink(ns, "e0", up); err != nil {
			return err
		}
	}
	p.notef("%s: flap ends, e0 up", d)
	if err := l.Lab.SetLink(ns, "e0", true); err != nil {
		return err
	}
	return p.linksReady(l, d, ns, []string{"e0"})
}

// linksReady waits until the kernel reports d's links (in namespace ns)
// up (see soak_link_test.go): d is healthy again from then.
func (p *soakProcs) linksReady(l *netlab.T, d, ns string, links []string) error {
	took, err := waitLinksReady(l.Lab, ns, links, 5*time.Second)
	p.notef("%s: %v operationally up %v after set up", d, links, took.Round(time.Millisecond))
	return err
}
