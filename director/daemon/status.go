package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/lvsd/lvsd/director/control"
)

// Status is what `lvsd status` shows of the daemon itself.
type Status struct {
	Node       string        `json:"node"`
	Version    string        `json:"version"`
	Config     string        `json:"config"`
	StartedAt  time.Time     `json:"started_at"`
	Generation int           `json:"generation"`
	LoadedAt   time.Time     `json:"loaded_at"`
	Instances  int           `json:"instances"`
	Services   int           `json:"services"`
	Reals      int           `json:"reals"`
	LastReload *ReloadResult `json:"last_reload,omitempty"`
}

// Status returns a snapshot; it is safe from any goroutine.
func (d *Daemon) Status() Status {
	cur := d.Current()
	s := Status{
		Node: cur.Config.Node, Version: d.version, Config: d.path, StartedAt: d.started,
		Generation: cur.Generation, LoadedAt: cur.At,
		Instances: len(cur.Config.Instances), Services: len(cur.Config.Services),
	}
	for _, svc := range cur.Config.Services {
		s.Reals += len(svc.Reals)
	}
	d.mu.Lock()
	s.LastReload = d.last
	d.mu.Unlock()
	return s
}

// handle answers the control socket.
func (d *Daemon) handle(ctx context.Context, req control.Request) (any, error) {
	switch req.Cmd {
	case "status":
		return d.Status(), nil
	case "reload":
		return d.Reload(ctx)
	}
	return nil, fmt.Errorf("%w %q (have: status, reload)", errUnknownCmd, req.Cmd)
}
