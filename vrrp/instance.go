package vrrp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/sirupsen/logrus"
)

// InstanceConfig describes one VRRP instance (one virtual router on one
// interface) as the daemon runs it. The director's configuration package
// converts its own structs into this one; zero values get the defaults
// documented on each field.
type InstanceConfig struct {
	// Name identifies the instance in logs and status.
	Name string
	// Interface is the interface the instance runs on.
	Interface string
	// VRID is the Virtual Router Identifier, 1 to 255.
	VRID uint8
	// Priority is the configured priority, 1 to 255 (255: address owner).
	Priority uint8
	// Version is 3 (RFC 5798, the default) or 2 (RFC 3768, IPv4 only).
	Version int
	// AdvertInterval is Advertisement_Interval; 0 means 1s.
	AdvertInterval time.Duration
	// Preempt is Preempt_Mode (RFC 5798 §6.1).
	Preempt bool
	// PreemptDelay, with Preempt, delays preemption (see Config).
	PreemptDelay time.Duration
	// AuthPass is the version 2 simple text password (RFC 2338 §5.3.6,
	// keepalived's auth_type PASS); empty means no authentication. At most
	// eight bytes are sent. Version 3 has no authentication.
	AuthPass string
	// Unicast, when it has peers, sends advertisements to each peer
	// instead of the multicast group, and accepts only those whose source
	// is a peer.
	Unicast Unicast
	// Paths are additional heartbeat paths: links on which the same
	// adverts are sent and received (path.go). The instance's own
	// Interface alone decides whether it can serve.
	Paths []Path
	// VIPs are the virtual addresses with their prefix lengths, all of one
	// family: the family of the instance.
	VIPs []netip.Prefix
	// VirtualMAC puts the VIPs on a macvlan with the virtual router MAC
	// 00:00:5e:00:01:VRID (IPv4) or 00:00:5e:00:02:VRID (IPv6) and sends
	// advertisements from it (RFC 5798 §7.3).
	VirtualMAC bool
	// Announce controls gratuitous ARP and unsolicited NA.
	Announce AnnounceConfig
	// TrackInterfaces lower the priority, or fault the instance, while an
	// interface is down. The instance's own Interface is always tracked
	// with weight 0: a node whose interface is down goes to Fault.
	TrackInterfaces []TrackInterface
	// TrackScripts do the same for commands that fail.
	TrackScripts []TrackScript
	// Handover controls what a graceful stop does.
	Handover Handover
	// ChecksumMode chooses the version 3 IPv4 checksum (see ChecksumMode).
	ChecksumMode ChecksumMode
}

// Unicast lists the unicast peers of an instance (keepalived's
// unicast_peer). With no peers the instance uses multicast.
type Unicast struct {
	// Source is the IP source of our advertisements; the zero Addr means
	// the interface's primary address of the family.
	Source netip.Addr
	// Peers are the other routers' addresses.
	Peers []netip.Addr
}

// AnnounceConfig controls how a new master announces its addresses.
type AnnounceConfig struct {
	// Repeat is how many rounds of announcements a new master sends, the
	// first at once; 0 means 3.
	Repeat int
	// Interval is the time between those rounds; 0 means 1s.
	Interval time.Duration
	// Refresh, if positive, re-announces every Refresh while master.
	Refresh time.Duration
}

// TrackInterface is an interface whose state changes the priority.
type TrackInterface struct {
	Name string
	// Weight is added to the priority while the interface is down
	// (usually negative); 0 puts the instance in Fault instead.
	Weight int
}

// TrackScript is a command whose exit status changes the priority.
type TrackScript struct {
	Name string
	// Command is run directly, without a shell; exit status 0 is success.
	Command []string
	// Interval between runs; 0 means 1s. Timeout kills a run that takes
	// longer and counts it as failed; 0 means Interval.
	Interval, Timeout time.Duration
	// Weight is added to the priority while the script is failing; 0 puts
	// the instance in Fault instead.
	Weight int
	// Rise is how many successes in a row end a failure, Fall how many
	// failures in a row start one; 0 means 1. The first run decides the
	// initial state, before the instance starts.
	Rise, Fall int
}

