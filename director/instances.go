package director

import (
	"context"
	"sync"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/notify"
	"github.com/lvsd/lvsd/vrrp"
)

// instanceConfig converts a configured instance into what vrrp runs.
func instanceConfig(in config.Instance) vrrp.InstanceConfig {
	c := vrrp.InstanceConfig{
		Name: in.Name, Interface: in.Interface, VRID: in.VRID, Priority: in.Priority, Version: in.Version,
		AdvertInterval: in.AdvertInterval, Preempt: in.Preempt, PreemptDelay: in.PreemptDelay,
		AuthPass: in.AuthPass, VIPs: in.VIPs, VirtualMAC: in.VirtualMAC,
		Announce: vrrp.AnnounceConfig{Repeat: in.Announce.Repeat, Interval: in.Announce.Interval, Refresh: in.Announce.Refresh},
		Handover: vrrp.Handover{OnStop: in.Handover.OnStop, Timeout: in.Handover.Timeout},
	}
	if in.Unicast != nil {
		c.Unicast = vrrp.Unicast{Source: in.Unicast.Source, Peers: in.Unicast.Peers}
	}
	for _, p := range in.Paths {
		vp := vrrp.Path{Interface: p.Interface}
		if p.Unicast != nil {
			vp.Unicast = vrrp.Unicast{Source: p.Unicast.Source, Peers: p.Unicast.Peers}
		}
		c.Paths = append(c.Paths, vp)
	}
	switch in.Checksum {
	case "no-pseudo-header":
		c.ChecksumMode = vrrp.ChecksumNoPseudoHeader
	case "legacy-unicast":
		c.ChecksumMode = vrrp.ChecksumLegacyUnicast
	}
	for _, t := range in.TrackIfaces {
		c.TrackInterfaces = append(c.TrackInterfaces, vrrp.TrackInterface{Name: t.Name, Weight: t.Weight})
	}
	for _, t := range in.TrackScripts {
		c.TrackScripts = append(c.TrackScripts, vrrp.TrackScript{Name: t.Name, Command: t.Command,
			Interval: t.Interval, Timeout: t.Timeout, Weight: t.Weight, Rise: t.Rise, Fall: t.Fall})
	}
	return c
}

// vrrpSet is the running VRRP instances of the daemon.
type vrrpSet struct {
	nodes  []*vrrp.Node
	byName map[string]*vrrp.Node
	prio   map[string]uint8 // configured priorities, for --restore
	// groupOf names, for each instance in a group, the group's members
	// (itself included): a switchover moves them together.
	groupOf map[string][]string
	done    chan struct{} // closed when every node's Run has returned
	errs    []error
}

// startVRRP builds a Node per instance and a Group per group and runs
// them until ctx is done. Every transition goes to the notify hooks and
// wakes changed (the sync follower); neither blocks the node.
// vrrpEvents wake the follower (see follower.run); each holds one
// pending wake-up, so the VRRP nodes never block on it.
type vrrpEvents struct {
	changed    chan struct{} // a transition
	healed     chan struct{} // a master announced again at a split brain's heal
	conflicted chan struct{} // a master saw another host claim its VIP
}

func newVRRPEvents() vrrpEvents {
	return vrrpEvents{changed: make(chan struct{}, 1), healed: make(chan struct{}, 1), conflicted: make(chan struct{}, 1)}
}

// wake sends on c without blocking.
func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (d *Director) startVRRP(ctx context.Context, cfg *config.Config, ev vrrpEvents) (*vrrpSet, error) {
	set := &vrrpSet{byName: map[string]*vrrp.Node{}, prio: map[string]uint8{}, groupOf: map[string][]string{},
		done: make(chan struct{})}
	for _, in := range cfg.Instances {
		var n *vrrp.Node
		onTransition := func(tr vrrp.Transition) {
			wake(ev.changed)
			d.notify.Notify(notify.Event{Kind: "vrrp", Node: cfg.Node, At: tr.Time, Instance: in.Name, VRID: in.VRID,
				From: tr.From.String(), State: tr.To.String(), Priority: n.Status().Priority, Reason: tr.Reason})
		}
		var err error
		n, err = vrrp.NewNode(instanceConfig(in), vrrp.Deps{Log: d.log.WithField("part", "vrrp"),
			OnTransition: onTransition, OnReannounce: func() { wake(ev.healed) }, OnConflict: func() { wake(ev.conflicted) },
			ListenOnly: d.mode == ModeDryRun, RTPriority: cfg.RTPriority})
		if err != nil {
			return nil, err
		}
		set.nodes = append(set.nodes, n)
		set.byName[in.Name], set.prio[in.Name] = n, in.Priority
	}
	for _, g := range cfg.Groups {
		var members []*vrrp.Node
		for _, name := range g.Instances {
			members = append(members, set.byName[name])
			set.groupOf[name] = g.Instances
		}
		if _, err := vrrp.NewGroup(g.Name, members...); err != nil {
			return nil, err
		}
	}
	set.setAnnounceOrder(cfg)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, n := range set.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Run(ctx); err != nil {
				mu.Lock()
				set.errs = append(set.errs, err)
				mu.Unlock()
				d.log.WithError(err).Error("vrrp instance stopped")
			}
		}()
	}
	go func() { wg.Wait(); close(set.done) }()
	return set, nil
}

// resigning reports whether any instance is handing its addresses over
// (lvsd switchover, or a graceful stop).
func (s *vrrpSet) resigning() bool {
	for _, n := range s.nodes {
		if n.Status().State == vrrp.Resigning {
			return true
		}
	}
	return false
}

// holdsVIPs reports whether any instance holds its addresses.
func (s *vrrpSet) holdsVIPs() bool {
	for _, n := range s.nodes {
		if n.Status().State.HoldsVIPs() {
			return true
		}
	}
	return false
}
