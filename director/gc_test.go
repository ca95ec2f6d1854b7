package director

import (
	"runtime/debug"
	"slices"
	"testing"
)

// TestSetDefaultGC: without GOGC, lvsd's target; with it, the runtime's
// (which read GOGC at start) stays.
func TestSetDefaultGC(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	t.Setenv("GOGC", "")
	if p, env := SetDefaultGC(); p != DefaultGCPercent || env {
		t.Errorf("without GOGC: %d (from GOGC %v), want %d", p, env, DefaultGCPercent)
	}
	if p := debug.SetGCPercent(DefaultGCPercent); p != DefaultGCPercent {
		t.Errorf("runtime's target %d, want %d", p, DefaultGCPercent)
	}
	debug.SetGCPercent(80) // as GOGC=80 would have set it at start
	t.Setenv("GOGC", "80")
	if p, env := SetDefaultGC(); p != 80 || !env {
		t.Errorf("with GOGC=80: %d (from GOGC %v), want 80 from GOGC", p, env)
	}
	if p := debug.SetGCPercent(80); p != 80 {
		t.Errorf("runtime's target %d after SetDefaultGC with GOGC set, want 80", p)
	}
}

// TestReleaseWhenReady passes every state on, in order.
func TestReleaseWhenReady(t *testing.T) {
	var got []string
	f := ReleaseWhenReady(func(s string) { got = append(got, s) })
	for _, s := range []string{"ready", "reloading", "ready", "stopping"} {
		f(s)
	}
	if want := []string{"ready", "reloading", "ready", "stopping"}; !slices.Equal(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
}
