package config

import (
	"slices"
	"time"
)

// Track weights follow keepalived: -254..254, so a weight can move any
// priority across any other but never to 0 or 255 by itself.
const maxTrackWeight = 254

func resolveTrack(p string, raw rawTrack, r reporter) ([]TrackInterface, []TrackScript) {
	var ifs []TrackInterface
	for i, t := range raw.Interfaces {
		tp := idx(p+".track.interfaces", i)
		if t.Name == "" {
			r.at(tp, "name is required")
		}
		inRange(r, tp+".weight", t.Weight, -maxTrackWeight, maxTrackWeight)
		ifs = append(ifs, TrackInterface(t))
	}
	var scripts []TrackScript
	for i, t := range raw.Scripts {
		tp := idx(p+".track.scripts", i)
		s := TrackScript{
			Name: t.Name, Command: t.Command, Weight: t.Weight,
			Interval: durOr(t.Interval, 2*time.Second), Rise: intOr(t.Rise, 1), Fall: intOr(t.Fall, 1),
		}
		s.Timeout = durOr(t.Timeout, s.Interval)
		if s.Name == "" {
			r.at(tp, "name is required")
		}
		if len(s.Command) == 0 || s.Command[0] == "" {
			r.at(tp, "command is required: the program and its arguments, as a list")
		}
		checkTiming(r, tp, s.Interval, s.Timeout)
		inRange(r, tp+".weight", s.Weight, -maxTrackWeight, maxTrackWeight)
		inRange(r, tp+".rise", s.Rise, 1, 100)
		inRange(r, tp+".fall", s.Fall, 1, 100)
		scripts = append(scripts, s)
	}
	return ifs, scripts
}

// checkTiming refuses a timeout longer than the interval: the next run
// would start while the last is still waiting.
func checkTiming(r reporter, p string, interval, timeout time.Duration) {
	if interval < 10*time.Millisecond {
		r.at(p+".interval", "%v is below the 10ms minimum", interval)
	}
	if timeout <= 0 {
		r.at(p+".timeout", "must be greater than zero")
	} else if timeout > interval {
		r.at(p+".timeout", "%v is longer than the interval %v", timeout, interval)
	}
}

func resolveGroups(raws []rawGroup, ins []Instance, r reporter) []Group {
	var out []Group
	member := map[string]string{}
	for i, g := range raws {
		gp := idx("vrrp.groups", i)
		if g.Name == "" {
			r.at(gp, "name is required")
		}
		if len(g.Instances) < 2 {
			r.at(gp, "a group needs at least two instances")
		}
		for j, name := range g.Instances {
			jp := idx(gp+".instances", j)
			if !slices.ContainsFunc(ins, func(in Instance) bool { return in.Name == name }) {
				r.at(jp, "no vrrp instance is named %q", name)
			} else if other, dup := member[name]; dup {
				r.at(jp, "instance %q is already in group %q", name, other)
			}
			member[name] = g.Name
		}
		out = append(out, Group(g))
	}
	return out
}

// checkOwner enforces RFC 5798 §6.1: priority 255 belongs to the router
// that owns the virtual addresses, i.e. has them on the interface as its
// own. The check needs the interface; where it is absent (validating on
// another machine) it becomes a warning.
func checkOwner(p string, in Instance, host Host, r reporter, warn *[]string) {
	if in.Interface == "" {
		return
	}
	addrs, ok := host.InterfaceAddrs(in.Interface)
	if !ok {
		*warn = append(*warn, "interface "+in.Interface+" of instance "+in.Name+
			" is not on this host: its host checks were skipped")
		return
	}
	if in.Priority != 255 {
		return
	}
	for _, v := range in.VIPs {
		if !slices.Contains(addrs, v.Addr()) {
			r.at(p+".priority", "255 is for the address owner, but %v is not an address of %s (RFC 5798 §6.1)",
				v.Addr(), in.Interface)
		}
	}
}
