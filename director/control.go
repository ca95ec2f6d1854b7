package director

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/lvsd/lvsd/director/api"
)

var errUnknownCmd = errors.New("unknown command")

// handle answers the control socket: it decodes a request's arguments
// into the operator API's types and calls the engine. The types live in
// package api; the dispatch stays here, where the engine is.
func (d *Director) handle(ctx context.Context, req api.Request) (any, error) {
	switch req.Cmd {
	case api.CmdStatus:
		return d.Status(ctx), nil
	case api.CmdReload:
		return d.Reload(ctx)
	case api.CmdDiff:
		return d.Diff(ctx)
	case api.CmdSwitchover:
		var a api.SwitchoverArgs
		if len(req.Args) > 0 {
			if err := json.Unmarshal(req.Args, &a); err != nil {
				return nil, fmt.Errorf("switchover: %w", err)
			}
		}
		return d.Switchover(ctx, a)
	case api.CmdDrain:
		var a api.DrainArgs
		if err := json.Unmarshal(req.Args, &a); err != nil {
			return nil, fmt.Errorf("drain: %w", err)
		}
		return nil, d.Drain(a)
	}
	return nil, fmt.Errorf("%w %q (have: %s)", errUnknownCmd, req.Cmd, strings.Join(api.Commands, ", "))
}
