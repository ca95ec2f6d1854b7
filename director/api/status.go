package api

import (
	"fmt"
	"net/netip"
	"time"
)

// Status is the snapshot of one running lvsd: what `lvsd status` prints,
// what the status page shows and what /metrics exports.
type Status struct {
	Node       string    `json:"node"`
	Version    string    `json:"version"`
	Config     string    `json:"config"`
	StartedAt  time.Time `json:"started_at"`
	Generation int       `json:"generation"`
	LoadedAt   time.Time `json:"loaded_at"`
	Instances  int       `json:"instances"`
	Services   int       `json:"services"`
	Reals      int       `json:"reals"`
	// Mode is "" for a daemon that drives the kernel, "dry-run" for one
	// that only listens and computes, "ipvs-memory" for one whose IPVS
	// table is in memory (test labs).
	Mode       string              `json:"mode,omitempty"`
	LastReload *ReloadResult       `json:"last_reload,omitempty"`
	IPVS       IPVSStatus          `json:"ipvs"`
	VRRP       []Instance          `json:"vrrp"`
	Health     []Real              `json:"health"`
	Drained    map[string][]string `json:"drained,omitempty"`
	Handover   *HandoverStatus     `json:"handover,omitempty"`
	Warnings   []string            `json:"warnings,omitempty"`
	// Events are the last state changes of instances and realservers,
	// oldest first.
	Events []Event `json:"events,omitempty"`
	// HTTP lists the addresses the status page and /metrics listen on.
	HTTP []string `json:"http,omitempty"`
}

// Event is one state change of a VRRP instance or a realserver.
type Event struct {
	At time.Time `json:"at"`
	// Kind is "vrrp" or "realserver".
	Kind string `json:"kind"`
	// Subject names the instance, or the service and realserver
	// ("web 10.0.0.1:80").
	Subject string `json:"subject"`
	From    string `json:"from"`
	To      string `json:"to"`
	Reason  string `json:"reason,omitempty"`
}

// Instance is one VRRP instance.
type Instance struct {
	Name      string    `json:"name"`
	Interface string    `json:"interface"`
	VRID      uint8     `json:"vrid"`
	State     VRRPState `json:"state"`
	// Priority is the effective priority, after tracking and switchover.
	Priority uint8 `json:"priority"`
	// Master is the master's address as last heard, this node's own
	// while it holds the VIPs; invalid when unknown.
	Master netip.Addr `json:"master,omitzero"`
	// Since is when the current state began.
	Since time.Time `json:"since"`
	// Faults lists why the instance is in FAULT.
	Faults []string `json:"faults,omitempty"`
	// PreemptHeld says why this node, as backup, defers to any live
	// master (preempt_needs_realservers): a service the instance fronts
	// has no realserver its checks found up. Empty when not held.
	PreemptHeld string `json:"preempt_held,omitempty"`
	// LastAdvert is when the last advertisement from another router
	// arrived, and PeerAddr who sent it; zero when none yet.
	LastAdvert time.Time  `json:"last_advert,omitzero"`
	PeerAddr   netip.Addr `json:"peer,omitzero"`
	// Transitions are the last state changes, oldest first.
	Transitions []Transition     `json:"transitions,omitempty"`
	Counters    InstanceCounters `json:"counters"`
	// Conflict is the address conflict in progress, if any.
	Conflict *AddressConflict `json:"conflict,omitempty"`
	// Paths are the heartbeat paths, the instance's interface first; only
	// when the instance has more than one.
	Paths []HeartbeatPath `json:"paths,omitempty"`
	// AdvertLateness is how late the instance sent its timed adverts;
	// nil before it sent any.
	AdvertLateness *AdvertLateness `json:"advert_lateness,omitempty"`
}

// AdvertLateness is the distribution of how late an instance sent its
// timed advertisements against their deadlines (the master's
// Adver_Timer, a takeover's Master_Down_Timer): fixed buckets, each
// counting the adverts later than the bound before it and at most as
// late as its own; the last bucket's LE is 0, for "later than every
// bound".
type AdvertLateness struct {
	Count   uint64          `json:"count"`
	Sum     time.Duration   `json:"sum_ns"`
	Max     time.Duration   `json:"max_ns"`
	P50     time.Duration   `json:"p50_ns"` // the bound of the bucket holding the median
	P99     time.Duration   `json:"p99_ns"`
	Buckets []LatenessCount `json:"buckets"`
}

// LatenessCount is one bucket of AdvertLateness.
type LatenessCount struct {
	LE    time.Duration `json:"le_ns"`
	Count uint64        `json:"count"`
}

// HeartbeatPath is one link an instance sends and hears adverts on.
type HeartbeatPath struct {
	Interface string     `json:"interface"`
	Source    netip.Addr `json:"source,omitzero"`
	// LastAdvert is when an advert from another router last arrived on
	// this path; zero when none yet.
	LastAdvert time.Time `json:"last_advert,omitzero"`
	// Silent is set while this path hears nothing but another hears the
	// peer: the heartbeat has lost its redundancy. Silences counts how
	// often that began.
	Silent   bool   `json:"silent,omitempty"`
	Silences uint64 `json:"silences"`
}

// AddressConflict is another host (MAC) claiming a VIP (Addr) of a master.
type AddressConflict struct {
	Addr  netip.Addr `json:"addr"`
	MAC   string     `json:"mac"`
	Since time.Time  `json:"since"`
}

// Transition is one state change of an instance.
type Transition struct {
	At     time.Time `json:"at"`
	From   VRRPState `json:"from"`
	To     VRRPState `json:"to"`
	Reason string    `json:"reason"`
}

