package healthcheck

import (
	"net/netip"
	"slices"
	"testing"
)

// TestPairIndex: every pair is found at its position, a pair listed again
// is reported as a repeat and found at its first position, and pairs not
// listed are not found.
func TestPairIndex(t *testing.T) {
	a := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	pairs := []Pair{
		{"web", a("198.51.100.12:80")}, {"web", a("198.51.100.11:80")}, {"db", a("198.51.100.11:80")},
		{"web", a("198.51.100.12:80")}, {"web", a("[2001:db8::1]:80")}, {"db", a("198.51.100.11:80")},
	}
	at := func(i int) (string, netip.AddrPort) { return pairs[i].Service, pairs[i].Real }
	x, dups := newPairIndex(len(pairs), at)
	if !slices.Equal(dups, []int{3, 5}) {
		t.Errorf("repeats at %v, want [3 5]", dups)
	}
	real := func(p int32) netip.AddrPort { return pairs[p].Real }
	for i, p := range pairs[:3] {
		if got := x.find(p.Service, p.Real, real); got != i {
			t.Errorf("%v found at %d, want %d", p, got, i)
		}
	}
	if got := x.find("web", a("[2001:db8::1]:80"), real); got != 4 {
		t.Errorf("IPv6 pair found at %d, want 4", got)
	}
	for _, p := range []Pair{{"db", a("198.51.100.12:80")}, {"api", a("198.51.100.11:80")}, {"web", a("198.51.100.11:81")}} {
		if got := x.find(p.Service, p.Real, real); got != -1 {
			t.Errorf("%v (not listed) found at %d", p, got)
		}
	}
}
