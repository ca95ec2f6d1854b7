package migrate

import (
	"strings"
	"time"
)

// The types below mirror lvsd's YAML files key for key (docs/config.md),
// leaving out what the importers never set. Source fields are not keys:
// they name the source line of the block ("keepalived.conf:12") and are
// written as a comment above it.

// Result is what an importer produces.
type Result struct {
	Main     Main
	Services []Service
	Findings Findings
	// Peer lists what the other node of a half-migrated pair (still running
	// the old software) and this one must agree on, one sentence each.
	Peer []string
	// Translated counts the source directives taken over as written.
	Translated int
}

// Main is lvsd's main file.
type Main struct {
	Source      string    `yaml:"-"`
	Node        string    `yaml:"node,omitempty"`
	ServicesDir string    `yaml:"services_dir"`
	VRRP        *VRRP     `yaml:"vrrp,omitempty"`
	Sync        *Sync     `yaml:"sync,omitempty"`
	Notify      *Notify   `yaml:"notify,omitempty"`
	Director    *Director `yaml:"director,omitempty"`
}

// Director holds the reconciler's options.
type Director struct {
	OnStop string `yaml:"on_stop,omitempty"`
}

// VRRP holds the instances and groups.
type VRRP struct {
	Instances []Instance `yaml:"instances,omitempty"`
	Groups    []Group    `yaml:"groups,omitempty"`
}

// Instance is one VRRP instance.
type Instance struct {
	Source         string    `yaml:"-"`
	Name           string    `yaml:"name"`
	Interface      string    `yaml:"interface"`
	VRID           int       `yaml:"vrid"`
	Priority       int       `yaml:"priority"`
	Version        int       `yaml:"version"`
	AdvertInterval Duration  `yaml:"advert_interval"`
	Preempt        *bool     `yaml:"preempt,omitempty"`
	PreemptDelay   Duration  `yaml:"preempt_delay,omitempty"`
	AuthPass       string    `yaml:"auth_pass,omitempty"`
	Unicast        *Unicast  `yaml:"unicast,omitempty"`
	VirtualIPs     []string  `yaml:"virtual_ips"`
	Checksum       string    `yaml:"checksum,omitempty"`
	VirtualMAC     bool      `yaml:"virtual_mac,omitempty"`
	Announce       *Announce `yaml:"announce,omitempty"`
	Track          *Track    `yaml:"track,omitempty"`
}

// Unicast replaces multicast adverts.
type Unicast struct {
	Source string   `yaml:"source"`
	Peers  []string `yaml:"peers"`
}

// Announce tunes gratuitous ARP / NA.
type Announce struct {
	Repeat   int      `yaml:"repeat,omitempty"`
	Interval Duration `yaml:"interval,omitempty"`
	Refresh  Duration `yaml:"refresh,omitempty"`
}

// Track lists tracked interfaces and scripts.
type Track struct {
	Interfaces []TrackInterface `yaml:"interfaces,omitempty"`
	Scripts    []TrackScript    `yaml:"scripts,omitempty"`
}

// TrackInterface is a tracked interface.
type TrackInterface struct {
	Name   string `yaml:"name"`
	Weight int    `yaml:"weight"`
}

// TrackScript is a tracked script.
type TrackScript struct {
	Name     string   `yaml:"name"`
	Command  []string `yaml:"command,flow"`
	Interval Duration `yaml:"interval"`
	Timeout  Duration `yaml:"timeout,omitempty"`
	Weight   int      `yaml:"weight"`
	Rise     int      `yaml:"rise,omitempty"`
	Fall     int      `yaml:"fall,omitempty"`
}

// Group is a VRRP sync group.
type Group struct {
	Source    string   `yaml:"-"`
	Name      string   `yaml:"name"`
	Instances []string `yaml:"instances,flow"`
}

// Sync is the IPVS connection sync daemon.
type Sync struct {
	Source    string `yaml:"-"`
	Interface string `yaml:"interface"`
	SyncID    *int   `yaml:"sync_id,omitempty"`
}

// Notify is the state-change hook.
type Notify struct {
	Command []string `yaml:"command,flow,omitempty"`
}

