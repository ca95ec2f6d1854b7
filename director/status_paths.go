package director

import (
	"time"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/vrrp"
)

// heartbeatPaths converts an instance's heartbeat paths for the status;
// nil for an instance with its own interface only.
func heartbeatPaths(ps []vrrp.PathStatus) []api.HeartbeatPath {
	if len(ps) < 2 {
		return nil
	}
	out := make([]api.HeartbeatPath, len(ps))
	for i, p := range ps {
		out[i] = api.HeartbeatPath{Interface: p.Interface, Source: p.Source, LastAdvert: p.LastAdvert,
			Silent: p.Silent, Silences: p.Silences}
	}
	return out
}

// advertLateness converts an instance's advert lateness for the status;
// nil before any timed advert.
func advertLateness(l vrrp.Lateness) *api.AdvertLateness {
	if l.Count == 0 {
		return nil
	}
	out := &api.AdvertLateness{Count: l.Count, Sum: l.Sum, Max: l.Max, P50: l.Quantile(0.5), P99: l.Quantile(0.99)}
	for i, n := range l.Buckets {
		var le time.Duration
		if i < len(vrrp.LatenessBounds) {
			le = vrrp.LatenessBounds[i]
		}
		out.Buckets = append(out.Buckets, api.LatenessCount{LE: le, Count: n})
	}
	return out
}
