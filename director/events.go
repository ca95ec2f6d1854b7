package director

import (
	"slices"
	"sync"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/healthcheck"
)

// maxEvents is how many state changes the status page lists.
const maxEvents = 20

// events keeps the last realserver transitions; the VRRP nodes keep
// their own, and Status merges the two.
type events struct {
	mu   sync.Mutex
	last []api.Event
}

func (e *events) health(ev healthcheck.Event) {
	from, to := "up", "down"
	if ev.Up {
		from, to = "down", "up"
	}
	reason := ev.Detail
	if ev.Reason != "" {
		reason = string(ev.Reason) + ": " + ev.Detail
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.last) == maxEvents {
		e.last = slices.Delete(e.last, 0, 1)
	}
	e.last = append(e.last, api.Event{At: ev.At, Kind: "realserver", Subject: ev.Service + " " + ev.Real.String(),
		From: from, To: to, Reason: reason})
}

// merged returns the last maxEvents changes of realservers and of the
// instances in vs, oldest first.
func (e *events) merged(vs []api.Instance) []api.Event {
	e.mu.Lock()
	out := slices.Clone(e.last)
	e.mu.Unlock()
	for _, v := range vs {
		for _, t := range v.Transitions {
			out = append(out, api.Event{At: t.At, Kind: "vrrp", Subject: v.Name, From: string(t.From), To: string(t.To), Reason: t.Reason})
		}
	}
	return api.SortEvents(out, maxEvents)
}
