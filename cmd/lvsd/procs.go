package main

import (
	"os"
	"runtime"
)

// Processors for the VRRP loops. A VRRP loop waits in the kernel on its
// own thread (vrrp: the direct loop) and, woken by an advert or its
// deadline, must get one of the runtime's processors (GOMAXPROCS) before
// it runs a line of Go. With one per CPU, the health checks' goroutines
// and the collector's workers can hold them all, on threads that a
// saturated machine's scheduler leaves waiting for tens of milliseconds:
// the woken loop then waits for them, and in BenchmarkFalseFailover
// (both cores saturated, 10,000 realservers) a master's advert went out
// up to 64 ms late with nothing but that between its wake-up and its
// send. A few processors beyond the CPUs leave one free for a loop that
// wakes while the rest are busy; they cost nothing while idle.

// vrrpProcs returns GOMAXPROCS for cpus CPUs (the runtime's default) and
// the number of VRRP instances: one processor more per instance and one
// for the collector's worker, at most four more, none without VRRP.
func vrrpProcs(cpus, instances int) int {
	if instances == 0 {
		return cpus
	}
	return cpus + min(instances+1, 4)
}

// setVRRPProcs sets GOMAXPROCS for the configured VRRP instances unless
// the environment sets it, and returns the value in force and whether
// GOMAXPROCS set it.
func setVRRPProcs(instances int) (procs int, fromEnv bool) {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0), true
	}
	procs = vrrpProcs(runtime.GOMAXPROCS(0), instances)
	runtime.GOMAXPROCS(procs)
	return procs, false
}
