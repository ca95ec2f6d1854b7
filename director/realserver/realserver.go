package realserver

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strings"
)

// System is the host: its interfaces and addresses (netlink) and its
// sysctls (/proc/sys). Tests give a fake.
type System interface {
	Links() (map[string]Link, error)
	Addrs() (map[string][]netip.Prefix, error)
	// DefaultLink is the interface of the IPv4 default route, "" if none.
	DefaultLink() (string, error)
	// ReadSysctl returns the value under /proc/sys/name, or an error
	// wrapping fs.ErrNotExist when there is no such setting.
	ReadSysctl(name string) (string, error)
	WriteSysctl(name, value string) error
	// AddLink creates an interface of the kind; created is false when
	// one of that name appeared meanwhile (loading the ipip module
	// creates tunl0 by itself).
	AddLink(name, kind string) (created bool, err error)
	DelLink(name string) error
	SetLinkUp(name string, up bool) error
	AddAddr(link string, p netip.Prefix) error
	DelAddr(link string, p netip.Prefix) error
}

// Read takes a snapshot of what the setup for o depends on, and of the
// sysctls named in extra.
func Read(sys System, o Options, extra ...string) (Current, error) {
	var cur Current
	var err error
	if cur.Links, err = sys.Links(); err != nil {
		return cur, fmt.Errorf("list interfaces: %w", err)
	}
	if cur.Addrs, err = sys.Addrs(); err != nil {
		return cur, fmt.Errorf("list addresses: %w", err)
	}
	if cur.DefaultLink, err = sys.DefaultLink(); err != nil {
		return cur, fmt.Errorf("default route: %w", err)
	}
	names := extra
	if len(o.VIPs) > 0 {
		arpIf, err := o.arpIface(cur)
		if err != nil {
			return cur, err
		}
		for _, w := range wantedSysctls(o, arpIf) {
			names = append(names, w.name)
		}
	}
	cur.Sysctls = map[string]string{}
	for _, n := range names {
		v, err := sys.ReadSysctl(n)
		switch {
		case errors.Is(err, fs.ErrNotExist): // its interface does not exist (yet)
		case err != nil:
			return cur, fmt.Errorf("sysctl %s: %w", dotted(n), err)
		default:
			cur.Sysctls[n] = strings.TrimSpace(v)
		}
	}
	return cur, nil
}

// Check returns what is missing or wrong for o: the changes Up would
// make and the problems it would refuse to work around.
func Check(sys System, o Options) ([]Change, []Problem, error) {
	cur, err := Read(sys, o)
	if err != nil {
		return nil, nil, err
	}
	links, lps := PlanLinks(o, cur)
	cfg, cps, err := PlanConfig(o, cur)
	if err != nil {
		return nil, nil, err
	}
	return append(links, cfg...), append(lps, cps...), nil
}

// Up makes the changes o needs, recording each in the state file at path
// as soon as it is made, and returns them. It changes nothing when the
// host has a problem it cannot fix (a VIP on an interface that answers
// ARP for it); run again, it finds nothing to do.
func Up(sys System, o Options, path string) ([]Change, error) {
	if len(o.VIPs) == 0 {
		return nil, errors.New("realserver up: no VIP given")
	}
	if _, problems, err := Check(sys, o); err != nil {
		return nil, err
	} else if len(problems) > 0 {
		return nil, fmt.Errorf("realserver up: nothing changed:\n%s", joinProblems(problems))
	}
	st, err := LoadState(path)
	if err != nil {
		return nil, err
	}
	st.Options = o
	steps := []func(Current) ([]Change, error){
		func(cur Current) ([]Change, error) { c, _ := PlanLinks(o, cur); return c, nil },
		// Planned once the links exist: their sysctls exist from then on.
		func(cur Current) ([]Change, error) { c, _, err := PlanConfig(o, cur); return c, err },
	}
	var made []Change
	for _, plan := range steps {
		cur, err := Read(sys, o)
		if err != nil {
			return made, err
		}
		cs, err := plan(cur)
		if err != nil {
			return made, err
		}
		for _, c := range cs {
			recorded, err := apply(sys, c)
			if err != nil {
				return made, fmt.Errorf("realserver up: %s: %w", c, err)
			}
			if !recorded {
				continue
			}
			made, st.Changes = append(made, c), append(st.Changes, c)
			if err := st.save(path); err != nil {
				return made, fmt.Errorf("realserver up: record %s in %s: %w", c, path, err)
			}
		}
	}
	return made, st.save(path)
}

// Down undoes what the state file at path records, newest first, and
// removes the file. It returns what it undid and notes on what it left.
func Down(sys System, path string) ([]Change, []string, error) {
	st, err := LoadState(path)
	if err != nil {
		return nil, nil, err
	}
	cur, err := Read(sys, Options{}, st.undoSysctls()...)
	if err != nil {
		return nil, nil, err
	}
	plan, notes := PlanUndo(st, cur)
	for i, c := range plan {
		if _, err := apply(sys, c); err != nil {
			return plan[:i], notes, fmt.Errorf("realserver down: %s: %w (the record in %s is kept)", c, err, path)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return plan, notes, err
	}
	return plan, notes, nil
}

// apply makes one change; recorded is false for a change that turned
// out to be the kernel's own (tunl0 appearing with its module).
func apply(sys System, c Change) (recorded bool, err error) {
	switch c.Kind {
	case AddLink:
		return sys.AddLink(c.Link, c.LinkKind)
	case DelLink:
		return true, sys.DelLink(c.Link)
	case LinkUp, LinkDown:
		return true, sys.SetLinkUp(c.Link, c.Kind == LinkUp)
	case SetSysctl:
		return true, sys.WriteSysctl(c.Sysctl, c.New)
	case AddAddr:
		return true, sys.AddAddr(c.Link, c.Addr)
	case DelAddr:
		return true, sys.DelAddr(c.Link, c.Addr)
	}
	return false, fmt.Errorf("unknown change %q", c.Kind)
}

func joinProblems(ps []Problem) string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = "  " + string(p)
	}
	return strings.Join(lines, "\n")
}