// InstanceCounters count since the instance started.
type InstanceCounters struct {
	AdvertsSent     uint64 `json:"adverts_sent"`
	AdvertsReceived uint64 `json:"adverts_received"`
	// Drops counts received packets dropped, by reason.
	Drops          map[string]uint64 `json:"drops,omitempty"`
	Transitions    uint64            `json:"transitions"`
	ToMaster       uint64            `json:"to_master"`
	FromMaster     uint64            `json:"from_master"`
	AnnouncesSent  uint64            `json:"announces_sent"`
	SendErrors     uint64            `json:"send_errors"`
	AddrErrors     uint64            `json:"addr_errors"`
	AnnounceErrors uint64            `json:"announce_errors"`
	ReadErrors     uint64            `json:"read_errors"`
	// Conflicts counts another host claiming a VIP while this node was
	// master (split brain, misconfigured host); Claims counts the claims
	// by kind, Heals the conflicts that ended with this node announcing
	// again. Probes counts ARP/NS probes, ProxyAnnounces the
	// announcements sent at a new master's MAC after stepping down.
	Conflicts      uint64            `json:"conflicts"`
	Claims         map[string]uint64 `json:"claims,omitempty"`
	Heals          uint64            `json:"heals"`
	Probes         uint64            `json:"probes"`
	ProxyAnnounces uint64            `json:"proxy_announces"`
}

// Real is one realserver of a service with its health check.
type Real struct {
	Service string         `json:"service"`
	Real    netip.AddrPort `json:"real"`
	// Virtual is the service's key in the IPVS table, as ServiceStatus.Key.
	Virtual string `json:"virtual"`
	// Weight is the configured weight; the kernel's is in IPVSStatus.
	Weight  int  `json:"weight"`
	Drained bool `json:"drained,omitempty"`
	// Target is what the check probes (address and port overrides applied).
	Target netip.AddrPort `json:"target"`
	Type   string         `json:"type"`
	State  HealthState    `json:"state"`
	Up     bool           `json:"up"`
	// Successes and Failures are consecutive, against Rise and Fall.
	Successes  int       `json:"successes"`
	Failures   int       `json:"failures"`
	Rise       int       `json:"rise"`
	Fall       int       `json:"fall"`
	Checks     uint64    `json:"checks"`
	LastCheck  time.Time `json:"last_check,omitzero"`
	LastReason string    `json:"last_reason,omitempty"` // "" when the last check passed
	LastDetail string    `json:"last_detail,omitempty"`
	// LastLatency is how long the last check took.
	LastLatency time.Duration `json:"last_latency_ns,omitempty"`
	// Since is the last change between up and down; zero before any.
	Since time.Time `json:"since,omitzero"`
}

// HandoverStatus is what the connection handover at VIP moves did: the
// last connection table sent to the peer, and how many resets and
// untranslated NAT replies the hold has dropped since lvsd started.
type HandoverStatus struct {
	LastFlushAt time.Time `json:"last_flush_at,omitzero"`
	LastFlushed int       `json:"last_flushed"`
	LastError   string    `json:"last_error,omitempty"`
	Held        uint64    `json:"held"`
}

// IPVSStatus is the kernel table as the last reconcile left it.
type IPVSStatus struct {
	At time.Time `json:"at"`
	// Latency of the last reconcile: from the change that asked for it
	// (a health decision, a reload) to the kernel holding it.
	Latency  time.Duration   `json:"latency_ns"`
	Error    string          `json:"error,omitempty"`
	Services []ServiceStatus `json:"services"`
}

// ServiceStatus is one virtual service in the kernel, with its counters
// when the kernel has them.
type ServiceStatus struct {
	Key string `json:"key"`
	// Name is the service's name in the files; "" for a service lvsd
	// does not manage.
	Name        string       `json:"name,omitempty"`
	Scheduler   string       `json:"scheduler"`
	Connections uint32       `json:"connections"`
	InBytes     uint64       `json:"in_bytes"`
	OutBytes    uint64       `json:"out_bytes"`
	CPS         uint32       `json:"cps"`
	Reals       []RealStatus `json:"reals"`
}

// RealStatus is one destination in the kernel.
type RealStatus struct {
	Addr     string `json:"addr"`
	Forward  string `json:"forward"`
	Weight   int    `json:"weight"`
	Active   uint32 `json:"active_conns"`
	Inactive uint32 `json:"inactive_conns"`
	// Connections counts every connection the kernel gave it; CPS is the
	// kernel's estimate of new connections a second.
	Connections uint32 `json:"connections"`
	CPS         uint32 `json:"cps"`
	InBytes     uint64 `json:"in_bytes"`
	OutBytes    uint64 `json:"out_bytes"`
}

// Masters returns how many instances are MASTER (or resigning).
func (s Status) Masters() int {
	n := 0
	for _, v := range s.VRRP {
		if v.State.HoldsVIPs() {
			n++
		}
	}
	return n
}

// Progress tells how far a realserver is along rise or fall, the same on
// the status page and in lvsd status: "2/3 ok" while a down one passes,
// "1/2 failed" while an up one fails.
func (r Real) Progress() string {
	switch {
	case r.State == HealthUnchecked:
		return "-"
	case r.Up && r.Failures > 0:
		return fmt.Sprintf("%d/%d failed", r.Failures, r.Fall)
	case !r.Up && r.Successes > 0:
		return fmt.Sprintf("%d/%d ok", r.Successes, r.Rise)
	case r.Up:
		return fmt.Sprintf("%d ok", r.Successes)
	}
	return fmt.Sprintf("%d failed", r.Failures)
}
