package ipvs

import (
	"fmt"
	"strings"

	"github.com/lvsd/lvsd/director/config"
)

// Sysctls reads and writes kernel settings by their /proc/sys path.
type Sysctls interface {
	Get(path string) (string, error)
	Set(path, value string) error
}

// Requirement is a kernel setting a configuration needs.
type Requirement struct {
	Path  string // under /proc/sys, e.g. net/ipv4/ip_forward
	Want  string
	Have  string // "" when unreadable
	Why   string
	Fixed bool // set by lvsd (director.set_sysctls)
}

func (r Requirement) String() string {
	return fmt.Sprintf("%s is %q, needs %q: %s", strings.ReplaceAll(r.Path, "/", "."), r.Have, r.Want, r.Why)
}

// needs lists the settings the configuration's forwarding modes require.
func needs(cfg *config.Config) []Requirement {
	var nat4, nat6, persistent bool
	for _, s := range cfg.Services {
		persistent = persistent || s.Persistence != nil
		for _, r := range s.Reals {
			if r.Forward == config.NAT {
				nat4 = nat4 || !s.IPv6
				nat6 = nat6 || s.IPv6
			}
		}
	}
	var out []Requirement
	if len(cfg.Services) > 0 {
		// The kernel's default (0) drops, silently and until the entry
		// times out, every packet of a connection whose realserver left
		// the table, and so every new connection whose client address and
		// port are those of such an entry (a client reuses its ports
		// within IPVS's two-minute TIME_WAIT, and a DR director sees only
		// the client's half, so many entries end in FIN_WAIT or
		// ESTABLISHED). Seen in the VM end-to-end test: after a dead
		// realserver was removed, about one new connection in four lost
		// its SYN and every retry. At 1 the kernel expires such an entry
		// at its next packet and schedules a new connection afresh
		// (ip_vs_in_hook), and since 5.9 flushes a removed realserver's
		// entries; a realserver at weight 0 (drained, quiescent) is still
		// in the table, so its established connections go on.
		out = append(out, Requirement{Path: "net/ipv4/vs/expire_nodest_conn", Want: "1",
			Why: "new connections that reuse the client port of a removed realserver's connection are scheduled, not dropped until it times out"})
	}
	if persistent {
		// lvsd takes a realserver out of service by weight 0 when it is
		// drained, or down with quiescent: its connections go on. But the
		// kernel's default (0) also keeps every persistence template that
		// points at it, and sends each of those clients' new connections
		// there until the template times out (persistence.timeout, 300 s
		// by default): a drained server keeps getting new work, a dead
		// quiescent one fails it. At 1 a template whose realserver has
		// weight 0 expires at the client's next connection, which is
		// scheduled afresh (ip_vs_check_template). keepalived's manual
		// asks for the same.
		out = append(out, Requirement{Path: "net/ipv4/vs/expire_quiescent_template", Want: "1",
			Why: "a persistent client's new connections leave a drained or quiescent realserver instead of following its template there"})
	}
	if nat4 {
		out = append(out, Requirement{Path: "net/ipv4/ip_forward", Want: "1",
			Why: "NAT realservers' replies are routed back through the director"})
	}
	if nat6 {
		out = append(out, Requirement{Path: "net/ipv6/conf/all/forwarding", Want: "1",
			Why: "NAT realservers' replies are routed back through the director"})
	}
	if (nat4 || nat6) && cfg.Sync != nil {
		out = append(out, Requirement{Path: "net/ipv4/vs/conntrack", Want: "1",
			Why: "synced NAT connections need netfilter conntrack entries on the new master"})
	}
	return out
}

// CheckPrerequisites returns the requirements of cfg that the kernel does
// not meet. With cfg.Director.SetSysctls it sets them first, and returns
// only those it could not set.
func CheckPrerequisites(cfg *config.Config, sys Sysctls) []Requirement {
	var unmet []Requirement
	for _, r := range needs(cfg) {
		r.Have, _ = sys.Get(r.Path)
		if r.Have == r.Want {
			continue
		}
		if cfg.Director.SetSysctls {
			if err := sys.Set(r.Path, r.Want); err == nil {
				r.Fixed = true
				continue
			}
		}
		unmet = append(unmet, r)
	}
	return unmet
}

// ReadOnly wraps s so that nothing is ever written (`lvsd run --dry-run`).
func ReadOnly(s Sysctls) Sysctls { return readOnly{s} }

type readOnly struct{ Sysctls }

func (readOnly) Set(path, _ string) error { return fmt.Errorf("dry run: %s not written", path) }