// Handover controls a graceful stop.
type Handover struct {
	// OnStop makes a master that is stopped resign (advertise priority 0
	// but keep its addresses) until a new master is heard, so that clients
	// are never without one; otherwise it shuts down at once (RFC 5798
	// §6.4.3: priority 0 advert, then release).
	OnStop bool
	// Timeout bounds the resign, on stop and for Switchover; 0 means
	// 4 * AdvertInterval (see Config.ResignTimeout).
	Timeout time.Duration
}

// Deps are optional overrides of what a Node uses to reach the kernel and
// the clock. Nil fields get the real thing: on Linux, sockets and netlink
// in the network namespace NewNode was called in.
type Deps struct {
	Conn Conn
	// PathConns, if set, are the Conns of InstanceConfig.Paths, in order;
	// nil entries are opened by Run.
	PathConns []Conn
	Addrs     Addrs
	Announcer Announcer
	// Watcher sees ARP and Neighbor Advertisements on the link (see
	// Watcher). Nil gets the real one, unless Announcer is injected:
	// then the Node runs without it.
	Watcher Watcher
	Clock   Clock
	// Log receives transitions at Info and errors at Warn; nil discards.
	Log *logrus.Entry
	// OnTransition, if set, is called on the Node's goroutine after every
	// state change. It must return quickly and must not call the Node's
	// methods that wait for it (Switchover, SetPriority): hand the value
	// to another goroutine if there is work to do.
	OnTransition func(Transition)
	// OnReannounce, if set, is called on the Node's goroutine when a
	// master announces its addresses again without a state change: at the
	// heal of a split brain (a loser heard, or the conflicting holder
	// gone), when clients that followed another holder come back. The same
	// rules as OnTransition apply.
	OnReannounce func()
	// OnConflict, if set, is called on the Node's goroutine when a master
	// sees another host claim one of its addresses (a split brain in
	// progress, or a misconfigured host; see guard.go): clients may be
	// following the other holder and will come back at the heal with
	// connections this node never saw, so the director prepares for them
	// ahead of the heal. The same rules as OnTransition apply.
	OnConflict func()
	// ListenOnly runs the Node without touching anything: it receives
	// adverts and runs its Machine, but sends no advert, adds or removes
	// no address, announces nothing and makes no virtual MAC (see
	// listen.go). `lvsd run --dry-run` sets it.
	ListenOnly bool
	// RTPriority, 1-99, runs the Node's loop and its readers on OS threads
	// of their own at that SCHED_RR priority (keepalived's
	// vrrp_rt_priority); 0 runs them on locked threads at normal priority.
	// Where realtime is not permitted, Run logs why and runs without it.
	RTPriority int
}

// VirtualMAC returns the virtual router MAC of RFC 5798 §7.3:
// 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6.
func VirtualMAC(vrid uint8, ipv4 bool) net.HardwareAddr {
	if ipv4 {
		return net.HardwareAddr{0, 0, 0x5e, 0, 1, vrid}
	}
	return net.HardwareAddr{0, 0, 0x5e, 0, 2, vrid}
}

// withDefaults returns c with zero values replaced by their defaults.
func (c InstanceConfig) withDefaults() InstanceConfig {
	if c.Version == 0 {
		c.Version = 3
	}
	if c.AdvertInterval == 0 {
		c.AdvertInterval = time.Second
	}
	if c.Announce.Repeat == 0 {
		c.Announce.Repeat = 3
	}
	if c.Announce.Interval == 0 {
		c.Announce.Interval = time.Second
	}
	scripts := make([]TrackScript, len(c.TrackScripts))
	for i, s := range c.TrackScripts {
		if s.Interval == 0 {
			s.Interval = time.Second
		}
		if s.Timeout == 0 {
			s.Timeout = s.Interval
		}
		s.Rise, s.Fall = max(s.Rise, 1), max(s.Fall, 1)
		scripts[i] = s
	}
	c.TrackScripts = scripts
	return c
}

