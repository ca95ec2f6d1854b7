package director

import (
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
