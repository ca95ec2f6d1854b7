package api

import "sort"

// FarmService is one configured service with its realservers, joining
// what the health checks say and what the kernel holds: the row layout of
// the status page and of `lvsd status`.
type FarmService struct {
	Name    string
	Virtual string
	// Kernel is the service in the IPVS table; nil when it is not there.
	Kernel *ServiceStatus
	Reals  []FarmReal
}

// FarmReal is one realserver of a FarmService.
type FarmReal struct {
	Health Real
	// Kernel is the destination in the IPVS table; nil when it is not
	// there (down, or the service is missing).
	Kernel *RealStatus
}

// Farm joins s.Health and s.IPVS by service, in the order of s.Health
// (service name, then realserver).
func (s Status) Farm() []FarmService {
	byKey := make(map[string]*ServiceStatus, len(s.IPVS.Services))
	for i := range s.IPVS.Services {
		byKey[s.IPVS.Services[i].Key] = &s.IPVS.Services[i]
	}
	var out []FarmService
	for _, h := range s.Health {
		if len(out) == 0 || out[len(out)-1].Name != h.Service {
			out = append(out, FarmService{Name: h.Service, Virtual: h.Virtual, Kernel: byKey[h.Virtual]})
		}
		fs := &out[len(out)-1]
		fr := FarmReal{Health: h}
		if fs.Kernel != nil {
			addr := h.Real.String()
			for i := range fs.Kernel.Reals {
				if fs.Kernel.Reals[i].Addr == addr {
					fr.Kernel = &fs.Kernel.Reals[i]
					break
				}
			}
		}
		fs.Reals = append(fs.Reals, fr)
	}
	return out
}

// Counts tells how many realservers of the service are in each state.
func (f FarmService) Counts() map[HealthState]int {
	m := map[HealthState]int{}
	for _, r := range f.Reals {
		m[r.Health.State]++
	}
	return m
}

// UpCount is how many realservers are up by their checks (going down
// included: still in service) and not drained.
func (f FarmService) UpCount() int {
	n := 0
	for _, r := range f.Reals {
		if r.Health.Up && !r.Health.Drained {
			n++
		}
	}
	return n
}

// SortEvents orders events oldest first and keeps the last n.
func SortEvents(ev []Event, n int) []Event {
	sort.SliceStable(ev, func(i, j int) bool { return ev[i].At.Before(ev[j].At) })
	if len(ev) > n {
		ev = ev[len(ev)-n:]
	}
	return ev
}
