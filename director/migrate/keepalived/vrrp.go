package keepalived

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/lvsd/lvsd/director/migrate"
	"github.com/lvsd/lvsd/director/migrate/kaconf"
)

// instanceState is what an instance's directives leave for the checks
// made once the whole block is read.
type instanceState struct {
	node          *kaconf.Node
	version       *kaconf.Node
	auth          *kaconf.Node // the authentication block
	authType      string
	authPass      string
	unicastPeers  *kaconf.Node
	checksumAsV2  *bool
	oldUnicastSum bool
	tracks        []track
	priority      int
}

func (t *translator) instance(n *kaconf.Node) (migrate.Instance, bool) {
	in := migrate.Instance{Source: where(n), Name: arg(n, 0), Priority: 100, AdvertInterval: migrate.Duration(time.Second)}
	st := &instanceState{node: n, priority: 100}
	if in.Name == "" {
		t.drop(n, true, "a vrrp_instance needs a name", "left out, as keepalived does")
		return in, false
	}
	t.ok(n)
	for _, c := range n.Block {
		t.instanceKey(c, &in, st)
	}
	switch {
	case in.Interface == "":
		t.drop(n, true, "no interface: keepalived would use default_interface", "left out: add interface and import again")
		return in, false
	case in.VRID == 0:
		t.drop(n, true, "no virtual_router_id", "left out, as keepalived does")
		return in, false
	case len(in.VirtualIPs) == 0:
		t.drop(n, true, "no virtual_ipaddress: lvsd needs at least one", "left out")
		return in, false
	}
	t.resolveVersion(&in, st)
	t.resolveAuth(&in, st)
	t.resolveUnicast(&in, st)
	t.resolveChecksum(&in, st)
	t.resolveAnnounce(&in)
	t.resolveTracks(&in, st)
	t.vrids[in.Name] = in.VRID
	return in, true
}

func (t *translator) instanceKey(c *kaconf.Node, in *migrate.Instance, st *instanceState) {
	switch c.Keyword {
	case "interface":
		in.Interface = arg(c, 0)
		t.ok(c)
	case "virtual_router_id":
		if v, ok := t.intArg(c, 0, 1, 255); ok {
			in.VRID = v
			t.ok(c)
		}
	case "priority":
		if v, ok := t.intArg(c, 0, 1, 255); ok {
			in.Priority, st.priority = v, v
			t.ok(c)
		}
	case "advert_int":
		if d, ok := t.secondsArg(c, 0); ok {
			in.AdvertInterval = d
			t.ok(c)
		}
	case "version":
		if _, ok := t.intArg(c, 0, 2, 3); ok {
			st.version = c
			t.ok(c)
		}
	case "state":
		t.drop(c, false, "lvsd starts every instance as backup and elects by priority (RFC 5798 §6.4.1)",
			"the initial state only shortened keepalived's first election; the master is the same after it")
	case "nopreempt":
		in.Preempt = new(bool)
		t.ok(c)
	case "preempt":
		in.Preempt = nil // lvsd's default
		t.ok(c)
	case "preempt_delay":
		if d, ok := t.secondsArg(c, 0); ok {
			in.PreemptDelay = d
			t.ok(c)
		}
	case "virtual_ipaddress":
		t.ok(c)
		in.VirtualIPs = t.vips(c, in.Interface)
	case "authentication":
		t.ok(c)
		st.auth = c
		for _, a := range c.Block {
			switch a.Keyword {
			case "auth_type":
				st.authType = arg(a, 0)
			case "auth_pass":
				st.authPass = arg(a, 0)
			default:
				t.unknown(a, "authentication")
				continue
			}
			t.ok(a)
		}
	case "unicast_src_ip":
		if in.Unicast == nil {
			in.Unicast = &migrate.Unicast{}
		}
		in.Unicast.Source = arg(c, 0)
		t.ok(c)
	case "unicast_peer":
		if in.Unicast == nil {
			in.Unicast = &migrate.Unicast{}
		}
		st.unicastPeers = c
		t.ok(c)
		for _, p := range c.Block {
			in.Unicast.Peers = append(in.Unicast.Peers, p.Keyword)
			t.ok(p)
			if len(p.Args) > 0 {
				t.res.Findings.Add(p.File, p.Line, p.Keyword, false, "peer options "+strings.Join(p.Args, " ")+" are not expressible", "lvsd checks TTL 255 as RFC 5798 §5.1.1.3 asks")
			}
		}
	case "use_vmac":
		in.VirtualMAC = true
		t.ok(c)
	case "track_interface":
		t.ok(c)
		for _, x := range c.Block {
			st.tracks = append(st.tracks, t.parseTrack(x, "interface"))
		}
	case "track_script":
		t.ok(c)
		for _, x := range c.Block {
			st.tracks = append(st.tracks, t.parseTrack(x, "script"))
		}
	case "v3_checksum_as_v2":
		b := boolArg(c)
		st.checksumAsV2 = &b
		t.ok(c)
	case "old_unicast_checksum":
		st.oldUnicastSum = true
		t.ok(c)
	case "lvs_sync_daemon_interface":
		if t.global.syncd == nil {
			t.global.syncd, t.global.syncInstance = c, in.Name
		} else {
			t.drop(c, false, "lvs_sync_daemon is already set", "the first one is used")
		}
	default:
		t.instanceOther(c, in)
	}
}

