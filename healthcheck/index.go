package healthcheck

import (
	"net/netip"
	"slices"
)

// pairIndex finds a (service, realserver) pair in a list of them: for
// each service, the positions of its pairs in the list, ordered by
// realserver. A Runner or a Metrics of 100,000 realservers keeps one
// rather than a map keyed by the pair: a map's 48-byte keys and spare
// slots cost some 9 MB, the index 4 bytes a realserver and a small map of
// services.
type pairIndex map[string][]int32

// newPairIndex indexes the n pairs that at returns, and lists the
// positions of those that repeat an earlier one (in increasing order).
func newPairIndex(n int, at func(i int) (string, netip.AddrPort)) (x pairIndex, dups []int) {
	counts := map[string]int{}
	for i := range n {
		s, _ := at(i)
		counts[s]++
	}
	all := make([]int32, n) // every service's positions, in one block
	x = make(pairIndex, len(counts))
	off := 0
	for i := range n {
		s, _ := at(i)
		ps, ok := x[s]
		if !ok {
			ps = all[off : off : off+counts[s]]
			off += counts[s]
		}
		x[s] = append(ps, int32(i))
	}
	real := func(p int32) netip.AddrPort { _, a := at(int(p)); return a }
	for _, ps := range x {
		// Stable: of equal pairs the first listed comes first, and stays.
		slices.SortStableFunc(ps, func(a, b int32) int { return real(a).Compare(real(b)) })
		for j := 1; j < len(ps); j++ {
			if real(ps[j]) == real(ps[j-1]) {
				dups = append(dups, int(ps[j]))
			}
		}
	}
	slices.Sort(dups)
	return x, dups
}

// find returns the position of (service, addr), real(p) being the
// realserver at position p of the list indexed, or -1.
func (x pairIndex) find(service string, addr netip.AddrPort, real func(p int32) netip.AddrPort) int {
	ps := x[service]
	i, ok := slices.BinarySearchFunc(ps, addr, func(p int32, a netip.AddrPort) int { return real(p).Compare(a) })
	if !ok {
		return -1
	}
	return int(ps[i])
}
