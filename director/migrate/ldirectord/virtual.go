package ldirectord

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/migrate"
)

// virtual is one virtual section as read.
type virtual struct {
	head line
	six  bool
	settings
	reals                          []line
	checktype, service, checkcmd   *line
	checkport, request, receive    *line
	httpmethod, virtualhost        *line
	scheduler, persistent, netmask *line
	protocol                       *line
}

func (t *translator) virtualKey(v *virtual, l line) {
	if t.inherited(&v.settings, l, true) {
		return
	}
	p := map[string]**line{
		"checktype": &v.checktype, "service": &v.service, "checkcommand": &v.checkcmd, "checkport": &v.checkport,
		"request": &v.request, "receive": &v.receive, "httpmethod": &v.httpmethod, "virtualhost": &v.virtualhost,
		"scheduler": &v.scheduler, "persistent": &v.persistent, "netmask": &v.netmask, "protocol": &v.protocol,
	}[l.key]
	switch {
	case p != nil:
		if *p != nil {
			t.find(**p, false, "set again below", "the last one counts, as in ldirectord")
		}
		c := l
		*p = &c
	case l.key == "real" || l.key == "real6":
		v.reals = append(v.reals, l)
	case l.key == "login" || l.key == "passwd" || l.key == "database" || l.key == "secret":
		t.find(l, false, "lvsd's checks log in nowhere", "part of a service check lvsd does not have (see the service)")
	case l.key == "servicename" || l.key == "comment" || l.key == "monitorfile":
		t.find(l, false, "lvsd names the service after its address", "")
	case l.key == "ops":
		if yes(l.value) {
			t.find(l, true, "lvsd has no one-packet scheduling", "left out")
		} else {
			t.ok()
		}
	default:
		t.find(l, true, "not an ldirectord virtual directive", "left out")
	}
}

func (t *translator) virtual(v *virtual) {
	s := migrate.Service{Source: fmt.Sprintf("%s:%d", t.file, v.head.no), Scheduler: "wrr", Quiescent: v.quiescent}
	spec := unquote(v.head.value)
	var vport uint16
	if m, err := strconv.ParseUint(spec, 10, 32); err == nil && m > 0 {
		s.FWMark = uint32(m)
		s.Name = fmt.Sprintf("fwmark-%d", m)
		if v.six {
			s.Family, s.Name = "ipv6", s.Name+"-ipv6"
		}
	} else {
		ap, err := netip.ParseAddrPort(spec)
		if err != nil || ap.Port() == 0 || ap.Addr().Is6() != v.six {
			t.find(v.head, true, fmt.Sprintf("%q is not an address:port (of the right family) or a firewall mark: lvsd resolves no host or service names", spec),
				"the virtual service is left out")
			return
		}
		vport = ap.Port()
		s.Virtual = ap.String()
		s.Protocol = "tcp"
		if vport == 53 {
			s.Protocol = "udp"
		}
	}
	t.ok()
	if v.protocol != nil {
		switch p := unquote(v.protocol.value); {
		case (p == "tcp" || p == "udp") && s.FWMark == 0:
			s.Protocol = p
			t.ok()
		case p == "fwm" && s.FWMark != 0:
			t.ok()
		default:
			t.find(*v.protocol, true, fmt.Sprintf("protocol %q does not fit the virtual %s", p, spec), "left out")
		}
	}
	if s.FWMark == 0 {
		s.Name = fmt.Sprintf("%s-%s-%d", s.Protocol, netip.MustParseAddrPort(s.Virtual).Addr(), vport)
	}
	if v.scheduler != nil {
		if sch := unquote(v.scheduler.value); slices.Contains(config.Schedulers, sch) {
			s.Scheduler = sch
			t.ok()
		} else {
			t.find(*v.scheduler, true, fmt.Sprintf("lvsd does not know scheduler %q", sch), "wrr, ldirectord's default")
		}
	}
	t.persistence(v, &s)
	check, negotiate := t.check(v, &s, vport)
	s.Check = check
	s.Reals = t.reals(v, &s, vport, negotiate)
	if len(s.Reals) == 0 {
		t.find(v.head, false, "no real", "a service with the fallback only")
	}
	s.Sorry = t.fallback(v, &s, vport)
	key := s.Protocol + " " + s.Virtual + fmt.Sprint(s.FWMark, s.Family)
	if t.names[key] {
		s.Disabled = true
		t.find(v.head, true, "the same virtual service is defined twice", "the second is written disabled")
	}
	t.names[key] = true
	t.res.Services = append(t.res.Services, s)
}

func (t *translator) persistence(v *virtual, s *migrate.Service) {
	if v.persistent == nil {
		if v.netmask != nil {
			t.find(*v.netmask, false, "a netmask without persistent has no effect", "left out, as in ldirectord")
		}
		return
	}
	secs, err := strconv.Atoi(unquote(v.persistent.value))
	if err != nil || secs < 1 || secs > 2678400 {
		t.find(*v.persistent, true, fmt.Sprintf("%q is not a number of seconds", v.persistent.value), "no persistence")
		return
	}
	s.Persistence = &migrate.Persistence{Timeout: migrate.Seconds(float64(secs))}
	t.ok()
	if v.netmask != nil {
		bits, err := prefixLen(unquote(v.netmask.value))
		if err != nil {
			t.find(*v.netmask, true, err.Error(), "clients are grouped by their whole address")
			return
		}
		s.Persistence.Netmask = bits
		t.ok()
	}
}

// prefixLen reads a dotted netmask or a prefix length.
func prefixLen(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= 128 {
		return n, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, fmt.Errorf("%q is not a netmask", s)
	}
	b := a.As4()
	bits := 0
	for _, x := range b {
		for m := byte(0x80); m != 0; m >>= 1 {
			if x&m == 0 {
				goto done
			}
			bits++
		}
	}
done:
	if p, _ := netip.ParsePrefix(fmt.Sprintf("%s/%d", s, bits)); bits == 0 || p.Masked().Addr() != a {
		return 0, fmt.Errorf("%q is not a contiguous netmask", s)
	}
	return bits, nil
}

// forwards maps ldirectord's forwarding methods to lvsd's.
var forwards = map[string]string{"gate": "dr", "masq": "nat", "ipip": "tun"}

var regexMeta = regexp.MustCompile(`[\\.+*?()|\[\]{}^$]`)
