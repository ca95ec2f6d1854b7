package director

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
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
	if _, ok := d.vrrp.byName[a.Instance]; a.Instance != "" && !ok {
		return res, fmt.Errorf("no vrrp instance named %q", a.Instance)
	}
	names := slices.Sorted(maps.Keys(d.vrrp.byName))
	holds := func(name string) bool { return d.vrrp.byName[name].Status().State.HoldsVIPs() }
	act, idle := switchTargets(names, d.vrrp.groupOf, holds, a.Instance, a.Restore)
	var errs []error
	for _, name := range act {
		res.Instances[name] = d.switchOne(ctx, name, d.vrrp.byName[name], a.Restore, &errs)
	}
	for _, name := range idle {
		res.Instances[name] = "not master here: nothing to hand over"
	}
	return res, errors.Join(errs...)
}

// switchTargets splits the instances a switchover names (only, or all)
// into those it acts on and those it leaves alone. A switchover acts on
// the instances that hold their VIPs and on every member of their groups:
// a group moves as one, so a member that followed it to Backup before its
// own turn came must still get priority 1, or it preempts back at once
// with its configured priority and the group flaps (seen in the VM: the
// NAT pair's gateway instance, handed over by the group while the front
// one resigned, kept 150 and took the pair back within a second, over and
// over). A restore acts on the named instances and their groups' members,
// so no group is left with two priorities.
func switchTargets(names []string, groupOf map[string][]string, holds func(string) bool, only string, restore bool) (act, idle []string) {
	named := names
	if only != "" {
		named = []string{only}
	}
	in := map[string]bool{}
	for _, name := range named {
		if restore || holds(name) {
			in[name] = true
			for _, mate := range groupOf[name] {
				in[mate] = true
			}
		}
	}
	for _, name := range named {
		if !in[name] {
			idle = append(idle, name)
		}
	}
	return slices.Sorted(maps.Keys(in)), idle
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
	if errors.Is(err, vrrp.ErrNotMaster) {
		// A group member that followed its group to Backup meanwhile:
		// nothing left to hand over, but its priority goes down with
		// the group's (see switchTargets).
		if perr := n.SetPriority(ctx, 1); perr != nil {
			*errs = append(*errs, perr)
			return "error: " + perr.Error()
		}
		d.log.WithFields(logrus.Fields{"instance": name}).Info("switchover: handed over with its group; priority now 1")
		return "handed over with its group; priority now 1 (lvsd switchover --restore gives it back)"
	}
	// A resign that timed out or that a fault ended (its link went down
	// meanwhile) has still released the VIPs: the peer holds them, if
	// not gracefully, and the priority goes to 1 all the same, so that
	// this node does not take them back once its link returns, as the
	// operator who asked to move them away expects.
	switch {
	case err != nil && !errors.Is(err, vrrp.ErrResignTimeout) && !errors.Is(err, vrrp.ErrResignFault):
		*errs = append(*errs, err)
		return "error: " + err.Error()
	}
	if perr := n.SetPriority(ctx, 1); perr != nil {
		*errs = append(*errs, perr)
	}
	st := n.Status()
	msg := fmt.Sprintf("handed over to %v in %v; priority now 1 (lvsd switchover --restore gives it back)",
		st.Master, time.Since(start).Round(time.Millisecond))
	switch {
	case errors.Is(err, vrrp.ErrResignFault):
		msg = "a fault ended the handover (" + err.Error() + "); VIPs released; priority now 1"
	case err != nil:
		msg = "no new master heard before the timeout; VIPs released anyway; priority now 1"
	}
	d.log.WithFields(logrus.Fields{"instance": name}).Info("switchover: " + msg)
	return msg
}
