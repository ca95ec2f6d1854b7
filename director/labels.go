package director

import (
	"net/netip"
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
	of    *Loaded
	svcs  []svcRow
	reals []realRow                   // grouped by service, in svcs' order
	pos   map[realKey]int             // index in reals
	hist  []healthcheck.ServiceSeries // the services' histogram labels
	// The label sets alone, in the same orders: the slices every family
	// of a kind passes to Column, unchanged for the configuration's life.
	svcLabels, realLabels []string

	mu    sync.Mutex
	extra map[realKey]string // destinations not in the files (sorry servers)
}

type svcRow struct {
	name, labels string
	key          ipvs.ServiceKey
	reals        []realRow // a window of labelSet.reals
	first        int       // index of reals[0] in labelSet.reals
}

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

func newLabelSet(cur *Loaded) *labelSet {
	cfg := cur.Config
	n := 0
	for _, s := range cfg.Services {
		n += len(s.Reals)
	}
	l := &labelSet{of: cur, svcs: make([]svcRow, 0, len(cfg.Services)), reals: make([]realRow, 0, n),
		pos:  make(map[realKey]int, n),
		hist: make([]healthcheck.ServiceSeries, 0, len(cfg.Services)), extra: map[realKey]string{}}
	for _, s := range cfg.Services {
		v := web.Labels(virtualLabels(s)...)
		l.svcs = append(l.svcs, svcRow{name: s.Name, labels: v, key: ipvs.KeyOf(s), first: len(l.reals)})
		l.hist = append(l.hist, healthcheck.ServiceSeries{Name: s.Name, Labels: v})
		for _, r := range s.Reals {
			l.pos[realKey{s.Name, r.Addr}] = len(l.reals)
			l.reals = append(l.reals, realRow{service: s.Name, labels: v + "," + remoteLabels(r.Addr), addr: r.Addr,
				weight: r.Weight, initialUp: r.Check.Initial != "down"})
		}
	}
	for i := range l.svcs {
		s := &l.svcs[i]
		s.reals = l.reals[s.first : s.first+len(cfg.Services[i].Reals)]
		l.svcLabels = append(l.svcLabels, s.labels)
	}
	for _, r := range l.reals {
		l.realLabels = append(l.realLabels, r.labels)
	}
	return l
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
