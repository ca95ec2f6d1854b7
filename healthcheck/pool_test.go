package healthcheck

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoolBoundsConcurrency(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := newPool(ctx, 3)
	var inside, most, done atomic.Int32
	release := make(chan struct{})
	task := func() {
		n := inside.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		inside.Add(-1)
		done.Add(1)
	}
	for range 3 {
		if !p.run(task) {
			t.Fatal("run refused a task with workers to spare")
		}
	}
	queued := make(chan bool)
	go func() { queued <- p.run(task) }() // waits: all three are busy
	select {
	case <-queued:
		t.Fatal("a fourth task ran beside three busy workers")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if !<-queued {
		t.Fatal("the waiting task was refused")
	}
	waitFor(t, time.Second, "4 tasks", func() bool { return done.Load() == 4 })
	if m := most.Load(); m != 3 {
		t.Errorf("%d tasks at once, want 3", m)
	}

	block := make(chan struct{})
	for range 3 {
		p.run(func() { <-block })
	}
	go func() { queued <- p.run(func() { t.Error("ran after the pool stopped") }) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if <-queued {
		t.Error("run accepted a task after ctx was done")
	}
	close(block)
	within(t, time.Second, p.wait)
}
