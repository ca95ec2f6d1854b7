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
	waiting := make(chan struct{}, 1)
	hook := func() { waiting <- struct{}{} }
	waits := func(what string) {
		t.Helper()
		select {
		case <-waiting:
		case <-time.After(guard):
			t.Fatalf("%s: run did not wait for a worker", what)
		}
	}
	var inside, most atomic.Int32
	entered, release, done := make(chan struct{}, 4), make(chan struct{}), make(chan struct{}, 4)
	task := func() {
		n := inside.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		entered <- struct{}{}
		<-release
		inside.Add(-1)
		done <- struct{}{}
	}
	for range 3 {
		if !p.run(task) {
			t.Fatal("run refused a task with workers to spare")
		}
	}
	for i := range 3 {
		select {
		case <-entered:
		case <-time.After(guard):
			t.Fatalf("%d of 3 tasks started", i)
		}
	}
	queued := make(chan bool)
	p.waiting = hook
	go func() { queued <- p.run(task) }()
	waits("a fourth task beside three busy workers") // rather than start a fourth worker
	close(release)
	if !<-queued {
		t.Fatal("the waiting task was refused")
	}
	for i := range 4 {
		select {
		case <-done:
		case <-time.After(guard):
			t.Fatalf("%d of 4 tasks done", i)
		}
	}
	if m := most.Load(); m != 3 {
		t.Errorf("%d tasks at once, want 3", m)
	}

	block := make(chan struct{})
	p.waiting = nil // these may wait for a worker to come back for work
	for range 3 {
		p.run(func() { <-block })
	}
	p.waiting = hook
	go func() { queued <- p.run(func() { t.Error("ran after the pool stopped") }) }()
	waits("a task beside three blocked workers")
	cancel()
	if <-queued {
		t.Error("run accepted a task after ctx was done")
	}
	close(block)
	within(t, time.Second, p.wait)
}
