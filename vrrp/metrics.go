package vrrp

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics exports the VRRP instances of a daemon to Prometheus. It reads
// each Node's status at scrape time, so the Node's hot path only bumps
// the counters it keeps for status anyway. Labels are the instance's
// name (vrrp_instance: Prometheus's own "instance" names the target),
// interface and VRID; the state is a value, never a label, so that a
// state change never starts a new series.
type Metrics struct {
	nodes func() []*Node
	now   func() time.Time

	state, priority, since, advertAge                 *prometheus.Desc
	sent, received, toMaster, fromMaster, announces   *prometheus.Desc
	drops, errors                                     *prometheus.Desc
	conflict, conflicts, claims, heals, probes, proxy *prometheus.Desc
	pathAge, pathSilent, pathSilences                 *prometheus.Desc
	lateness                                          *prometheus.Desc
}

// NewMetrics returns a collector over the nodes that nodes returns at
// each scrape (none before VRRP starts).
func NewMetrics(nodes func() []*Node) *Metrics {
	l := []string{"vrrp_instance", "interface", "vrid"}
	d := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc("lvsd_vrrp_"+name, help, append(l[:3:3], extra...), nil)
	}
	return &Metrics{
		nodes: nodes, now: time.Now,
		state:        d("state", "VRRP state as the keepalived exporters number it: 0 INIT, 1 BACKUP, 2 MASTER (also while resigning, VIPs still held), 3 FAULT."),
		priority:     d("priority", "Effective priority, after tracking and switchover."),
		since:        d("state_since_timestamp_seconds", "When the current state began, as a Unix time."),
		advertAge:    d("master_advert_age_seconds", "Seconds since the last advertisement from the current master: received from the peer on a backup, sent by this node on the master. Absent while no master is known."),
		sent:         d("adverts_sent_total", "Advertisements sent, one per destination."),
		received:     d("adverts_received_total", "Advertisements received that passed validation."),
		toMaster:     d("transitions_to_master_total", "Transitions into MASTER."),
		fromMaster:   d("transitions_from_master_total", "Transitions out of MASTER."),
		announces:    d("gratuitous_announces_sent_total", "Gratuitous ARP and unsolicited neighbour advertisement packets sent."),
		drops:        d("adverts_dropped_total", "Received packets dropped, by reason.", "reason"),
		errors:       d("errors_total", "Failed operations, by operation: send (advert), addr (VIP add or remove), announce (ARP/NA, probes), read.", "op"),
		conflict:     d("address_conflict", "1 while another host claims a virtual address of this master (a split brain, or a misconfigured host), else 0."),
		conflicts:    d("address_conflicts_total", "Address conflicts seen as master."),
		claims:       d("address_claims_total", "Claims on a virtual address by another host seen as master, by kind: announce (gratuitous ARP, unsolicited NA), reply (ARP reply, solicited NA), other (ARP sent from the address).", "kind"),
		heals:        d("address_conflict_heals_total", "Conflicts that ended with the other holder gone and this master announcing again."),
		probes:       d("probes_sent_total", "ARP probes and neighbour solicitations sent: for a conflict, and to learn a new master's MAC."),
		proxy:        d("proxy_announces_sent_total", "Gratuitous ARP and NA packets sent at a new master's MAC after stepping down to it."),
		pathAge:      d("path_advert_age_seconds", "Seconds since an advert from another router arrived on this heartbeat path; only for instances with paths, absent before any.", "path"),
		pathSilent:   d("path_silent", "1 while this heartbeat path hears nothing but another path hears the peer (the heartbeat lost its redundancy), else 0.", "path"),
		pathSilences: d("path_silences_total", "Times this heartbeat path went silent while another heard the peer.", "path"),
		lateness:     d("advert_lateness_seconds", "How late each timed advertisement went out against its deadline (Adver_Timer, or the Master_Down_Timer of a takeover)."),
	}
}

// Describe sends every descriptor.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.state, m.priority, m.since, m.advertAge, m.sent, m.received,
		m.toMaster, m.fromMaster, m.announces, m.drops, m.errors,
		m.conflict, m.conflicts, m.claims, m.heals, m.probes, m.proxy,
		m.pathAge, m.pathSilent, m.pathSilences, m.lateness} {
		ch <- d
	}
}

