// Package keepalived translates a keepalived.conf into lvsd's
// configuration: vrrp_instance and vrrp_sync_group into the main file,
// each virtual_server (or each member of a virtual_server_group) into a
// service file, lvs_sync_daemon into sync. Every directive is either
// translated or reported as a finding with its file and line; nothing is
// dropped silently. The meaning of each directive and its default follow
// keepalived 2.2 (keepalived.conf(5) and its parser).
package keepalived

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/lvsd/lvsd/director/migrate"
	"github.com/lvsd/lvsd/director/migrate/kaconf"
)

// Options tune Import.
type Options struct {
	// ConfigID selects the "@ID" lines (keepalived -i). Empty means the
	// first label of the host name, keepalived's default.
	ConfigID string
}

// DefaultConfigID is keepalived's default config id: the host name up to
// its first dot.
func DefaultConfigID() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(h, ".")
	return first
}

// Import reads the keepalived configuration at path and translates it.
func Import(path string, opts Options) (migrate.Result, error) {
	if opts.ConfigID == "" {
		opts.ConfigID = DefaultConfigID()
	}
	nodes, probs, err := kaconf.Parse(path, kaconf.Options{ConfigID: opts.ConfigID})
	if err != nil {
		return migrate.Result{}, err
	}
	t := newTranslator()
	for _, p := range probs {
		t.res.Findings.Add(p.File, p.Line, "(grammar)", false, p.Msg, "keepalived reports it too; the rest of the file was read")
	}
	t.run(nodes)
	return t.res, nil
}

// translator holds the state of one import.
type translator struct {
	res     migrate.Result
	handled map[*kaconf.Node]bool
	scripts map[string]*kaconf.Node // vrrp_script by name
	groups  map[string]*kaconf.Node // virtual_server_group by name
	global  globals
	vrids   map[string]int // instance name → vrid, for lvs_sync_daemon
	names   map[string]bool

	scriptCache   map[string]scriptResult
	pendingGroups []pendingGroup
	seen          map[string]bool
}

func newTranslator() *translator {
	return &translator{
		handled: map[*kaconf.Node]bool{}, scripts: map[string]*kaconf.Node{},
		groups: map[string]*kaconf.Node{}, vrids: map[string]int{}, names: map[string]bool{},
		global: globals{version: 2}, scriptCache: map[string]scriptResult{}, seen: map[string]bool{},
	}
}

// ok marks n as translated.
func (t *translator) ok(n *kaconf.Node) {
	if !t.handled[n] {
		t.res.Translated++
	}
	t.handled[n] = true
}

// drop reports n as not taken over: traffic says whether that makes lvsd
// forward, check or fail over differently.
func (t *translator) drop(n *kaconf.Node, traffic bool, why, instead string) {
	t.handled[n] = true
	t.res.Findings.Add(n.File, n.Line, n.Keyword, traffic, why, instead)
	// What is inside a dropped block goes with it.
	kaconf.Walk(n.Block, func(c *kaconf.Node) { t.handled[c] = true })
}

// dropf is drop with a formatted reason.
func (t *translator) dropf(n *kaconf.Node, traffic bool, instead, format string, args ...any) {
	t.drop(n, traffic, fmt.Sprintf(format, args...), instead)
}

// once reports whether key is new: a note that would repeat for every
// realserver is made once.
func (t *translator) once(key string) bool {
	if t.seen[key] {
		return false
	}
	t.seen[key] = true
	return true
}

// unknown reports a directive the importer does not know in its block.
func (t *translator) unknown(n *kaconf.Node, where string) {
	t.drop(n, true, "not known in "+where+" (by keepalived 2.2 or by the importer)", "left out: check what it was meant to do")
}

func where(n *kaconf.Node) string { return fmt.Sprintf("%s:%d", n.File, n.Line) }

