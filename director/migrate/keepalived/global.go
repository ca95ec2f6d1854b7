package keepalived

import (
	"strings"

	"github.com/lvsd/lvsd/director/migrate"
	"github.com/lvsd/lvsd/director/migrate/kaconf"
)

// globals are the global_defs that instances and the sync daemon inherit.
type globals struct {
	version      int  // vrrp_version: keepalived's default is 2
	checksumAsV2 bool // v3_checksum_as_v2 (keepalived 2.2.8 and later)
	garp         garp
	syncd        *kaconf.Node // lvs_sync_daemon
	syncInstance string       // the instance of lvs_sync_daemon_interface
}

// garp holds keepalived's gratuitous ARP settings; zero fields are unset.
type garp struct {
	repeat   *kaconf.Node
	interval *kaconf.Node
	refresh  *kaconf.Node
}

func (t *translator) globalDefs(g *kaconf.Node) {
	t.ok(g)
	for _, n := range g.Block {
		switch n.Keyword {
		case "vrrp_version":
			if v, ok := t.intArg(n, 0, 2, 3); ok {
				t.global.version = v
				t.ok(n)
			}
		case "v3_checksum_as_v2":
			t.global.checksumAsV2 = boolArg(n)
			t.ok(n)
		case "router_id":
			t.res.Main.Node = arg(n, 0)
			t.ok(n)
		case "lvs_sync_daemon":
			t.global.syncd = n
		case "lvs_flush_onstop", "lvs_flush_on_stop":
			t.res.Main.Director = &migrate.Director{OnStop: "clear"}
			t.ok(n)
		case "lvs_flush":
			t.drop(n, false, "lvsd never flushes the IPVS table", "it adopts what the kernel holds and reconciles it to the files, which ends in the same table")
		case "lvs_timeouts":
			t.drop(n, true, "lvsd does not set the IPVS connection timeouts", "set them at boot with ipvsadm --set TCP TCPFIN UDP")
		case "vrrp_garp_master_repeat":
			t.global.garp.repeat = n
		case "vrrp_garp_interval":
			t.global.garp.interval = n
		case "vrrp_garp_master_refresh":
			t.global.garp.refresh = n
		case "vrrp_garp_master_delay", "vrrp_garp_master_refresh_repeat", "vrrp_garp_lower_prio_delay",
			"vrrp_garp_lower_prio_repeat", "vrrp_gna_interval", "vrrp_min_garp", "vrrp_garp_extra_if":
			t.drop(n, false, "lvsd announces once at takeover (announce.repeat, announce.interval) and on announce.refresh", "clients learn the MAC from the first burst")
		case "vrrp_strict":
			t.drop(n, true, "lvsd has no strict RFC mode (no_accept, no authentication, no unicast)", "the VIPs accept traffic, as IPVS needs")
		case "vrrp_mcast_group4", "vrrp_mcast_group6":
			t.drop(n, true, "lvsd sends adverts to the standard group (224.0.0.18, ff02::12)", "use unicast peers if the group must differ")
		case "notification_email", "notification_email_from", "smtp_server", "smtp_helo_name", "smtp_connect_timeout",
			"smtp_alert", "smtp_alert_vrrp", "smtp_alert_checker", "no_email_faults", "no_checker_emails":
			t.drop(n, false, "lvsd sends no email", "use notify.command or notify.webhook")
		default:
			if strings.HasPrefix(n.Keyword, "vrrp_") || strings.HasPrefix(n.Keyword, "checker_") || strings.HasPrefix(n.Keyword, "lvs_") {
				t.drop(n, false, "a keepalived process setting with no lvsd counterpart", "")
				continue
			}
			t.drop(n, false, "a keepalived global setting with no lvsd counterpart", "")
		}
	}
}
