package vrrp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestEffectivePriority(t *testing.T) {
	for _, tc := range []struct {
		base   uint8
		offset int
		want   uint8
	}{
		{100, 0, 100}, {100, -30, 70}, {100, -150, 1}, {100, 200, 254},
		{254, 10, 254}, {255, 0, 255}, {255, -10, 245}, {255, 10, 255}, {1, -1, 1},
	} {
		if got := effective(tc.base, tc.offset); got != tc.want {
			t.Errorf("effective(%d, %d) = %d, want %d", tc.base, tc.offset, got, tc.want)
		}
	}
}

func TestRiseFall(t *testing.T) {
	r := &riseFall{rise: 2, fall: 3, up: true}
	var got []string
	for _, ok := range []bool{false, false, true, false, false, false, true, false, true, true, true} {
		changed := r.observe(ok)
		got = append(got, fmt.Sprintf("%v>%v%s", ok, r.up, map[bool]string{true: "!"}[changed]))
	}
	want := []string{
		"false>true", "false>true", "true>true", // a success resets the count
		"false>true", "false>true", "false>false!", // three failures in a row
		"true>false", "false>false", "true>false", "true>true!", // two successes in a row
		"true>true",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestNodeTrackInterfaces(t *testing.T) {
	cfg := nodeConfig()
	cfg.Priority = 200
	cfg.TrackInterfaces = []TrackInterface{{"eth1", -30}, {"eth2", -50}, {"eth3", 0}}
	h := newHarness(t, cfg)
	h.run()
	h.becomeMaster()
	link := func(name string, up bool) {
		h.t.Helper()
		h.links.ch <- linkState{name, up}
		h.waitIdle()
	}
	// A master advertises a new priority at once (RFC 5798 §6.4.3).
	link("eth1", false)
	h.expectOps("send 170 to 224.0.0.18")
	link("eth2", false)
	h.expectOps("send 120 to 224.0.0.18")
	link("eth1", true)
	h.expectOps("send 150 to 224.0.0.18")
	link("eth1", true) // no change, nothing to do
	h.expectOps()
	// Weight 0: Fault, leaving with a priority 0 advert.
	link("eth3", false)
	h.expectOps("send 0 to 224.0.0.18", "remove 192.0.2.100/24", "remove 192.0.2.101/24")
	s := h.n.Status()
	if s.State != Fault || !slices.Equal(s.Faults, []string{"interface eth3 down"}) || s.Priority != 150 {
		t.Errorf("status %v faults %q priority %d", s.State, s.Faults, s.Priority)
	}
	link("eth0", false) // the instance's own interface is tracked too
	link("eth3", true)
	if s := h.n.Status(); s.State != Fault || !slices.Equal(s.Faults, []string{"interface eth0 down"}) {
		t.Errorf("status %v faults %q, want FAULT for eth0", s.State, s.Faults)
	}
	link("eth0", true)
	link("eth2", true)
	if s := h.n.Status(); s.State != Backup || s.Priority != 200 {
		t.Errorf("status %v priority %d, want BACKUP at 200", s.State, s.Priority)
	}
}

func TestNodeStartsInFault(t *testing.T) {
	cfg := nodeConfig()
	cfg.TrackInterfaces = []TrackInterface{{"eth3", 0}}
	h := newHarness(t, cfg)
	h.links.down["eth3"] = true
	h.run()
	h.advance(2 * time.Second)
	h.expectOps()
	s := h.n.Status()
	if s.State != Fault || len(s.Transitions) != 1 || s.Transitions[0].From != Initialize {
		t.Errorf("status %+v, want FAULT straight from INIT", s)
	}
}

func TestNodeTrackScripts(t *testing.T) {
	cfg := nodeConfig()
	cfg.TrackScripts = []TrackScript{{Name: "chk", Command: []string{"check"}, Weight: -60, Rise: 2, Fall: 2},
		{Name: "must", Command: []string{"must"}, Weight: 0}}
	h := newHarness(t, cfg)
	h.n.runCmd = func(ctx context.Context, argv []string) error {
		if argv[0] == "must" {
			return errors.New("exit status 1") // failing from the first run
		}
		return nil
	}
	h.run()
	if s := h.n.Status(); s.State != Fault || !slices.Equal(s.Faults, []string{"script must failing"}) {
		t.Fatalf("status %v faults %q, want FAULT for script must", s.State, s.Faults)
	}
	fail := errors.New("exit status 2")
	script := func(name string, err error) { h.call(func() { h.n.onScript(name, err) }) }
	script("must", nil)
	if s := h.n.Status(); s.State != Backup || s.Priority != 100 {
		t.Fatalf("status %v priority %d, want BACKUP at 100", s.State, s.Priority)
	}
	script("chk", fail)
	if p := h.n.Status().Priority; p != 100 {
		t.Errorf("priority %d after one failure, want 100 (fall 2)", p)
	}
	script("chk", fail)
	if p := h.n.Status().Priority; p != 40 {
		t.Errorf("priority %d after two failures, want 40", p)
	}
	script("chk", nil)
	script("chk", nil)
	if p := h.n.Status().Priority; p != 100 {
		t.Errorf("priority %d after two successes, want 100", p)
	}
}

func TestScriptLoop(t *testing.T) {
	clk := &fakeClock{now: t0}
	ran := make(chan []string, 1)
	n := &Node{clock: clk, events: make(chan func()), runCmd: func(ctx context.Context, argv []string) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("script run without a timeout")
		}
		ran <- argv
		return nil
	}}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		n.scriptLoop(TrackScript{Name: "x", Command: []string{"a", "b"}, Interval: time.Second, Timeout: time.Second}, done)
		close(stopped)
	}()
	for range 3 {
		waitFor(t, func() bool { clk.mu.Lock(); defer clk.mu.Unlock(); return len(clk.waiters) == 1 })
		clk.set(clk.Now().Add(time.Second))
		if argv := <-ran; !slices.Equal(argv, []string{"a", "b"}) {
			t.Fatalf("ran %q", argv)
		}
		<-n.events // the result, for the Node's goroutine
	}
	close(done)
	<-stopped
}

// waitFor polls cond for up to 10s; for goroutines the test cannot step.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(end) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestExecCmd(t *testing.T) {
	ctx := context.Background()
	if err := execCmd(ctx, []string{"true"}); err != nil {
		t.Errorf("true: %v", err)
	}
	if err := execCmd(ctx, []string{"false"}); err == nil {
		t.Error("false succeeded")
	}
	ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := execCmd(ctx, []string{"sleep", "10"}); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("sleep 10 with a 50ms timeout: %v after %v", err, time.Since(start))
	}
}
