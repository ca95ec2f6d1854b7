package director

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/ipvs"
	"github.com/lvsd/lvsd/director/web"
	"github.com/lvsd/lvsd/healthcheck"
)

// labelSet holds the rendered Prometheus label sets of one configuration,
// in its order: per service (service, local_address, local_port, proto,
// local_mark) and per realserver (the same, then remote_address,
// remote_port). The label names are node_exporter's IPVS collector's, so
// that lvsd's series join its node_ipvs_backend_* ones in PromQL.
// Rendered once per configuration, so a scrape only copies strings; and
// written in the configuration's order, so that consecutive lines differ
// in a few bytes, which is what the scrape's compressor feeds on.
type labelSet struct {
	of     *Loaded
	svcs   []svcRow
	reals  []realRow        // grouped by service, in svcs' order
	svcPos map[string]int   // index in svcs, by name
	addrs  []netip.AddrPort // reals' addresses, compact, for position's scan and align's comparison
	health *healthcheck.View

	// The label sets alone, in the same orders: the slices every family
	// of a kind passes to Column, unchanged for the configuration's life.
	svcLabels, realLabels []string

	mu    sync.Mutex
	extra map[realKey]string // destinations not in the files (sorry servers)
}

type svcRow struct {
	name, labels string
	key          ipvs.ServiceKey
	reals        []realRow              // a window of labelSet.reals
	first        int                    // index of reals[0] in labelSet.reals
	pos          map[netip.AddrPort]int // index in reals, for a service of many
	// byAddr lists reals' indices in address order, the order of the
	// kernel's destinations (ipvs.Counters.Dests); nil when reals are in
	// it already, as most files list them.
	byAddr []int32
}

// scanReals is how many realservers a service has at most for position
// to find one by comparing addresses, rather than in a map of its own.
const scanReals = 32

type realRow struct {
	service, labels string
	addr            netip.AddrPort
	weight          int
	initialUp       bool // the check's initial state, until the health runner knows better
}

type realKey struct {
	service string
	real    netip.AddrPort
}

// virtualLabels are the label pairs that name a virtual service as
// node_exporter does: address and port, or for a firewall-mark service
// no address, port 0, proto FWM and the mark.
func virtualLabels(s config.Service) []string {
	if s.FWMark != 0 {
		return []string{"service", s.Name, "local_address", "", "local_port", "0", "proto", "FWM",
			"local_mark", strconv.FormatUint(uint64(s.FWMark), 10)}
	}
	return []string{"service", s.Name, "local_address", s.Virtual.Addr().String(),
		"local_port", strconv.Itoa(int(s.Virtual.Port())), "proto", strings.ToUpper(s.Protocol), "local_mark", ""}
}

func remoteLabels(a netip.AddrPort) string {
	return web.Labels("remote_address", a.Addr().String(), "remote_port", strconv.Itoa(int(a.Port())))
}

