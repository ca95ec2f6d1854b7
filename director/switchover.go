package director

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/vrrp"
)

// Switchover hands this node's master instances over to the peer without
// loss (resign: priority 0 advertised, VIPs kept until the new master is
// heard), then drops their priority to 1 so that preemption does not take
// them back; Restore gives the configured priorities back.
func (d *Director) Switchover(ctx context.Context, a api.SwitchoverArgs) (api.SwitchoverResult, error) {
	res := api.SwitchoverResult{Instances: map[string]string{}}
	if d.vrrp == nil || len(d.vrrp.nodes) == 0 {
		return res, errors.New("no vrrp instances configured")
	}
	var errs []error
	for name, n := range d.vrrp.byName {
		if a.Instance != "" && name != a.Instance {
			continue
		}
		res.Instances[name] = d.switchOne(ctx, name, n, a.Restore, &errs)
	}
	if len(res.Instances) == 0 {
		return res, fmt.Errorf("no vrrp instance named %q", a.Instance)
	}
	return res, errors.Join(errs...)
}

func (d *Director) switchOne(ctx context.Context, name string, n *vrrp.Node, restore bool, errs *[]error) string {
	if restore {
		if err := n.SetPriority(ctx, d.vrrp.prio[name]); err != nil {
			*errs = append(*errs, err)
			return "error: " + err.Error()
		}
		return fmt.Sprintf("priority %d restored", d.vrrp.prio[name])
	}
	start := time.Now()
	err := n.Switchover(ctx)
	switch {
	case errors.Is(err, vrrp.ErrNotMaster):
		return "not master here: nothing to hand over"
	case err != nil && !errors.Is(err, vrrp.ErrResignTimeout):
		*errs = append(*errs, err)
		return "error: " + err.Error()
	}
	if perr := n.SetPriority(ctx, 1); perr != nil {
		*errs = append(*errs, perr)
	}
	st := n.Status()
	msg := fmt.Sprintf("handed over to %v in %v; priority now 1 (lvsd switchover --restore gives it back)",
		st.Master, time.Since(start).Round(time.Millisecond))
	if err != nil {
		msg = "no new master heard before the timeout; VIPs released anyway; priority now 1"
	}
	d.log.WithFields(logrus.Fields{"instance": name}).Info("switchover: " + msg)
	return msg
}