// instanceOther reports the instance directives lvsd has no counterpart for.
func (t *translator) instanceOther(c *kaconf.Node, in *migrate.Instance) {
	switch c.Keyword {
	case "garp_master_repeat", "garp_master_refresh", "garp_interval":
		t.instanceGarp(c, in)
	case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify", "notify_deleted",
		"notify_master_rx_lower_pri", "notify_priority_changes":
		t.drop(c, false, "lvsd has one notify.command for every change, with the change appended (vrrp INSTANCE STATE PRIORITY) and in LVSD_* variables",
			"left out: point notify.command at a script that dispatches on LVSD_STATE")
	case "smtp_alert", "debug", "kernel_rx_buf_size", "check_unicast_src", "unicast_ttl", "unicast_fault_no_peer",
		"skip_check_adv_addr", "lower_prio_no_advert", "higher_prio_send_advert", "promote_secondaries",
		"garp_master_delay", "garp_master_refresh_repeat", "garp_lower_prio_delay", "garp_lower_prio_repeat",
		"down_timer_adverts", "vmac_xmit_base", "use_vmac_addr", "linkbeat_use_polling", "accept":
		t.drop(c, false, "no lvsd counterpart", "lvsd's behaviour is the RFC's (accept mode on, one GARP burst, adverts from the interface)")
	case "mcast_src_ip":
		t.drop(c, false, "lvsd sends multicast adverts from the interface's primary address", "it only matters to break a tie between equal priorities")
	case "virtual_ipaddress_excluded":
		t.drop(c, true, "lvsd advertises every address it moves, and keepalived drops adverts whose address list differs from its own",
			"left out: add the addresses to the system's network configuration or to another instance")
	case "virtual_routes", "virtual_rules":
		t.drop(c, true, "lvsd moves addresses, not routes or rules", "left out: use a notify.command that adds them on MASTER")
	case "no_accept", "strict_mode":
		t.drop(c, true, "lvsd always accepts traffic to the VIPs (IPVS needs it)", "left out")
	case "dont_track_primary":
		t.drop(c, true, "lvsd faults an instance whose interface is down", "left out: the instance gives up mastership when its link fails")
	case "track_file", "track_process", "track_bfd", "track_src_ip":
		t.drop(c, true, "lvsd tracks interfaces and scripts only", "left out: write a track script")
	case "native_ipv6", "use_ipvlan", "vrf", "interfaces", "mcast_dst_ip":
		t.drop(c, true, "not expressible in lvsd", "left out")
	default:
		t.unknown(c, "vrrp_instance")
	}
}

