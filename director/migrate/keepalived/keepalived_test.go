package keepalived

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/migrate"
)

func importString(t *testing.T, conf string) migrate.Result {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Import(p, Options{ConfigID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	validate(t, r, p)
	return r
}

func findings(r migrate.Result) string {
	var s []string
	for _, f := range r.Findings.Sorted() {
		s = append(s, f.Directive)
	}
	return strings.Join(s, ",")
}

func TestInstance(t *testing.T) {
	r := importString(t, `
global_defs {
  vrrp_version 3
}
vrrp_script up {
  script "/bin/true"
  interval 2
  weight 10
}
vrrp_instance A {
  interface eth0
  virtual_router_id 7
  priority 100
  advert_int 0.25
  nopreempt
  preempt_delay 30
  unicast_src_ip 192.0.2.1
  unicast_peer {
    192.0.2.2
  }
  virtual_ipaddress {
    192.0.2.10/24
    192.0.2.10
  }
  track_interface {
    eth1 weight 5
    eth2 weight -7
    eth3
    eth4 weight 3 reverse
  }
  track_script {
    up
  }
  use_vmac
  garp_master_repeat 2
}
vrrp_instance B {
  interface eth0
  virtual_router_id 8
  virtual_ipaddress {
    2001:db8::10/64
  }
  authentication {
    auth_type PASS
    auth_pass secret123
  }
}
vrrp_sync_group G {
  group {
    A
    B
  }
}
`)
	ins := r.Main.VRRP.Instances
	a := ins[0]
	// up: eth1 +5, eth4 reverse -3, script +10; down: eth2 -7.
	if a.Priority != 112 || a.Version != 3 || a.AdvertInterval != migrate.Duration(250*time.Millisecond) ||
		a.Preempt == nil || *a.Preempt || a.PreemptDelay != migrate.Duration(30*time.Second) || !a.VirtualMAC {
		t.Errorf("instance A: %+v", a)
	}
	wantIf := []migrate.TrackInterface{{Name: "eth1", Weight: -5}, {Name: "eth2", Weight: -7}, {Name: "eth3", Weight: 0}, {Name: "eth4", Weight: 3}}
	if !reflect.DeepEqual(a.Track.Interfaces, wantIf) || a.Track.Scripts[0].Weight != -10 || a.Track.Scripts[0].Command[0] != "/bin/true" {
		t.Errorf("tracking: %+v", a.Track)
	}
	if a.Unicast == nil || a.Unicast.Source != "192.0.2.1" || a.Announce.Repeat != 2 || len(a.VirtualIPs) != 1 {
		t.Errorf("unicast, announce or VIPs: %+v %+v %v", a.Unicast, a.Announce, a.VirtualIPs)
	}
	b := ins[1]
	if b.Version != 3 || b.AuthPass != "" {
		t.Errorf("IPv6 instance: version %d auth %q; want 3 and none", b.Version, b.AuthPass)
	}
	if g := r.Main.VRRP.Groups; len(g) != 1 || !reflect.DeepEqual(g[0].Instances, []string{"A", "B"}) {
		t.Errorf("groups: %+v", g)
	}
	// The duplicate VIP, the sum of the weights, and VRRPv3 ignoring
	// authentication are reported; nothing changes traffic.
	if f := findings(r); f != "priority,192.0.2.10,authentication" || r.Findings.ChangesTraffic() {
		t.Errorf("findings %q, want priority,192.0.2.10,authentication:\n%s", f, r.Findings)
	}
	if len(r.Peer) != 2 || !strings.Contains(r.Peer[0], "checksum pseudo-header") {
		t.Errorf("peer notes: %q", r.Peer)
	}
}

func TestDefaults(t *testing.T) {
	r := importString(t, `
vrrp_instance V {
  interface eth0
  virtual_router_id 9
  virtual_ipaddress {
    192.0.2.20
  }
  authentication {
    auth_type PASS
    auth_pass longerthan8
  }
}
virtual_server 192.0.2.20 80 {
  real_server 198.51.100.1 8080 { }
}
`)
	v := r.Main.VRRP.Instances[0]
	if v.Version != 2 || v.AuthPass != "longerth" || v.Priority != 100 {
		t.Errorf("keepalived defaults: version %d (want 2) auth %q (want 8 bytes) priority %d", v.Version, v.AuthPass, v.Priority)
	}
	s := r.Services[0]
	if s.Protocol != "udp" || s.Scheduler != "wlc" || s.Forward != "nat" || s.Check.Type != "none" || s.Reals[0].Address != "198.51.100.1:8080" {
		t.Errorf("keepalived's service defaults (UDP, wlc, NAT, no checker = up): %+v", s)
	}
}

func TestServices(t *testing.T) {
	r := importString(t, `
virtual_server_group G {
  192.0.2.3-5 80
  fwmark 7
}
virtual_server group G {
  protocol TCP
  lb_algo sh
  sh-port
  lb_kind DR
  persistence_timeout
  persistence_granularity 255.255.255.0
  inhibit_on_failure
  delay_loop 3
  real_server 198.51.100.1 8080 {
    weight 3
    uthreshold 100
    lthreshold 50
    TCP_CHECK {
      connect_timeout 2
      retry 2
      delay_before_retry 3
    }
  }
  real_server 198.51.100.2 {
    MISC_CHECK {
      misc_path "/usr/local/bin/check 'a b'"
    }
  }
}
virtual_server 2001:db8::1 443 {
  protocol TCP
  lb_kind TUN
  alpha
  sorry_server 2001:db8::99 443
  real_server 2001:db8::2 443 {
    SSL_GET {
      url {
        path /health
        status_code 200 301-302
      }
      virtualhost www.example.com
      connect_port 8443
    }
  }
}
`)
	var names []string
	for _, s := range r.Services {
		names = append(names, s.Name)
	}
	want := []string{"G-tcp-192.0.2.3-80", "G-tcp-192.0.2.4-80", "G-tcp-192.0.2.5-80", "G-fwmark-7", "tcp-2001:db8::1-443"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("services %q, want %q", names, want)
	}
	s := r.Services[0]
	if s.Scheduler != "sh" || !reflect.DeepEqual(s.SchedulerFlags, []string{"sh-port"}) || s.Forward != "dr" || !s.Quiescent ||
		s.Persistence == nil || s.Persistence.Timeout != migrate.Duration(360*time.Second) || s.Persistence.Netmask != 24 {
		t.Errorf("service: %+v", s)
	}
	// DR cannot change the port: keepalived puts the virtual port in.
	if s.Reals[0].Address != "198.51.100.1:80" || *s.Reals[0].Weight != 3 || s.Reals[0].UpperThreshold != 100 || s.Reals[0].LowerThreshold != 50 {
		t.Errorf("real: %+v", s.Reals[0])
	}
	if s.Check.Type != "tcp" || s.Check.Fall != 3 || s.Check.Retry != migrate.Duration(3*time.Second) || s.Check.Timeout != migrate.Duration(2*time.Second) || s.Check.Interval != migrate.Duration(3*time.Second) {
		t.Errorf("check: %+v", s.Check)
	}
	misc := s.Reals[1].Check
	if misc == nil || misc.Type != "external" || !reflect.DeepEqual(misc.Command, []string{"/bin/sh", "-c", "exec /usr/local/bin/check 'a b'", "misc_check"}) || misc.Fall != 1 {
		t.Errorf("misc check overlay: %+v", misc)
	}
	fw := r.Services[3]
	if fw.FWMark != 7 || fw.Protocol != "" || fw.Reals[0].Address != "198.51.100.1" {
		t.Errorf("fwmark member: %+v", fw)
	}
	six := r.Services[4]
	c := six.Check
	if six.Forward != "tun" || six.Sorry != "[2001:db8::99]:443" || c.Type != "https" || c.Path != "/health" || c.Port != 8443 ||
		c.Host != "www.example.com" || c.Initial != "down" || !reflect.DeepEqual(c.Status, []int{200, 301, 302}) {
		t.Errorf("IPv6 service: %+v check %+v", six, c)
	}
}

func TestStrayServiceIsDisabled(t *testing.T) {
	r := importString(t, `
vrrp_instance V {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    192.0.2.1
  }
}
virtual_server 192.0.2.1 80 {
  protocol TCP
  real_server 198.51.100.1 80 {
  }
}
virtual_server 192.0.2.2 80 {
  protocol TCP
  real_server 198.51.100.1 80 {
  }
}
`)
	if r.Services[0].Disabled || !r.Services[1].Disabled || !r.Findings.ChangesTraffic() {
		t.Errorf("want the second service disabled and a traffic finding: %+v %s", r.Services, r.Findings)
	}
}

func TestNothingDroppedSilently(t *testing.T) {
	r := importString(t, `
vrrp_instance V {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    192.0.2.1
  }
  frobnicate 3
}
bogus_block { x }
`)
	if f := findings(r); f != "frobnicate,bogus_block" {
		t.Errorf("findings %q, want frobnicate,bogus_block", f)
	}
}

// TestMixedCheckers: realservers of one service with different checkers
// name only keys their own type reads (lvsd refuses the others), and a
// port given to a ping check is reported, not written.
func TestMixedCheckers(t *testing.T) {
	r := importString(t, `
virtual_server 192.0.2.30 80 {
  protocol TCP
  real_server 198.51.100.1 80 {
    HTTP_GET {
      url {
        path /health
      }
    }
  }
  real_server 198.51.100.2 80 {
    HTTP_GET {
      url {
        path /health
      }
    }
  }
  real_server 198.51.100.3 80 {
    PING_CHECK {
      connect_port 80
    }
  }
  real_server 198.51.100.4 80 {
    TCP_CHECK {
      connect_port 81
    }
  }
}
`)
	reals := r.Services[0].Reals
	if c := reals[2].Check; c == nil || c.Type != "ping" || c.Port != 0 || c.Path != "" || c.Status != nil {
		t.Errorf("ping overlay: %+v", c)
	}
	if c := reals[3].Check; c == nil || c.Type != "tcp" || c.Port != 81 || c.Path != "" {
		t.Errorf("tcp overlay: %+v", c)
	}
	if f := findings(r); f != "connect_port" {
		t.Errorf("findings %q, want connect_port", f)
	}
}
