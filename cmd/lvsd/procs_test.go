package main

import (
	"runtime"
	"testing"
)

// TestVRRPProcs: no VRRP, the runtime's default; with instances, one
// more per instance and one for the collector, at most four more.
func TestVRRPProcs(t *testing.T) {
	for _, c := range []struct{ cpus, instances, want int }{
		{2, 0, 2}, {2, 1, 4}, {2, 2, 5}, {2, 3, 6}, {2, 10, 6}, {16, 1, 18},
	} {
		if got := vrrpProcs(c.cpus, c.instances); got != c.want {
			t.Errorf("%d CPUs, %d instances: GOMAXPROCS %d, want %d", c.cpus, c.instances, got, c.want)
		}
	}
}

// TestSetVRRPProcs: GOMAXPROCS in the environment wins; without it the
// runtime's value grows.
func TestSetVRRPProcs(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	t.Setenv("GOMAXPROCS", "3")
	runtime.GOMAXPROCS(3) // as GOMAXPROCS=3 would have set it at start
	if p, env := setVRRPProcs(1); p != 3 || !env {
		t.Errorf("with GOMAXPROCS=3: %d (from GOMAXPROCS %v), want 3 from GOMAXPROCS", p, env)
	}
	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(2)
	if p, env := setVRRPProcs(1); p != 4 || env || runtime.GOMAXPROCS(0) != 4 {
		t.Errorf("without GOMAXPROCS, 2 CPUs' worth, 1 instance: %d (from GOMAXPROCS %v, runtime %d), want 4",
			p, env, runtime.GOMAXPROCS(0))
	}
}