func (t *translator) instanceGarp(c *kaconf.Node, in *migrate.Instance) {
	if in.Announce == nil {
		in.Announce = &migrate.Announce{}
	}
	switch c.Keyword {
	case "garp_master_repeat":
		if v, ok := t.intArg(c, 0, 1, 100); ok {
			in.Announce.Repeat = v
			t.ok(c)
		}
	case "garp_master_refresh":
		if d, ok := t.secondsArg(c, 0); ok {
			if d > 0 && d < migrate.Duration(time.Second) {
				d = migrate.Duration(time.Second)
			}
			in.Announce.Refresh = d
			t.ok(c)
		}
	case "garp_interval":
		if d, ok := t.secondsArg(c, 0); ok {
			in.Announce.Interval = max(d, migrate.Duration(time.Millisecond))
			t.ok(c)
		}
	}
}

// resolveAnnounce applies the global GARP defaults (vrrp_garp_*) the
// instance did not set itself.
func (t *translator) resolveAnnounce(in *migrate.Instance) {
	g := t.global.garp
	var a migrate.Announce
	if in.Announce != nil {
		a = *in.Announce
	}
	if n := g.repeat; n != nil && a.Repeat == 0 {
		if v, err := strconv.Atoi(arg(n, 0)); err == nil && v >= 1 && v <= 100 {
			a.Repeat = v
			t.ok(n)
		}
	}
	if n := g.interval; n != nil && a.Interval == 0 {
		if f, err := strconv.ParseFloat(arg(n, 0), 64); err == nil && f >= 0 {
			a.Interval = max(migrate.Seconds(f), migrate.Duration(time.Millisecond))
			t.ok(n)
		}
	}
	if n := g.refresh; n != nil && a.Refresh == 0 {
		if f, err := strconv.ParseFloat(arg(n, 0), 64); err == nil && f >= 0 {
			a.Refresh = migrate.Seconds(f)
			if a.Refresh > 0 && a.Refresh < migrate.Duration(time.Second) {
				a.Refresh = migrate.Duration(time.Second) // lvsd's minimum
			}
			t.ok(n)
		}
	}
	if a != (migrate.Announce{}) {
		in.Announce = &a
	}
}

// vips translates virtual_ipaddress: "ADDR[/LEN] [dev IF] [label L] ...".
func (t *translator) vips(block *kaconf.Node, iface string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range block.Block {
		addr := v.Keyword
		p, err := parsePrefix(addr)
		if err != nil {
			t.dropf(v, true, "left out, as keepalived does", "%v", err)
			continue
		}
		if seen[p.Addr().String()] {
			t.drop(v, false, "the address is listed twice", "lvsd adds it once, as keepalived does")
			continue
		}
		if dev := option(v.Args, "dev"); dev != "" && iface != "" && dev != iface {
			t.dropf(v, true, "left out: lvsd carries an instance's addresses on its interface; put this one in an instance on "+dev,
				"the address is on %s, not on the instance's interface %s", dev, iface)
			continue
		}
		seen[p.Addr().String()] = true
		out = append(out, addr)
		t.ok(v)
		if extra := withoutOption(v.Args, "dev"); len(extra) > 0 {
			t.res.Findings.Add(v.File, v.Line, addr, false, "address options "+strings.Join(extra, " ")+" are not expressible",
				"lvsd adds the address with the kernel's defaults (scope global, no label)")
		}
	}
	return out
}

// parsePrefix reads an address with an optional prefix length, as
// keepalived writes VIPs and lvsd reads them.
func parsePrefix(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, fmt.Errorf("%q is not an address", s)
	}
	return p, nil
}

// option returns the value after word key in args ("dev eth1").
func option(args []string, key string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == key {
			return args[i+1]
		}
	}
	return ""
}

func withoutOption(args []string, key string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == key {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}