// Collect sends each node's figures.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	now := m.now()
	for _, n := range m.nodes() {
		s := n.Status()
		l := []string{s.Name, s.Interface, strconv.Itoa(int(s.VRID))}
		gauge := func(d *prometheus.Desc, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(l[:3:3], extra...)...)
		}
		counter := func(d *prometheus.Desc, v uint64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append(l[:3:3], extra...)...)
		}
		c := s.Counters
		gauge(m.state, float64(StateNumber(s.State)))
		gauge(m.priority, float64(s.Priority))
		if !s.Since.IsZero() {
			gauge(m.since, float64(s.Since.UnixNano())/1e9)
		}
		if at := masterAdvert(s); !at.IsZero() {
			gauge(m.advertAge, max(0, now.Sub(at).Seconds()))
		}
		counter(m.sent, c.AdvertsSent)
		counter(m.received, c.AdvertsReceived)
		counter(m.toMaster, c.ToMaster)
		counter(m.fromMaster, c.FromMaster)
		counter(m.announces, c.AnnouncesSent)
		// Every reason, zeros included, so that rate() sees the first drop.
		for _, r := range reasons {
			counter(m.drops, c.Drops[r.reason], string(r.reason))
		}
		counter(m.drops, c.Drops[ReasonOther], string(ReasonOther))
		counter(m.errors, c.SendErrors, "send")
		counter(m.errors, c.AddrErrors, "addr")
		counter(m.errors, c.AnnounceErrors, "announce")
		counter(m.errors, c.ReadErrors, "read")
		inConflict := 0.0
		if s.Conflict.Addr.IsValid() {
			inConflict = 1
		}
		gauge(m.conflict, inConflict)
		counter(m.conflicts, c.Conflicts)
		for _, k := range ClaimKinds {
			counter(m.claims, c.Claims[k], string(k))
		}
		counter(m.heals, c.Heals)
		counter(m.probes, c.Probes)
		counter(m.proxy, c.ProxyAnnounces)
		m.collectPaths(s, now, gauge, counter)
		ch <- m.latenessHistogram(s.AdvertLateness, l)
	}
}

// latenessHistogram converts a node's Lateness (non-cumulative buckets)
// into a Prometheus histogram (cumulative, in seconds).
func (m *Metrics) latenessHistogram(lt Lateness, labels []string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(LatenessBounds))
	var sum uint64
	for i, b := range LatenessBounds {
		sum += lt.Buckets[i]
		buckets[b.Seconds()] = sum
	}
	return prometheus.MustNewConstHistogram(m.lateness, lt.Count, lt.Sum.Seconds(), buckets, labels...)
}

// collectPaths sends the heartbeat paths' figures, for an instance with
// more than its own interface (path.go).
func (m *Metrics) collectPaths(s NodeStatus, now time.Time, gauge func(*prometheus.Desc, float64, ...string),
	counter func(*prometheus.Desc, uint64, ...string)) {
	if len(s.Paths) < 2 {
		return
	}
	for _, p := range s.Paths {
		if !p.LastAdvert.IsZero() {
			gauge(m.pathAge, max(0, now.Sub(p.LastAdvert).Seconds()), p.Interface)
		}
		silent := 0.0
		if p.Silent {
			silent = 1
		}
		gauge(m.pathSilent, silent, p.Interface)
		counter(m.pathSilences, p.Silences, p.Interface)
	}
}

// masterAdvert is when the current master last advertised: this node's
// own last advert while it holds the VIPs, the peer's when the peer is
// the master; zero when the master is unknown.
func masterAdvert(s NodeStatus) time.Time {
	switch {
	case s.State == Master || s.State == Resigning:
		return s.LastSent
	case s.Master.IsValid() && s.Master == s.Peer:
		return s.LastAdvert
	}
	return time.Time{}
}

// StateNumber numbers a state as the keepalived exporters do (INIT 0,
// BACKUP 1, MASTER 2, FAULT 3), so their dashboards' thresholds carry
// over; Resigning still holds the VIPs and counts as MASTER.
func StateNumber(s State) int {
	switch s {
	case Backup:
		return 1
	case Master, Resigning:
		return 2
	case Fault:
		return 3
	}
	return 0
}
