//go:build integration

package integration

import (
	"fmt"
	"sync"
	"time"
)

// soakInjector is what runFaults needs of a layer: its processes'
// bookkeeping (whose note, if any, gets each fault's begin and end),
// what a fault touches and how to inject it.
type soakInjector interface {
	procs() *soakProcs
	resourcesOf(f fault) []string
	inject(f fault) error
}

// runFaults runs plan against s, each fault after its gap: a fault that
// may overlap runs beside those still running if what it touches is
// free, any other waits for them all. A fault whose injection or
// recovery fails is a fault-recovery violation.
func runFaults(s soakInjector, plan []fault, res *resources, log *soakLog) {
	p := s.procs()
	var wg sync.WaitGroup
	for _, f := range plan {
		time.Sleep(f.Gap)
		names := s.resourcesOf(f)
		if !f.Overlap || !res.tryTake(names...) {
			wg.Wait()
			res.take(names...)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer res.give(names...)
			win := log.begin(f)
			p.notef("begin %s", f)
			if err := s.inject(f); err != nil {
				log.violate("fault-recovery", time.Now(), fmt.Sprintf("%s: %v", f, err))
			}
			log.end(win)
			p.notef("end #%d", f.N)
		}()
	}
	wg.Wait()
}
