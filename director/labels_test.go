package director

import (
	"net/netip"
	"strings"
	"testing"
)

// positionCached finds what position finds, whether the name is the
// configuration's string or a copy of it, and finds nothing for a
// service or an address the configuration lacks.
func TestPositionCachedMatchesPosition(t *testing.T) {
	d, _ := runFarm(t, farm(t, 3, 40, freeAddr(t))) // 40 reals: a service of many, looked up in its map
	d2, _ := runFarm(t, farm(t, 4, 3, freeAddr(t)))
	for _, cur := range []*Loaded{d.Current(), d2.Current()} {
		l := newLabelSet(cur, d.metrics.health)
		for i, r := range l.reals {
			for _, name := range []string{r.service, strings.Clone(r.service)} {
				p, ok := l.positionCached(name, r.addr)
				if q, ok2 := l.position(name, r.addr); !ok || !ok2 || p != i || q != i {
					t.Fatalf("%s %s: cached %d %v, uncached %d %v, want %d", name, r.addr, p, ok, q, ok2, i)
				}
			}
		}
		other := netip.MustParseAddrPort("203.0.113.1:80")
		for _, probe := range []struct {
			service string
			addr    netip.AddrPort
		}{{"nosuch", l.reals[0].addr}, {"nosuch", l.reals[0].addr}, {l.reals[0].service, other}} {
			if p, ok := l.positionCached(probe.service, probe.addr); ok {
				t.Errorf("%s %s found at %d", probe.service, probe.addr, p)
			}
		}
	}
}
