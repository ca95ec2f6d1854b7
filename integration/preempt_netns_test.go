//go:build integration && !ipvs

package integration

import (
	"context"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/api"
)

// TestReturnAfterLinkDownWaitsForItsChecks is the regression test of the
// VM soak's return before the checks had risen (issue 14, seed 7, fault
// #67): the master's link went down, its checks took the realserver out
// meanwhile, and when the link came back it preempted its peer after
// Master_Down_Interval (341 ms here), before its checks had risen again
// (rise 3 x 200 ms), so its IPVS had no realserver and clients were
// refused. With preempt_needs_realservers (the default) the returning
// director holds its preemption, says why in its status, and preempts
// once its own check has the realserver up: it is never master with the
// realserver down. The pair runs lvsd --ipvs=memory, so this runs on
// kernels without IPVS.
func TestReturnAfterLinkDownWaitsForItsChecks(t *testing.T) {
	p := newPair(t)
	// The client's host is the realserver too: the check needs the LAN.
	for _, name := range []string{"a", "b"} {
		p.l.Write(name+"/services.d/echo.yaml", "name: echo\nvirtual: "+pairVIP+":7000\nforward: dr\n"+
			"check: {type: tcp, interval: 200ms, timeout: 150ms, rise: 3, fall: 2}\n"+
			"reals:\n  - address: 192.0.2.100:7000\n")
	}
	p.l.Echo(p.client, "192.0.2.100:7000")
	p.start("a")
	p.start("b")
	p.waitMaster("a", 10*time.Second)
	realUp := func(s api.Status) bool {
		for _, h := range s.Health {
			if h.Service == "echo" {
				return h.Up
			}
		}
		return false
	}
	waitStatus(t, p.sock["a"], realUp) // its check has had its results

	p.l.SetLink(p.ns["a"], "e0", false)
	p.waitMaster("b", 5*time.Second)
	waitStatus(t, p.sock["a"], func(s api.Status) bool { return !realUp(s) })
	p.l.SetLink(p.ns["a"], "e0", true)
	up := time.Now()
	held := ""
	var reasons []string // each reason in the order it held, once
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var s api.Status
		err := api.Call(ctx, p.sock["a"], api.CmdStatus, nil, &s)
		cancel()
		if err == nil && len(s.VRRP) == 1 {
			in := s.VRRP[0]
			if in.PreemptHeld != "" {
				held = in.PreemptHeld
				if len(reasons) == 0 || reasons[len(reasons)-1] != held {
					reasons = append(reasons, held)
				}
			}
			if in.State == api.StateMaster {
				if !realUp(s) {
					t.Fatalf("a master again %v after its link came back with its realserver down (held: %q)\n%s",
						time.Since(up).Round(time.Millisecond), held, p.logs())
				}
				break
			}
		}
		if time.Since(up) > 10*time.Second {
			t.Fatalf("a not master 10s after its link came back (held: %q)\n%s", held, p.logs())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Held while its check was down; then, once the check has risen,
	// possibly until the kernel's table has the realserver (in this lab's
	// in-memory table, a reconcile away), and for nothing else.
	const down, kernel = "service echo: no realserver up", "service echo: a realserver is up, not yet in the kernel's IPVS table"
	if len(reasons) == 0 || reasons[0] != down || len(reasons) > 2 || len(reasons) == 2 && reasons[1] != kernel {
		t.Errorf("preemption held for %q after the link came back, want %q first, then at most %q", reasons, down, kernel)
	}
	t.Logf("a master again %v after its link came back, once its check had risen", time.Since(up).Round(time.Millisecond))
}
