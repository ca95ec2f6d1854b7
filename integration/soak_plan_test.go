//go:build integration

package integration

import (
	"slices"
	"testing"
)

// checkPlanHalves holds a layer's plan to restartTarget: the faults that
// end a director's process hit a only in the first half and b only in the
// second, so each director runs one process through half the other faults
// and the leak check has a process to judge; every other fault's target
// stays as the seed draws it, and one seed gives one plan. The layers'
// tests (TestSoakPlanKeepsEachDirectorAliveForHalf, in each layer's
// build) call it with their kinds.
func checkPlanHalves(t *testing.T, kinds []faultKind) {
	t.Helper()
	const n = 400
	plan := makePlan(7, n, kinds)
	restarts := map[string]bool{}
	for _, k := range kinds {
		restarts[k.Name] = k.Restarts
	}
	perHalf := [2]map[string]int{{}, {}}
	others := map[string]int{}
	for i, f := range plan {
		if restarts[f.Kind] {
			perHalf[i*2/n][f.Target]++
		} else if f.Target == "a" || f.Target == "b" {
			others[f.Target]++
		}
	}
	if perHalf[0]["b"] != 0 || perHalf[1]["a"] != 0 || perHalf[0]["a"] < 10 || perHalf[1]["b"] < 10 {
		t.Errorf("restarting faults by half %v, want a's only in the first, b's only in the second, each at least 10", perHalf)
	}
	if others["a"] < 20 || others["b"] < 20 {
		t.Errorf("other faults on a director %v: want both drawn as before", others)
	}
	if again := makePlan(7, n, kinds); !slices.Equal(plan, again) {
		t.Error("the plan of one seed differs between draws")
	}
}