// machineConfig returns the Machine's Config for c, with self as Self.
func (c InstanceConfig) machineConfig(self netip.Addr) Config {
	return Config{
		VRID: c.VRID, Priority: c.Priority, AdvertInterval: c.AdvertInterval,
		Preempt: c.Preempt, PreemptDelay: c.PreemptDelay, Self: self,
		Version: c.Version, ResignTimeout: c.Handover.Timeout,
	}
}

// is4 reports whether the instance is IPv4 (its VIPs are).
func (c InstanceConfig) is4() bool { return len(c.VIPs) > 0 && c.VIPs[0].Addr().Is4() }

// check reports every problem with c (after withDefaults).
func (c InstanceConfig) check() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("vrrp instance %q: "+format, append([]any{c.Name}, args...)...))
	}
	if c.Name == "" || c.Interface == "" {
		bad("needs a name and an interface")
	}
	if len(c.VIPs) == 0 {
		bad("no virtual addresses")
	}
	for _, p := range c.VIPs {
		if !p.IsValid() || p.Addr().Zone() != "" || p.Addr().Is4In6() || p.Addr().Is4() != c.is4() {
			bad("virtual address %v: need valid addresses of one family, without zone", p)
		}
	}
	if c.Version == 2 && (!c.is4() || len(c.VIPs) > 255) {
		bad("version 2 carries IPv4 only")
	}
	if c.AuthPass != "" && c.Version != 2 {
		bad("auth_pass needs version 2 (RFC 5798 §9 removed authentication)")
	}
	for _, a := range append([]netip.Addr{c.Unicast.Source}, c.Unicast.Peers...) {
		if a.IsValid() && (a.Is4() != c.is4() || a.Is4In6()) {
			bad("unicast address %v is not of the family of the virtual addresses", a)
		}
	}
	seen := map[string]bool{c.Interface: true}
	for _, p := range c.Paths {
		if p.Interface == "" || seen[p.Interface] {
			bad("path %q: need an interface other than the instance's and the other paths'", p.Interface)
		}
		seen[p.Interface] = true
		for _, a := range append([]netip.Addr{p.Unicast.Source}, p.Unicast.Peers...) {
			if a.IsValid() && (a.Is4() != c.is4() || a.Is4In6()) {
				bad("path %s: unicast address %v is not of the family of the virtual addresses", p.Interface, a)
			}
		}
	}
	if c.Announce.Repeat < 0 || c.Announce.Interval < 0 || c.Announce.Refresh < 0 {
		bad("announce repeat, interval and refresh must not be negative")
	}
	for _, t := range c.TrackInterfaces {
		if t.Name == "" || t.Weight < -254 || t.Weight > 254 {
			bad("track interface %q: need a name and a weight of -254 to 254", t.Name)
		}
	}
	for _, s := range c.TrackScripts {
		if s.Name == "" || len(s.Command) == 0 || s.Weight < -254 || s.Weight > 254 || s.Interval < 0 || s.Timeout < 0 {
			bad("track script %q: need a name, a command, a weight of -254 to 254 and positive times", s.Name)
		}
	}
	if c.Handover.Timeout < 0 {
		bad("handover timeout must not be negative")
	}
	// Let the Machine check the rest, with a stand-in for the address that
	// only Run can learn from the interface.
	probe := netip.IPv6LinkLocalAllNodes()
	if c.is4() || c.Version == 2 {
		probe = netip.AddrFrom4([4]byte{192, 0, 2, 1})
	}
	if err := c.machineConfig(probe).Check(); err != nil {
		bad("%w", err)
	}
	return errors.Join(errs...)
}
