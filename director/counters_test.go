package director

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/ipvs"
)

// TestCounterCacheReadsOncePerTTL checks that scrapes within countersTTL
// of a read, concurrent ones included, share it, and that a later one or
// a new configuration reads again.
func TestCounterCacheReadsOncePerTTL(t *testing.T) {
	var mu sync.Mutex
	reads := 0
	read := func(context.Context) (map[ipvs.ServiceKey]ipvs.Counters, error) {
		mu.Lock()
		defer mu.Unlock()
		reads++
		return map[ipvs.ServiceKey]ipvs.Counters{}, nil
	}
	var c counterCache
	ctx := context.Background()
	t0 := time.Unix(1000, 0)
	l1, l2 := &labelSet{}, &labelSet{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if rows, err := c.rowsFor(ctx, t0, l1, read); rows == nil || err != nil {
				t.Errorf("rows %v, err %v", rows, err)
			}
		})
	}
	wg.Wait()
	c.get(ctx, t0.Add(countersTTL-time.Millisecond), read)
	if reads != 1 {
		t.Fatalf("%d reads within the TTL, want 1", reads)
	}
	c.get(ctx, t0.Add(countersTTL), read)
	if reads != 2 {
		t.Fatalf("%d reads after the TTL, want 2", reads)
	}
	c.rowsFor(ctx, t0.Add(countersTTL), l2, read)
	if reads != 3 {
		t.Fatalf("%d reads after a new configuration, want 3", reads)
	}
}