func newLabelSet(cur *Loaded, health *healthcheck.Metrics) *labelSet {
	cfg := cur.Config
	n := 0
	for _, s := range cfg.Services {
		n += len(s.Reals)
	}
	l := &labelSet{of: cur, svcs: make([]svcRow, 0, len(cfg.Services)), reals: make([]realRow, 0, n),
		svcPos: make(map[string]int, len(cfg.Services)), extra: map[realKey]string{}}
	// Every label set is a window of one string per kind, in the order
	// the scrapes read them: 1.5 MB at 1,000 services x 10 realservers
	// read a dozen times a scrape from consecutive memory, rather than
	// from 10,000 strings wherever the heap put them.
	var svcText, realText []byte
	svcEnds, realEnds := make([]int, 0, len(cfg.Services)), make([]int, 0, n)
	for _, s := range cfg.Services {
		svcStart := len(svcText)
		svcText = append(svcText, web.Labels(virtualLabels(s)...)...)
		v := svcText[svcStart:]
		svcEnds = append(svcEnds, len(svcText))
		for _, r := range s.Reals {
			realText = append(append(append(realText, v...), ','), remoteLabels(r.Addr)...)
			realEnds = append(realEnds, len(realText))
		}
	}
	svcAll, realAll := string(svcText), string(realText)
	hist := make([]healthcheck.ServiceSeries, 0, len(cfg.Services))
	for i, s := range cfg.Services {
		v := svcAll[start(svcEnds, i):svcEnds[i]]
		l.svcPos[s.Name] = len(l.svcs)
		l.svcs = append(l.svcs, svcRow{name: s.Name, labels: v, key: ipvs.KeyOf(s), first: len(l.reals)})
		hist = append(hist, healthcheck.ServiceSeries{Name: s.Name, Labels: v})
		for _, r := range s.Reals {
			j := len(l.reals)
			l.reals = append(l.reals, realRow{service: s.Name, labels: realAll[start(realEnds, j):realEnds[j]], addr: r.Addr,
				weight: r.Weight, initialUp: r.Check.Initial != "down"})
		}
	}
	for i := range l.svcs {
		s := &l.svcs[i]
		s.reals = l.reals[s.first : s.first+len(cfg.Services[i].Reals)]
		if !slices.IsSortedFunc(s.reals, func(a, b realRow) int { return a.addr.Compare(b.addr) }) {
			s.byAddr = make([]int32, len(s.reals))
			for j := range s.byAddr {
				s.byAddr[j] = int32(j)
			}
			slices.SortFunc(s.byAddr, func(a, b int32) int { return s.reals[a].addr.Compare(s.reals[b].addr) })
		}
		if len(s.reals) > scanReals {
			s.pos = make(map[netip.AddrPort]int, len(s.reals))
			for j, r := range s.reals {
				s.pos[r.addr] = s.first + j
			}
		}
		l.svcLabels = append(l.svcLabels, s.labels)
	}
	l.addrs = make([]netip.AddrPort, 0, len(l.reals))
	for _, r := range l.reals {
		l.realLabels = append(l.realLabels, r.labels)
		l.addrs = append(l.addrs, r.addr)
	}
	l.health = health.NewView(l.realLabels, func(i int) (string, netip.AddrPort) { return l.reals[i].service, l.reals[i].addr },
		hist, l.svcLabels)
	return l
}

// start is where the i-th of the strings ending at ends starts.
func start(ends []int, i int) int {
	if i == 0 {
		return 0
	}
	return ends[i-1]
}

// position returns the index in reals of the realserver real of service,
// and whether the configuration has it: a small map of the services,
// then the service's few addresses, in the configuration's order.
func (l *labelSet) position(service string, real netip.AddrPort) (int, bool) {
	i, ok := l.svcPos[service]
	if !ok {
		return 0, false
	}
	return l.inService(i, real)
}

// align puts the health runner's states in l's order: health[i] is that
// of l.reals[i], left zero (untracked) for one the runner lacks. The
// runner keeps its realservers in the order of its last targets, which
// the engine lists in the configuration's order: once it has this
// configuration's, row i is l's row i, which a comparison confirms (the
// names are the configuration's strings, so each compares equal by
// pointer). A row that differs (the runner has another configuration's
// targets, the reload between the two being under way) is looked up.
func (l *labelSet) align(health []healthcheck.RealState, rows []healthcheck.Pair, states []healthcheck.RealState) {
	same := len(rows) == len(l.reals)
	for i := range rows {
		if same && rows[i].Real == l.addrs[i] && rows[i].Service == l.reals[i].service {
			health[i] = states[i]
		} else if p, ok := l.position(rows[i].Service, rows[i].Real); ok {
			health[p] = states[i]
		}
	}
}

func (l *labelSet) inService(i int, real netip.AddrPort) (int, bool) {
	s := &l.svcs[i]
	if s.pos != nil {
		p, ok := s.pos[real]
		return p, ok
	}
	for j, a := range l.addrs[s.first : s.first+len(s.reals)] {
		if a == real {
			return s.first + j, true
		}
	}
	return 0, false
}

// destLabels renders the labels of a destination the files do not list
// (a sorry server), remembered after the first time.
func (l *labelSet) destLabels(svc *svcRow, a netip.AddrPort) string {
	k := realKey{svc.name, a}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.extra[k]; ok {
		return s
	}
	s := svc.labels + "," + remoteLabels(a)
	l.extra[k] = s
	return s
}
