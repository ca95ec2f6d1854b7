//go:build integration

package integration

import (
	"sync"
	"sync/atomic"
	"time"
)

// soakLoops are the goroutines of a layer's watch (soakWatch, vsoakWatch
// embed it): the periodic checks and the client loops, all ended by
// stopLoops, and the client's counts.
type soakLoops struct {
	done   chan struct{}
	wg     sync.WaitGroup
	ok     atomic.Int64 // new connections answered
	failed atomic.Int64 // new connections failed
	breaks atomic.Int64 // long connections broken
}

// every runs fn every d until stopLoops.
func (w *soakLoops) every(d time.Duration, fn func()) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-t.C:
				fn()
			}
		}
	}()
}

// clients starts four client loops, 10 ms apart, and three longConn
// loops; each runs until stopLoops.
func (w *soakLoops) clients(client, longConn func()) {
	for i := range 4 {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			time.Sleep(time.Duration(i) * 10 * time.Millisecond)
			client()
		}()
	}
	for range 3 {
		w.wg.Add(1)
		go func() { defer w.wg.Done(); longConn() }()
	}
}

// stopLoops ends the loops and waits for them.
func (w *soakLoops) stopLoops() {
	close(w.done)
	w.wg.Wait()
}
