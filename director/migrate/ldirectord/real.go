package ldirectord

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lvsd/lvsd/director/migrate"
)

// reals translates the real lines: "ADDR[->ADDR][:PORT] gate|masq|ipip
// [WEIGHT] ["REQUEST", "RECEIVE"]". The first real's forwarding method is
// the service's; the others name theirs when it differs.
func (t *translator) reals(v *virtual, s *migrate.Service, vport uint16, negotiate bool) []migrate.Real {
	var out []migrate.Real
	seen := map[string]bool{}
	for _, l := range v.reals {
		words := fields(l.value)
		if len(words) < 2 || forwards[words[1]] == "" {
			t.find(l, true, "want ADDRESS[:PORT] gate|masq|ipip [WEIGHT] [\"REQUEST\", \"RECEIVE\"]", "left out")
			continue
		}
		addrs, port, err := realAddrs(words[0], v.six)
		if err != nil {
			t.find(l, true, err.Error(), "left out: lvsd resolves no host or service names")
			continue
		}
		fwd := forwards[words[1]]
		if s.Forward == "" {
			s.Forward = fwd
		}
		r := migrate.Real{Source: fmt.Sprintf("%s:%d", t.file, l.no)}
		if fwd != s.Forward {
			r.Forward = fwd
		}
		rest := words[2:]
		if len(rest) > 0 {
			if w, err := strconv.Atoi(rest[0]); err == nil {
				if w != 1 {
					r.Weight = &w
				}
				rest = rest[1:]
			}
		}
		var reqs []string
		for _, w := range rest {
			if w != "," {
				reqs = append(reqs, strings.TrimSuffix(w, ","))
			}
		}
		if len(reqs) > 0 {
			r.Check = t.realRequest(l, s.Check, reqs, negotiate)
		}
		switch {
		case s.FWMark != 0 && fwd != "nat":
			port = 0
		case s.FWMark == 0 && (fwd != "nat" || port == 0):
			port = vport // ldirectord puts the virtual port in
		}
		for _, a := range addrs {
			rr := r
			rr.Address = netip.AddrPortFrom(a, port).String()
			if port == 0 {
				rr.Address = a.String()
			}
			if seen[rr.Address] {
				t.find(l, false, rr.Address+" is listed twice", "once")
				continue
			}
			seen[rr.Address] = true
			out = append(out, rr)
		}
		t.ok()
	}
	if s.Forward == "" {
		s.Forward = "dr"
	}
	return out
}

// realRequest is a real's own request and receive, laid over the check.
func (t *translator) realRequest(l line, c *migrate.Check, reqs []string, negotiate bool) *migrate.Check {
	if !negotiate || c == nil {
		t.find(l, false, "a request and receive without a negotiate check", "left out")
		return nil
	}
	o := &migrate.Check{}
	switch c.Type {
	case "http", "https":
		o.Path = "/" + strings.TrimPrefix(reqs[0], "/")
		if len(reqs) > 1 {
			o.Regex = reqs[1]
		}
	case "tcp":
		o.Send = strings.ReplaceAll(reqs[0], `\n`, "\n")
		if len(reqs) > 1 {
			o.Expect = reqs[1]
		}
	default:
		t.find(l, true, "lvsd cannot give this realserver its own request for a "+c.Type+" check", "the service's check is used")
		return nil
	}
	return o
}

// realAddrs reads "A", "A:P", "[A6]:P", or a range "A->B[:P]" of IPv4
// addresses.
func realAddrs(spec string, six bool) ([]netip.Addr, uint16, error) {
	host, port := spec, uint16(0)
	if ap, err := netip.ParseAddrPort(spec); err == nil {
		host, port = ap.Addr().String(), ap.Port()
	} else if i := strings.LastIndexByte(spec, ':'); i > 0 && !strings.HasSuffix(spec[:i], ":") && (!six || strings.HasSuffix(spec[:i], "]")) {
		p, err := strconv.ParseUint(spec[i+1:], 10, 16)
		if err != nil {
			return nil, 0, fmt.Errorf("%q: the port %q is not a number", spec, spec[i+1:])
		}
		host, port = spec[:i], uint16(p)
	}
	host = strings.Trim(host, "[]")
	first, last, isRange := strings.Cut(host, "->")
	a, err := netip.ParseAddr(first)
	if err != nil || a.Is6() != six {
		return nil, 0, fmt.Errorf("%q is not an address of the virtual's family", spec)
	}
	if !isRange {
		return []netip.Addr{a}, port, nil
	}
	b, err := netip.ParseAddr(last)
	if err != nil || !a.Is4() || !b.Is4() || b.Less(a) {
		return nil, 0, fmt.Errorf("%q is not a range of IPv4 addresses", spec)
	}
	var out []netip.Addr
	for x := a; x.Compare(b) <= 0 && len(out) <= 4096; x = x.Next() {
		out = append(out, x)
	}
	return out, port, nil
}

// fallback translates fallback (or fallback6) into the sorry server.
func (t *translator) fallback(v *virtual, s *migrate.Service, vport uint16) string {
	l := v.fallback
	if v.six {
		l = v.fallback6
	}
	if l == nil {
		return ""
	}
	words := fields(l.value)
	addrs, port, err := realAddrs(words[0], v.six)
	if err != nil || len(addrs) != 1 {
		t.find(*l, true, fmt.Sprintf("%q is not one address", l.value), "no sorry server")
		return ""
	}
	fwd := s.Forward
	if len(words) > 1 {
		if f := forwards[words[1]]; f != "" && f != s.Forward && t.once(fmt.Sprint("fallback forward", l.no)) {
			t.find(*l, true, "lvsd forwards to the sorry server like to the realservers", "forward "+s.Forward)
		}
	}
	switch {
	case s.FWMark != 0 && fwd != "nat":
		port = 0
	case s.FWMark == 0 && (fwd != "nat" || port == 0):
		port = vport
	}
	if t.once(fmt.Sprint("fallback", l.no)) {
		t.ok()
	}
	return netip.AddrPortFrom(addrs[0], port).String()
}
