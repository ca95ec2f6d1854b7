//go:build integration && !ipvs

package integration

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// The failover benchmark's mixed pairs (BenchmarkVRRPFailover): lvsd
// with keepalived, in both roles, as a pair runs during a migration.

// kbenchPairs are the mixed pairs, "a+b" (a is the winner), as during a
// migration from keepalived; they run the split-brain heals only.
var kbenchPairs = []string{"lvsd+keepalived", "keepalived+lvsd"}

// kbenchImplsFor returns the implementations (and pairs) sc runs with.
func kbenchImplsFor(sc kbenchScenario) []string {
	if strings.HasPrefix(sc.key, "heal") {
		return append(slices.Clone(kbenchImpls), kbenchPairs...)
	}
	return kbenchImpls
}

// kbenchMixedTable prints the mixed pairs' split-brain heals beside the
// lvsd and keepalived pairs', and whether lvsd met the criterion
// (0 failed probes after the heal) with keepalived as the peer.
func kbenchMixedTable(w io.Writer, scenarios []kbenchScenario, res map[string]map[string][]kbenchResult) {
	impls := append(slices.Clone(kbenchImpls), kbenchPairs...)
	fmt.Fprintln(w, "Split-brain heal, mixed pairs (a, priority 150, wins): median outage (ms) [runs]")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| scenario | %s |\n", strings.Join(impls, " | "))
	fmt.Fprintf(w, "|---%s|\n", strings.Repeat("|---", len(impls)))
	for _, sc := range scenarios {
		if !strings.HasPrefix(sc.key, "heal") {
			continue
		}
		cells := []string{sc.name}
		for _, impl := range impls {
			cells = append(cells, kbenchCell(res[sc.name][impl]))
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
	fmt.Fprintln(w)
	for _, sc := range scenarios {
		for _, pair := range kbenchPairs {
			if runs := res[sc.name][pair]; len(runs) > 0 {
				worst := 0
				for _, r := range runs {
					worst = max(worst, r.after.failed)
				}
				fmt.Fprintf(w, "- %s, %s: 0 failed probes in every run: %v (worst %d)\n", sc.name, pair, worst == 0, worst)
			}
		}
	}
	fmt.Fprintln(w)
}
