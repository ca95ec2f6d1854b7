package config

import (
	"fmt"
	"io"
	"strings"
)

// WriteSummary prints a one-screen overview of a valid configuration, for
// `lvsd validate`: what the node will announce and what it will balance.
func (c *Config) WriteSummary(w io.Writer) {
	reals := 0
	for _, s := range c.Services {
		reals += len(s.Reals)
	}
	fmt.Fprintf(w, "%s: valid (node %s)\n", c.MainFile, c.Node)
	fmt.Fprintf(w, "vrrp instances: %d\n", len(c.Instances))
	for _, in := range c.Instances {
		mode := "multicast"
		if in.Unicast != nil {
			mode = fmt.Sprintf("unicast to %d peer(s)", len(in.Unicast.Peers))
		}
		vips := make([]string, len(in.VIPs))
		for i, v := range in.VIPs {
			vips[i] = v.String()
		}
		fmt.Fprintf(w, "  %-12s %s vrid %d prio %d v%d every %v, %s, preempt %v: %s\n",
			in.Name, in.Interface, in.VRID, in.Priority, in.Version, in.AdvertInterval, mode, in.Preempt,
			strings.Join(vips, " "))
	}
	for _, g := range c.Groups {
		fmt.Fprintf(w, "  group %s: %s\n", g.Name, strings.Join(g.Instances, ", "))
	}
	fmt.Fprintf(w, "services: %d, realservers: %d (from %s)\n", len(c.Services), reals, c.ServicesDir)
	for _, s := range c.Services {
		extra := ""
		if s.Persistence != nil {
			extra += fmt.Sprintf(" persistent %v", s.Persistence.Timeout)
		}
		if s.Quiescent {
			extra += " quiescent"
		}
		if s.Sorry.IsValid() {
			extra += " sorry " + s.Sorry.String()
		}
		fmt.Fprintf(w, "  %-12s %s %s %s check %s, %d real(s)%s\n",
			s.Name, serviceKey(s), s.Scheduler, s.Forward, s.Check.Type, len(s.Reals), extra)
	}
	for _, warn := range c.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}