func (t *translator) run(nodes []*kaconf.Node) {
	// Definitions first: keepalived resolves scripts, groups and global
	// defaults after reading the whole file, so their order does not matter.
	for _, n := range nodes {
		switch n.Keyword {
		case "global_defs":
			t.globalDefs(n)
		case "vrrp_script":
			if len(n.Args) > 0 {
				t.scripts[n.Args[0]] = n
			}
		case "virtual_server_group":
			if len(n.Args) > 0 {
				t.groups[n.Args[0]] = n
			}
		}
	}
	main := &t.res.Main
	for _, n := range nodes {
		switch n.Keyword {
		case "global_defs", "virtual_server_group", "vrrp_script":
			// translated where they are used
		case "vrrp_instance":
			if in, ok := t.instance(n); ok {
				if main.VRRP == nil {
					main.VRRP = &migrate.VRRP{}
				}
				main.VRRP.Instances = append(main.VRRP.Instances, in)
			}
		case "vrrp_sync_group":
			t.syncGroup(n)
		case "virtual_server":
			t.virtualServer(n)
		default:
			t.topLevel(n)
		}
	}
	t.finishSyncGroups()
	t.finishSync()
	t.disableStrayServices()
	t.reportUnused(nodes)
	t.peerNotes()
}

// topLevel reports the root blocks lvsd has no counterpart for.
func (t *translator) topLevel(n *kaconf.Node) {
	switch n.Keyword {
	case "static_ipaddress", "static_routes", "static_rules":
		t.drop(n, true, "lvsd manages no static addresses, routes or rules", "configure them in the system's network configuration (ifupdown, systemd-networkd)")
	case "vrrp_track_process", "track_file", "vrrp_track_file", "bfd_instance":
		t.drop(n, true, "lvsd has no process, file or BFD tracking", "left out; use a track script (vrrp.instances[].track.scripts)")
	case "net_namespace", "net_namespace_ipvs", "namespace_with_ipsets":
		t.drop(n, false, "lvsd does not enter a network namespace itself", "run lvsd in the namespace (ip netns exec NAME lvsd run)")
	case "SSL":
		t.drop(n, true, "lvsd's https check presents no client certificate", "a realserver that requires one fails the check: use a tcp check")
	case "instance", "use_pid_dir", "child_wait_time", "linkbeat_use_polling", "garp_group":
		t.drop(n, false, "a keepalived process setting with no lvsd counterpart", "")
	default:
		t.unknown(n, "the top level")
	}
}

// reportUnused reports every directive below a translated block that
// neither was translated nor was reported: the importer never drops one
// silently.
func (t *translator) reportUnused(nodes []*kaconf.Node) {
	kaconf.Walk(nodes, func(n *kaconf.Node) {
		if !t.handled[n] {
			t.unknown(n, "its block")
		}
	})
}

// Parsing helpers for directive arguments.

func arg(n *kaconf.Node, i int) string {
	if i < len(n.Args) {
		return n.Args[i]
	}
	return ""
}

// intArg reads argument i as an integer in [lo, hi].
func (t *translator) intArg(n *kaconf.Node, i, lo, hi int) (int, bool) {
	v, err := strconv.Atoi(arg(n, i))
	if err != nil || v < lo || v > hi {
		t.dropf(n, true, "left out; keepalived refuses it too", "%q is not a number in %d-%d", arg(n, i), lo, hi)
		return 0, false
	}
	return v, true
}

// secondsArg reads argument i as keepalived's decimal seconds.
func (t *translator) secondsArg(n *kaconf.Node, i int) (migrate.Duration, bool) {
	f, err := strconv.ParseFloat(arg(n, i), 64)
	if err != nil || f < 0 || f > 1e7 {
		t.dropf(n, true, "left out; keepalived refuses it too", "%q is not a number of seconds", arg(n, i))
		return 0, false
	}
	return migrate.Seconds(f), true
}

// boolArg reads an optional true/false argument ("smtp_alert", "smtp_alert
// no"): keepalived's check_true_false.
func boolArg(n *kaconf.Node) bool {
	switch strings.ToLower(arg(n, 0)) {
	case "false", "no", "off":
		return false
	}
	return true
}
