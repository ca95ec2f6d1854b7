//go:build integration && !ipvs

package integration

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/integration/netlab"
)

// TestSwitchoverMovesGroupForGood: lvsd switchover on the master of a
// group (a NAT pair's front and gateway instances) leaves every member at
// priority 1, so the peer keeps the whole group until --restore. Before,
// a member that followed its group to Backup before its own turn kept its
// configured priority, preempted back at once and dragged the group with
// it, over and over (seen in the VM end-to-end NAT test).
func TestSwitchoverMovesGroupForGood(t *testing.T) {
	l := netlab.ForTest(t)
	bin := lvsdBinary(t)
	ns := l.Segment("e0", map[string]string{"a": "192.0.2.1/24", "b": "192.0.2.2/24"})
	sock, cfg := map[string]string{}, map[string]string{}
	for name, prio := range map[string]int{"a": 150, "b": 100} {
		cfg[name] = l.Write(name+"/lvsd.yaml", fmt.Sprintf(`node: %[1]s
control: {socket: ctl.sock}
http: {listen: ""}
vrrp:
  instances:
    - {name: front, interface: e0, vrid: 61, priority: %[2]d, advert_interval: 100ms, virtual_ips: [192.0.2.10/24]}
    - {name: gateway, interface: e0, vrid: 62, priority: %[2]d, advert_interval: 100ms, virtual_ips: [192.0.2.20/24]}
  groups:
    - {name: nat-path, instances: [front, gateway]}
`, name, prio))
		l.Write(name+"/services.d/.keep", "")
		sock[name] = l.Dir + "/" + name + "/ctl.sock"
		l.Start(ns[name], "lvsd-"+name, bin, "run", "--ipvs=memory", "-c", cfg[name])
		waitUp(t, sock[name])
	}
	status := func(name string) api.Status {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var s api.Status
		_ = api.Call(ctx, sock[name], api.CmdStatus, nil, &s)
		return s
	}
	// states is "front/gateway" of a node, e.g. "MASTER/MASTER".
	states := func(name string) string {
		var out []string
		for _, in := range status(name).VRRP {
			out = append(out, string(in.State))
		}
		return strings.Join(out, "/")
	}
	wait := func(a, b string) {
		t.Helper()
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if states("a") == a && states("b") == b {
				return
			}
		}
		t.Fatalf("a %s, b %s; want a %s, b %s\n%s%s", states("a"), states("b"), a, b, l.LogOf("lvsd-a"), l.LogOf("lvsd-b"))
	}
	wait("MASTER/MASTER", "BACKUP/BACKUP")
	// The order in which the members are handed over varied with a map's
	// iteration: several rounds, so that either member goes first.
	for round := 1; round <= 4; round++ {
		out, err := exec.Command(bin, "switchover", "-c", cfg["a"]).CombinedOutput()
		if err != nil {
			t.Fatalf("round %d: lvsd switchover: %v\n%s", round, err, out)
		}
		wait("BACKUP/BACKUP", "MASTER/MASTER")
		// Held for ten Master_Down_Intervals: a member left at 150 would
		// preempt within one.
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if a, b := states("a"), states("b"); a != "BACKUP/BACKUP" || b != "MASTER/MASTER" {
				t.Fatalf("round %d: after the switchover a is %s and b %s (the group came back)\nswitchover said: %s\n%s",
					round, a, b, out, l.LogOf("lvsd-a"))
			}
		}
		for _, in := range status("a").VRRP {
			if in.Priority != 1 {
				t.Errorf("round %d: a's %s at priority %d after the switchover, want 1 (switchover said: %s)", round, in.Name, in.Priority, out)
			}
		}
		if out, err := exec.Command(bin, "switchover", "--restore", "-c", cfg["a"]).CombinedOutput(); err != nil {
			t.Fatalf("round %d: lvsd switchover --restore: %v\n%s", round, err, out)
		}
		wait("MASTER/MASTER", "BACKUP/BACKUP")
	}
}
