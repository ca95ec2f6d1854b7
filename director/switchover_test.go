package director

import (
	"slices"
	"testing"
)

// TestSwitchTargetsMovesGroupsWhole: a switchover acts on the masters and
// every member of their groups, whatever state the member is in when its
// turn comes; a restore on the named instances and their groups.
func TestSwitchTargetsMovesGroupsWhole(t *testing.T) {
	names := []string{"front", "gateway", "solo", "spare"}
	groupOf := map[string][]string{"front": {"front", "gateway"}, "gateway": {"front", "gateway"}}
	masters := map[string]bool{"front": true, "solo": true}
	holds := func(n string) bool { return masters[n] }
	cases := []struct {
		name      string
		only      string
		restore   bool
		act, idle []string
	}{
		{name: "all: masters and their group mates", act: []string{"front", "gateway", "solo"}, idle: []string{"spare"}},
		{name: "one master of a group takes the group", only: "front", act: []string{"front", "gateway"}},
		{name: "a backup group member named: its master mate is not named, nothing moves", only: "gateway",
			idle: []string{"gateway"}},
		{name: "a backup alone", only: "spare", idle: []string{"spare"}},
		{name: "restore all", restore: true, act: names},
		{name: "restore one of a group restores the group", only: "gateway", restore: true, act: []string{"front", "gateway"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			act, idle := switchTargets(names, groupOf, holds, c.only, c.restore)
			if !slices.Equal(act, c.act) || !slices.Equal(idle, c.idle) {
				t.Errorf("act %v idle %v, want act %v idle %v", act, idle, c.act, c.idle)
			}
		})
	}
}
