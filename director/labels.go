package director

import (
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/ipvs"
	"github.com/lvsd/lvsd/director/web"
)

// labelSet holds the rendered Prometheus label sets of one configuration:
// per service (service, local_address, local_port, proto, local_mark)
// and per realserver (the same, then remote_address, remote_port). The
// label names are node_exporter's IPVS collector's, so that lvsd's series
// join its node_ipvs_backend_* ones in PromQL. Rendered once per
// configuration, so a scrape only copies strings.
type labelSet struct {
	of    *Loaded
	svc   map[string]string
	real  map[realKey]string
	byKey map[ipvs.ServiceKey]string // service name by IPVS key

	mu    sync.Mutex
	extra map[realKey]string // destinations not in the files (sorry servers)
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
	l := &labelSet{of: cur, svc: make(map[string]string, len(cfg.Services)), real: make(map[realKey]string, n),
		byKey: make(map[ipvs.ServiceKey]string, len(cfg.Services)), extra: map[realKey]string{}}
	for _, s := range cfg.Services {
		v := web.Labels(virtualLabels(s)...)
		l.svc[s.Name] = v
		l.byKey[ipvs.KeyOf(s)] = s.Name
		for _, r := range s.Reals {
			l.real[realKey{s.Name, r.Addr}] = v + "," + remoteLabels(r.Addr)
		}
	}
	return l
}

// realLabels renders a realserver's labels, also for one the files do
// not list (a sorry server), remembered after the first time.
func (l *labelSet) realLabels(service string, a netip.AddrPort) string {
	k := realKey{service, a}
	if s, ok := l.real[k]; ok {
		return s
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.extra[k]; ok {
		return s
	}
	s := l.svc[service] + "," + remoteLabels(a)
	l.extra[k] = s
	return s
}

// healthLabels presents a labelSet to package healthcheck.
type healthLabels struct{ *labelSet }

func (h healthLabels) Real(service string, real netip.AddrPort) string {
	return h.realLabels(service, real)
}
func (h healthLabels) Service(service string) string { return h.svc[service] }

// kernelLabels presents a labelSet to package ipvs; services that are not
// lvsd's get none, so they are left out (node_exporter has them).
type kernelLabels struct{ *labelSet }

func (k kernelLabels) Service(key ipvs.ServiceKey) string {
	if name, ok := k.byKey[key]; ok {
		return k.svc[name]
	}
	return ""
}

func (k kernelLabels) Dest(key ipvs.ServiceKey, a netip.AddrPort) string {
	return k.realLabels(k.byKey[key], a)
}
