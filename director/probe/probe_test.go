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
		if got := Measure(s, at(c.from), at(c.to)); got != c.want {
			t.Errorf("[%d,%d): %+v, want %+v", c.from, c.to, got, c.want)
		}
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
	w := Measure(samples, time.Time{}, time.Now())
	if w.OK < 5 || w.Failed < 3 || w.Outage < 40*time.Millisecond || w.Outage > 200*time.Millisecond {
		t.Errorf("window %+v over %d samples", w, len(samples))
	}
}
