package director

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/healthcheck"
)

// align puts the runner's states in the configuration's order whether
// the runner lists the same realservers in the same order (names the
// configuration's strings or copies), in another order or with others
// (a reload under way), and leaves untracked the ones it lacks.
func TestAlignPutsStatesInTheConfigurationsOrder(t *testing.T) {
	d, _ := runFarm(t, farm(t, 3, 40, freeAddr(t))) // 40 reals: a service of many, looked up in its map
	d2, _ := runFarm(t, farm(t, 4, 3, freeAddr(t)))
	for _, cur := range []*Loaded{d.Current(), d2.Current()} {
		l := newLabelSet(cur, d.metrics.health)
		var rows []healthcheck.Pair
		var states []healthcheck.RealState
		for i, r := range l.reals {
			rows = append(rows, healthcheck.Pair{Service: r.service, Real: r.addr})
			states = append(states, healthcheck.RealState{Checks: uint64(i + 1), Tracked: true})
		}
		check := func(name string, rows []healthcheck.Pair, states []healthcheck.RealState, missing int) {
			t.Helper()
			health := make([]healthcheck.RealState, len(l.reals))
			l.align(health, rows, states)
			for i, h := range health {
				want := uint64(i + 1)
				if i == missing {
					want = 0
				}
				if h.Checks != want {
					t.Fatalf("%s: row %d (%s %s) has the state of check %d, want %d", name, i, l.reals[i].service, l.reals[i].addr, h.Checks, want)
				}
			}
		}
		check("in order", rows, states, -1)
		copies := slices.Clone(rows)
		for i := range copies {
			copies[i].Service = strings.Clone(copies[i].Service)
		}
		check("names copied", copies, states, -1)
		rev, revStates := slices.Clone(rows), slices.Clone(states)
		slices.Reverse(rev)
		slices.Reverse(revStates)
		check("reversed", rev, revStates, -1)
		// One realserver left out, one the configuration lacks in its place.
		other := slices.Clone(rows)
		other[1] = healthcheck.Pair{Service: "nosuch", Real: netip.MustParseAddrPort("203.0.113.1:80")}
		check("one other", other, states, 1)
		check("one fewer", rows[1:], states[1:], 0)
	}
}
