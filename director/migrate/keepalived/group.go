package keepalived

import (
	"fmt"
	"strconv"
	"time"

	"github.com/lvsd/lvsd/director/migrate"
	"github.com/lvsd/lvsd/director/migrate/kaconf"
)

// syncGroupKeywords are the directives keepalived knows in a
// vrrp_sync_group; anything else it ignores with a warning.
var syncGroupKeywords = map[string]bool{
	"group": true, "notify_backup": true, "notify_master": true, "notify_fault": true, "notify_stop": true,
	"notify": true, "smtp_alert": true, "global_tracking": true, "sync_group_tracking_weight": true,
	"track_interface": true, "track_script": true, "track_file": true, "track_process": true, "track_bfd": true,
	"notify_priority_changes": true,
}

func (t *translator) syncGroup(n *kaconf.Node) {
	g := migrate.Group{Source: where(n), Name: arg(n, 0)}
	t.ok(n)
	var members *kaconf.Node
	for _, c := range n.Block {
		switch {
		case c.Keyword == "group":
			members = c
			t.ok(c)
			for _, m := range c.Block {
				g.Instances = append(g.Instances, m.Keyword)
				t.ok(m)
			}
		case !syncGroupKeywords[c.Keyword]:
			t.drop(c, false, "keepalived does not know it in a vrrp_sync_group and ignores it (instances go in group { })", "left out, as keepalived does")
		case c.Keyword == "track_interface" || c.Keyword == "track_script" || c.Keyword == "track_file" ||
			c.Keyword == "track_process" || c.Keyword == "track_bfd":
			t.drop(c, true, "lvsd tracks per instance, not per group", "left out: track in each member instance")
		default:
			t.drop(c, false, "lvsd has one notify.command for every change (vrrp INSTANCE STATE PRIORITY)", "left out")
		}
	}
	if members == nil {
		t.drop(n, false, "the sync group has no group { } of instances", "left out; keepalived removes it too")
		return
	}
	t.pendingGroups = append(t.pendingGroups, pendingGroup{g, n})
}

type pendingGroup struct {
	g migrate.Group
	n *kaconf.Node
}

// finishSyncGroups keeps the groups whose instances were translated.
func (t *translator) finishSyncGroups() {
	for _, p := range t.pendingGroups {
		var keep []string
		for _, name := range p.g.Instances {
			if _, ok := t.vrids[name]; ok {
				keep = append(keep, name)
			} else {
				t.res.Findings.Add(p.n.File, p.n.Line, name, true, "no translated vrrp_instance is named "+name, "left out of the group")
			}
		}
		if len(keep) < 2 {
			t.res.Findings.Add(p.n.File, p.n.Line, "vrrp_sync_group", false, "lvsd groups need two instances or more", "left out: one instance moves alone anyway")
			continue
		}
		p.g.Instances = keep
		if t.res.Main.VRRP == nil {
			t.res.Main.VRRP = &migrate.VRRP{}
		}
		t.res.Main.VRRP.Groups = append(t.res.Main.VRRP.Groups, p.g)
	}
}

// finishSync translates lvs_sync_daemon (global) or the older
// lvs_sync_daemon_interface (in an instance). keepalived's sync id
// defaults to the instance's virtual_router_id.
func (t *translator) finishSync() {
	n := t.global.syncd
	if n == nil {
		t.unusedGlobals()
		return
	}
	s := &migrate.Sync{Source: where(n), Interface: arg(n, 0)}
	inst := t.global.syncInstance
	var id *int
	for i := 1; i < len(n.Args); i++ {
		switch key := n.Args[i]; key {
		case "inst":
			inst = arg(n, i+1)
			i++
		case "id":
			v, err := strconv.Atoi(arg(n, i+1))
			if err == nil && v >= 0 && v <= 255 {
				id = &v
			}
			i++
		case "maxlen", "port", "ttl", "group":
			t.res.Findings.Add(n.File, n.Line, key, false, "lvsd starts the sync daemon with the kernel's defaults", "left out")
			i++
		default:
			if inst == "" {
				inst = key
			}
		}
	}
	if id == nil {
		if v, ok := t.vrids[inst]; ok {
			id = &v
		}
	}
	s.SyncID = id
	if s.Interface == "" {
		t.drop(n, true, "no interface", "left out")
	} else {
		t.res.Main.Sync = s
		t.ok(n)
		if inst != "" {
			t.res.Findings.Add(n.File, n.Line, "lvs_sync_daemon", false,
				"lvsd runs the sync master while it is VRRP master and the backup otherwise, not by one named instance ("+inst+")", "")
		}
	}
	t.unusedGlobals()
}

// unusedGlobals reports the definitions nothing used.
func (t *translator) unusedGlobals() {
	g := t.global.garp
	for _, n := range []*kaconf.Node{g.repeat, g.interval, g.refresh} {
		if n != nil && !t.handled[n] {
			t.drop(n, false, "no vrrp instance takes it", "")
		}
	}
	for name, n := range t.scripts {
		if !t.handled[n] {
			t.drop(n, false, "no vrrp instance tracks "+name, "left out")
		}
	}
	for name, n := range t.groups {
		if !t.handled[n] {
			t.drop(n, false, "no virtual_server uses group "+name, "left out")
		}
	}
}

// peerNotes lists what a keepalived peer and lvsd must agree on while the
// pair runs half-migrated.
func (t *translator) peerNotes() {
	if t.res.Main.VRRP == nil {
		return
	}
	for _, in := range t.res.Main.VRRP.Instances {
		auth := "no authentication"
		if in.AuthPass != "" {
			auth = "auth_type PASS with the same auth_pass"
		}
		s := fmt.Sprintf("instance %s (virtual_router_id %d on %s): VRRP version %d (keepalived's vrrp_version or version), advert_int %v, %s, the same virtual_ipaddress list (keepalived drops adverts whose addresses differ)",
			in.Name, in.VRID, in.Interface, in.Version, time.Duration(in.AdvertInterval), auth)
		if in.Version == 3 && in.Checksum != "" {
			s += "; checksum " + in.Checksum + ": keepalived 2.2.8 or later with v3_checksum_as_v2"
		} else if in.Version == 3 {
			if p, _ := parsePrefix(in.VirtualIPs[0]); p.Addr().Is4() {
				s += "; checksum pseudo-header: keepalived before 2.2.8, or later without v3_checksum_as_v2 (lvsd key checksum)"
			}
		}
		if in.Unicast != nil {
			s += "; unicast: each side lists the other's unicast_src_ip as its peer"
		}
		t.res.Peer = append(t.res.Peer, s)
	}
}
