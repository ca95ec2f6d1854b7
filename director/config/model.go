package config

import (
	"net/netip"
	"time"
)

// Config is a whole validated configuration: the main file and every
// service file, with defaults filled in and every value parsed.
type Config struct {
	MainFile      string
	Node          string
	LogLevel      string // trace, debug, info, warn, error
	LogFormat     string // text or json
	ControlSocket string
	HTTPListen    string // host:port, several separated by commas; "" when disabled
	ServicesDir   string
	Instances     []Instance
	Groups        []Group
	RTPriority    int   // vrrp.rt_priority: SCHED_RR priority (1-99) of the VRRP threads, 0 for none
	Sync          *Sync // nil when connection sync is off
	Notify        Notify
	Director      Director
	Services      []Service // ordered by file name
	Warnings      []*Error  // host checks that could not be made here, located like errors

	mainRep    reporter // the main file's, for errors found beyond it
	guessedDir bool     // ServicesDir read from a main file YAML could not parse
}

// Instance is one VRRP virtual router (RFC 5798 §6.1).
type Instance struct {
	Name           string
	Interface      string
	VRID           uint8
	Priority       uint8
	Version        int // 2 (RFC 3768) or 3 (RFC 5798)
	AdvertInterval time.Duration
	Preempt        bool
	PreemptDelay   time.Duration
	// PreemptNeedsReals holds the instance's preemption while a service
	// it fronts has no realserver this node's checks found up (director
	// package, preempt.go).
	PreemptNeedsReals bool
	AuthPass          string // VRRPv2 simple text authentication, at most 8 bytes
	Unicast           *Unicast
	Paths             []Path // more heartbeat links (paths.go)
	VIPs              []netip.Prefix
	VirtualMAC        bool
	// Checksum is the VRRPv3 IPv4 checksum variant: "pseudo-header" (the
	// default, keepalived's), "no-pseudo-header" (RFC 9568, Cisco,
	// Juniper, keepalived's v3_checksum_as_v2) or "legacy-unicast"
	// (keepalived 1.3.6 and earlier with unicast peers).
	Checksum     string
	Announce     Announce
	TrackIfaces  []TrackInterface
	TrackScripts []TrackScript
	Handover     Handover
}

// IPv6 reports whether the instance carries IPv6 addresses (one family per
// instance, RFC 5798 §5.2.9).
func (in Instance) IPv6() bool { return len(in.VIPs) > 0 && in.VIPs[0].Addr().Is6() }

// Unicast replaces multicast advertisements with unicast to known peers.
type Unicast struct {
	Source netip.Addr
	Peers  []netip.Addr
}

// Announce says how the master makes clients follow the VIPs: gratuitous
// ARP (IPv4) and unsolicited neighbour advertisements (IPv6).
type Announce struct {
	Repeat   int           // announcements at takeover
	Interval time.Duration // between them
	Refresh  time.Duration // periodic re-announce while master; 0 = off
}

// TrackInterface lowers the priority by Weight while the interface is down;
// Weight 0 puts the instance in fault instead.
type TrackInterface struct {
	Name   string
	Weight int
}

// TrackScript runs Command every Interval; after Fall failures the priority
// drops by Weight (0: fault) until Rise successes.
type TrackScript struct {
	Name     string
	Command  []string
	Interval time.Duration
	Timeout  time.Duration
	Weight   int
	Rise     int
	Fall     int
}

// Handover configures the zero-loss planned switchover: the master
// advertises priority 0 but keeps its VIPs until the new master is heard.
type Handover struct {
	OnStop  bool // also on SIGTERM
	Timeout time.Duration
}

// Group names instances that change state together.
type Group struct {
	Name      string
	Instances []string
}

// Sync configures the kernel's IPVS connection synchronisation daemon.
type Sync struct {
	Interface string
	SyncID    uint8
	// HoldResets is how long after taking the VIPs this node holds the
	// resets its own TCP stack would send for connections it does not know
	// yet (they are on their way from the old master); 0 holds none.
	HoldResets time.Duration
}

// Notify says whom to tell about state changes.
type Notify struct {
	Command []string
	Webhook string
	Timeout time.Duration
	Email   *Email // nil when no mail is sent
}

// Director holds the IPVS reconciler's options.
type Director struct {
	ReconcileInterval time.Duration
	OnStop            string // "keep" (default) or "clear"
	LoadModule        bool
	SetSysctls        bool
	// MemoryLimit is the soft limit of the daemon's memory in bytes, as
	// GOMEMLIMIT sets it (runtime/debug.SetMemoryLimit); 0: none, the
	// runtime's default (GOMEMLIMIT from the environment, else none).
	MemoryLimit int64
}

// Forward is an IPVS forwarding method.
type Forward string

// The forwarding methods of IPVS.
const (
	NAT    Forward = "nat"
	DR     Forward = "dr"
	Tunnel Forward = "tun"
)

// Service is one IPVS virtual service, from one service file.
type Service struct {
	File           string
	Line           int
	Name           string
	Virtual        netip.AddrPort // invalid for fwmark services
	FWMark         uint32
	IPv6           bool
	Protocol       string // tcp, udp, sctp ("" for fwmark)
	Scheduler      string
	SchedulerFlags []string
	Forward        Forward
	Persistence    *Persistence
	Quiescent      bool
	Sorry          netip.AddrPort // invalid when there is none
	// Check is the service's check. Its realservers without a check of
	// their own point at this one: a configuration is never changed once
	// loaded, and 100,000 realservers need not carry 100,000 copies.
	Check *Check
	Reals []Real

	at crossPos // where the keys that the checks across files name are
}

// Persistence makes a client stick to one realserver (ipvsadm -p, -M).
type Persistence struct {
	Timeout time.Duration
	Netmask int // prefix length applied to the client address
}

// Real is a realserver of a service.
type Real struct {
	Addr           netip.AddrPort // port 0 keeps the client's port (fwmark)
	Weight         int
	UpperThreshold int
	LowerThreshold int
	Forward        Forward
	// Check is the service's check (the same pointer) or, when the real
	// overrides some keys, its own; never nil in a loaded configuration,
	// and never to be modified.
	Check *Check
}

// Check is a health check of a realserver.
type Check struct {
	Type     string // http https tcp ping udp dns external none on off
	Interval time.Duration
	Timeout  time.Duration
	Rise     int
	Fall     int
	Initial  string // up or down
	Port     int    // 0: the realserver's port
	Address  netip.Addr
	Source   netip.Addr

	// RetryInterval is how soon a failed check of an up realserver runs
	// again, until Fall failures in a row; at most Interval (= Interval:
	// no retries).
	RetryInterval time.Duration

	Method     string
	Path       string
	Host       string
	Status     []int
	Body       string
	BodyRegex  string
	TLSVerify  bool
	ServerName string

	Send      string
	Expect    string
	Query     string
	QueryType string
	Command   []string
}
