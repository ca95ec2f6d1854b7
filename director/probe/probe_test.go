package probe

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

func TestMeasure(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	s := []Sample{
		{At: at(0), OK: true}, {At: at(10), OK: true}, {At: at(20)}, {At: at(30)}, {At: at(40), OK: true},
		{At: at(50)}, {At: at(60), OK: true}, {At: at(70), OK: true},
	}
	cases := []struct {
		from, to int
		want     Window
	}{
		{0, 100, Window{OK: 5, Failed: 3, Outage: 30 * time.Millisecond}}, // 10 -> 40
		{45, 100, Window{OK: 2, Failed: 1, Outage: 20 * time.Millisecond}},
		{0, 15, Window{OK: 2}},
		{15, 35, Window{Failed: 2, Outage: 25 * time.Millisecond}}, // still failing at the end: 10 -> 35
	}
	for _, c := range cases {
		if got := Measure(s, at(c.from), at(c.to), 0); got != c.want {
			t.Errorf("[%d,%d): %+v, want %+v", c.from, c.to, got, c.want)
		}
	}
}

// TestMeasureSlow: good samples slower than the threshold are counted and
// the slowest reported; failed ones are not (they count as failed).
func TestMeasureSlow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	s := []Sample{
		{At: t0, OK: true, Took: ms(2)}, {At: t0.Add(ms(10)), OK: true, Took: ms(420)},
		{At: t0.Add(ms(20)), Took: ms(2000)}, {At: t0.Add(ms(30)), OK: true, Took: ms(1050)},
		{At: t0.Add(ms(40)), OK: true, Took: ms(300)},
	}
	w := Measure(s, t0, t0.Add(time.Second), ms(300))
	if w.Slow != 2 || w.Slowest != ms(1050) || w.Failed != 1 || w.OK != 4 || w.Outage != ms(40) {
		t.Errorf("window %+v, want 2 slow (420, 1050 ms; 300 is not over), slowest 1.05s, 1 failed, 4 ok, outage 40ms (0 -> 40)", w)
	}
	if w := Measure(s, t0, t0.Add(time.Second), 0); w.Slow != 0 {
		t.Errorf("threshold 0 counted %d slow", w.Slow)
	}
}

func TestProberAgainstALocalListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var down atomic.Bool
	tcp := TCPConnect(ln.Addr().String(), 100*time.Millisecond)
	p := Start(5*time.Millisecond, 2, Go, func() (string, error) {
		if down.Load() {
			return "", errors.New("down")
		}
		return tcp()
	})
	time.Sleep(50 * time.Millisecond)
	down.Store(true)
	time.Sleep(50 * time.Millisecond)
	down.Store(false)
	time.Sleep(50 * time.Millisecond)
	samples, err := p.Stop()
	ln.Close()
	if err != nil {
		t.Fatal(err)
	}
	w := Measure(samples, time.Time{}, time.Now(), 0)
	for _, sm := range samples {
		if sm.OK && (sm.Took <= 0 || sm.Took > time.Second) {
			t.Errorf("sample took %v", sm.Took)
		}
	}
	if w.OK < 5 || w.Failed < 3 || w.Outage < 40*time.Millisecond || w.Outage > 200*time.Millisecond {
		t.Errorf("window %+v over %d samples", w, len(samples))
	}
}

// TestStartEachKeepsProbingThroughAStall: while every call hangs, new
// calls still start each tick (up to the limit), so the stall shows in the
// samples instead of hiding behind busy workers.
func TestStartEachKeepsProbingThroughAStall(t *testing.T) {
	var stalled atomic.Bool
	var inFlight, most atomic.Int32
	p := StartEach(5*time.Millisecond, 50, Go, func() (string, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if stalled.Load() {
			time.Sleep(100 * time.Millisecond)
			return "", errors.New("stalled")
		}
		return "ok", nil
	})
	time.Sleep(50 * time.Millisecond)
	stalled.Store(true)
	stallFrom := time.Now()
	time.Sleep(60 * time.Millisecond)
	stalled.Store(false)
	stallTo := time.Now()
	time.Sleep(150 * time.Millisecond)
	samples, err := p.Stop()
	if err != nil {
		t.Fatal(err)
	}
	w := Measure(samples, stallFrom, stallTo, 0)
	if w.Failed < 5 {
		t.Errorf("%d failed samples started during a 60 ms stall at a 5 ms rate, want >= 5 (%+v)", w.Failed, w)
	}
	if most.Load() < 5 {
		t.Errorf("at most %d calls in flight during the stall", most.Load())
	}
	if last := samples[len(samples)-1]; !last.OK {
		t.Errorf("last sample failed after the stall ended")
	}
}
