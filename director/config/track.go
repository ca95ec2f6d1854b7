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
			r.at(tp+".name", "required: the interface to watch")
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
			r.at(tp+".name", "required: names the script in logs and status")
		}
		if len(s.Command) == 0 || s.Command[0] == "" {
			r.at(tp+".command", "required: the program and its arguments, as a list")
		}
		checkTiming(r, tp, s.Interval, s.Timeout)
		inRange(r, tp+".weight", s.Weight, -maxTrackWeight, maxTrackWeight)
		inRange(r, tp+".rise", s.Rise, 1, 100)
		inRange(r, tp+".fall", s.Fall, 1, 100)
		scripts = append(scripts, s)
	}
	return ifs, scripts
}

// checkTiming bounds the interval of a periodic probe and refuses a
// timeout longer than the interval: the next run would start while the
// last is still waiting.
func checkTiming(r reporter, p string, interval, timeout time.Duration) {
	durRange(r, p+".interval", interval, 10*time.Millisecond, time.Hour)
	if timeout <= 0 {
		r.at(p+".timeout", "%s out of range: above 0s, at most the interval %s", shortDur(timeout), shortDur(interval))
	} else if timeout > interval {
		r.at(p+".timeout", "%s is longer than the interval %s", shortDur(timeout), shortDur(interval))
	}
}

func resolveGroups(raws []rawGroup, ins []Instance, r reporter) []Group {
	var out []Group
	member := map[string]string{}
	for i, g := range raws {
		gp := idx("vrrp.groups", i)
		if g.Name == "" {
			r.at(gp+".name", "required: names the group in logs and status")
		}
		if len(g.Instances) < 2 {
			r.at(gp+".instances", "a group needs at least two instances")
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
func checkOwner(p string, in Instance, host Host, r reporter) {
	if in.Interface == "" {
		return
	}
	addrs, ok := host.InterfaceAddrs(in.Interface)
	if !ok {
		r.warn(p+".interface", "%s is not on this host: the host checks of instance %q were skipped", in.Interface, in.Name)
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