// Service is one service file.
type Service struct {
	Source string `yaml:"-"`
	// Disabled services are written under a name lvsd does not read
	// (NAME.yaml.disabled): lvsd would refuse them as they stand, and the
	// finding that says why tells the operator what to change.
	Disabled       bool         `yaml:"-"`
	Name           string       `yaml:"name"`
	Virtual        string       `yaml:"virtual,omitempty"`
	FWMark         uint32       `yaml:"fwmark,omitempty"`
	Family         string       `yaml:"family,omitempty"`
	Protocol       string       `yaml:"protocol,omitempty"`
	Scheduler      string       `yaml:"scheduler"`
	SchedulerFlags []string     `yaml:"scheduler_flags,flow,omitempty"`
	Forward        string       `yaml:"forward"`
	Persistence    *Persistence `yaml:"persistence,omitempty"`
	Quiescent      bool         `yaml:"quiescent,omitempty"`
	Sorry          string       `yaml:"sorry,omitempty"`
	Check          *Check       `yaml:"check,omitempty"`
	Reals          []Real       `yaml:"reals"`
}

// Persistence is client affinity.
type Persistence struct {
	Timeout Duration `yaml:"timeout"`
	Netmask int      `yaml:"netmask,omitempty"`
}

// Real is a realserver.
type Real struct {
	Source         string `yaml:"-"`
	Address        string `yaml:"address"`
	Weight         *int   `yaml:"weight,omitempty"`
	UpperThreshold int    `yaml:"upper_threshold,omitempty"`
	LowerThreshold int    `yaml:"lower_threshold,omitempty"`
	Forward        string `yaml:"forward,omitempty"`
	Check          *Check `yaml:"check,omitempty"`
}

// Check is a health check; a real's check names only what differs from
// the service's.
type Check struct {
	Type     string   `yaml:"type,omitempty"`
	Interval Duration `yaml:"interval,omitempty"`
	Timeout  Duration `yaml:"timeout,omitempty"`
	Rise     int      `yaml:"rise,omitempty"`
	Fall     int      `yaml:"fall,omitempty"`
	Retry    Duration `yaml:"retry_interval,omitempty"`
	Initial  string   `yaml:"initial,omitempty"`
	Port     int      `yaml:"port,omitempty"`
	Address  string   `yaml:"address,omitempty"`
	Source   string   `yaml:"source,omitempty"`
	Method   string   `yaml:"method,omitempty"`
	Path     string   `yaml:"path,omitempty"`
	Host     string   `yaml:"host,omitempty"`
	Status   []int    `yaml:"expect_status,flow,omitempty"`
	Body     string   `yaml:"expect_body,omitempty"`
	Regex    string   `yaml:"expect_regex,omitempty"`
	Send     string   `yaml:"send,omitempty"`
	Expect   string   `yaml:"expect,omitempty"`
	Query    string   `yaml:"query,omitempty"`
	QType    string   `yaml:"query_type,omitempty"`
	Command  []string `yaml:"command,flow,omitempty"`
}

// Duration is written as a Go duration ("1s", "1m30s", "500ms"), the only
// form lvsd reads.
type Duration time.Duration

// MarshalYAML writes the duration without the zero units Go's String
// leaves in ("1m0s" becomes "1m").
func (d Duration) MarshalYAML() (any, error) {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s, nil
}

// Seconds converts a count of seconds, possibly fractional, as
// keepalived and ldirectord write them.
func Seconds(f float64) Duration {
	return Duration(time.Duration(f*1000+0.5) * time.Millisecond)
}

// Prune clears the keys of c that a check of type typ does not read: lvsd
// refuses them when written ("path" in a tcp check), and they would have
// no effect.
func (c *Check) Prune(typ string) {
	reads := func(types ...string) bool {
		for _, t := range types {
			if t == typ {
				return true
			}
		}
		return false
	}
	if !reads("http", "https") {
		c.Method, c.Path, c.Host, c.Status, c.Body, c.Regex = "", "", "", nil, "", ""
	}
	if !reads("tcp", "udp") {
		c.Send, c.Expect = "", ""
	}
	if !reads("dns") {
		c.Query, c.QType = "", ""
	}
	if !reads("external") {
		c.Command = nil
	}
	if !reads("http", "https", "tcp", "udp", "dns", "external") {
		c.Port = 0
	}
}
