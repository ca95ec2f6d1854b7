package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

func resolveInstances(raws []rawInstance, host Host, r reporter) []Instance {
	out := make([]Instance, 0, len(raws))
	names := map[string]int{}
	vrids := map[string]int{}
	vips := map[netip.Addr]string{}
	for i, raw := range raws {
		p := idx("vrrp.instances", i)
		in := resolveInstance(p, raw, r)
		if j, dup := names[in.Name]; dup && in.Name != "" {
			r.at(p+".name", "instance %q already defined at line %d", in.Name, r.pos.line(idx("vrrp.instances", j)))
		}
		names[in.Name] = i
		// RFC 5798 §5.2.3: a VRID is unique per interface and family.
		key := fmt.Sprintf("%s/%d/%v", in.Interface, in.VRID, in.IPv6())
		if j, dup := vrids[key]; dup && in.VRID != 0 {
			r.at(p+".vrid", "vrid %d on %s is also used by instance %q", in.VRID, in.Interface, raws[j].Name)
		}
		vrids[key] = i
		for k, v := range in.VIPs {
			if other, dup := vips[v.Addr()]; dup {
				r.at(idx(p+".virtual_ips", k), "%v is also a virtual IP of instance %q", v.Addr(), other)
			}
			vips[v.Addr()] = in.Name
		}
		checkOwner(p, in, host, r)
		out = append(out, in)
	}
	return out
}

func resolveInstance(p string, raw rawInstance, r reporter) Instance {
	in := Instance{
		Name: raw.Name, Interface: raw.Interface, Version: intOr(raw.Version, 3),
		Preempt:           raw.Preempt == nil || *raw.Preempt,
		PreemptNeedsReals: raw.PreemptReals == nil || *raw.PreemptReals,
		AuthPass:          raw.AuthPass, VirtualMAC: raw.VirtualMAC,
		AdvertInterval: durOr(raw.AdvertInterval, time.Second),
	}
	if in.Name == "" {
		r.at(p+".name", "required: names the instance in logs, status and groups")
	}
	if in.Interface == "" {
		r.at(p+".interface", "required: the interface that carries the advertisements and the VIPs")
	}
	if raw.VRID == nil {
		r.at(p+".vrid", "required: 1-255, unique per interface and family")
	} else if inRange(r, p+".vrid", *raw.VRID, 1, 255) {
		in.VRID = uint8(*raw.VRID)
	}
	// RFC 5798 §6.1: 255 belongs to the address owner, which checkOwner
	// confirms on this host; 0 is the master's resignation, never set.
	prio := intOr(raw.Priority, 100)
	if prio < 1 || prio > 255 {
		r.at(p+".priority", "%d out of range 1-254 (255 only for the address owner)", prio)
	} else {
		in.Priority = uint8(prio)
	}
	in.PreemptDelay = time.Duration(raw.PreemptDelay)
	durRange(r, p+".preempt_delay", in.PreemptDelay, 0, time.Hour)
	resolveVersion(p, &in, r)
	in.VIPs = resolveVIPs(p, raw.VirtualIPs, in.Version, r)
	in.Unicast = resolveUnicast(p, raw.Unicast, in, r)
	in.Paths = resolvePaths(p, raw.Paths, in, r)
	in.Checksum = resolveChecksum(p, raw.Checksum, in, r)
	in.Announce = resolveAnnounce(p, raw.Announce, r)
	in.TrackIfaces, in.TrackScripts = resolveTrack(p, raw.Track, r)
	in.Handover = Handover{
		OnStop:  raw.Handover.OnStop == nil || *raw.Handover.OnStop,
		Timeout: durOr(raw.Handover.Timeout, 3*time.Second),
	}
	durRange(r, p+".handover.timeout", in.Handover.Timeout, 10*time.Millisecond, time.Minute)
	return in
}

// resolveVersion checks the fields whose rules differ between VRRPv2
// (RFC 3768) and VRRPv3 (RFC 5798).
func resolveVersion(p string, in *Instance, r reporter) {
	ai := in.AdvertInterval
	switch in.Version {
	case 2:
		// RFC 3768 §5.3.7: Adver Int is a whole number of seconds, 8 bits.
		if ai%time.Second != 0 || ai < time.Second || ai > 255*time.Second {
			r.at(p+".advert_interval", "VRRPv2 needs whole seconds from 1s to 255s, not %v", ai)
		}
		if len(in.AuthPass) > 8 {
			r.at(p+".auth_pass", "at most 8 characters (RFC 3768 §5.3.10), not %d", len(in.AuthPass))
		}
	case 3:
		// RFC 5798 §5.2.7: 12-bit count of centiseconds.
		if ai%(10*time.Millisecond) != 0 || ai < 10*time.Millisecond || ai > 4095*10*time.Millisecond {
			r.at(p+".advert_interval", "VRRPv3 needs a multiple of 10ms from 10ms to 40.95s, not %v", ai)
		}
		if in.AuthPass != "" {
			r.at(p+".auth_pass", "VRRPv3 has no authentication (RFC 5798 §9); remove it or use version: 2")
		}
	default:
		r.at(p+".version", "%d is not 2 or 3", in.Version)
	}
}

func resolveVIPs(p string, raws []string, version int, r reporter) []netip.Prefix {
	if len(raws) == 0 {
		r.at(p+".virtual_ips", "required: at least one address")
	}
	var out []netip.Prefix
	for i, s := range raws {
		ip := idx(p+".virtual_ips", i)
		pfx, err := parsePrefix(s)
		if err != nil {
			r.at(ip, "%v", err)
			continue
		}
		if len(out) > 0 && out[0].Addr().Is6() != pfx.Addr().Is6() {
			r.at(ip, "%v mixes IPv4 and IPv6 in one instance; use one instance per family (RFC 5798 §5.2.9)", pfx.Addr())
			continue
		}
		if version == 2 && pfx.Addr().Is6() {
			r.at(ip, "VRRPv2 carries IPv4 only; use version: 3 for %v", pfx.Addr())
			continue
		}
		out = append(out, pfx)
	}
	return out
}

// parsePrefix reads "192.0.2.10/24" or a bare address (a host route).
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address with prefix length, e.g. 192.0.2.10/24", s)
	}
	if a := pfx.Addr(); !a.IsGlobalUnicast() || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%v is not a unicast address", a)
	}
	return pfx, nil
}

func resolveUnicast(p string, raw *rawUnicast, in Instance, r reporter) *Unicast {
	if raw == nil {
		return nil
	}
	u := &Unicast{}
	six := in.IPv6()
	if raw.Source == "" {
		r.at(p+".unicast.source", "required: this director's address the advertisements go out from")
	} else if a, err := netip.ParseAddr(raw.Source); err != nil {
		r.at(p+".unicast.source", "%q is not an IP address", raw.Source)
	} else if len(in.VIPs) > 0 && a.Is6() != six {
		r.at(p+".unicast.source", "%v is not of the virtual IPs' family", a)
	} else {
		u.Source = a
	}
	if len(raw.Peers) == 0 {
		r.at(p+".unicast.peers", "required: at least one peer address")
	}
	for i, s := range raw.Peers {
		pp := idx(p+".unicast.peers", i)
		a, err := netip.ParseAddr(s)
		switch {
		case err != nil:
			r.at(pp, "%q is not an IP address", s)
		case len(in.VIPs) > 0 && a.Is6() != six:
			r.at(pp, "%v is not of the virtual IPs' family", a)
		case a == u.Source:
			r.at(pp, "%v is this node's own source address", a)
		case slices.Contains(u.Peers, a):
			r.at(pp, "%v is listed twice", a)
		default:
			u.Peers = append(u.Peers, a)
		}
	}
	return u
}

// resolveChecksum checks the VRRPv3 IPv4 checksum variant (see
// vrrp.ChecksumMode): RFC 5798 §5.2.8 is read two ways for IPv4.
func resolveChecksum(p, s string, in Instance, r reporter) string {
	switch s {
	case "", "pseudo-header":
		return "pseudo-header"
	case "no-pseudo-header", "legacy-unicast":
		if in.Version != 3 || in.IPv6() {
			r.at(p+".checksum", "%q only applies to VRRPv3 over IPv4 (v2 and IPv6 have one checksum)", s)
		} else if s == "legacy-unicast" && in.Unicast == nil {
			r.at(p+".checksum", "legacy-unicast only applies with unicast peers")
		}
		return s
	}
	r.at(p+".checksum", "%q is not pseudo-header, no-pseudo-header or legacy-unicast", s)
	return "pseudo-header"
}

func resolveAnnounce(p string, raw rawAnnounce, r reporter) Announce {
	a := Announce{
		Repeat:   intOr(raw.Repeat, 3),
		Interval: durOr(raw.Interval, 100*time.Millisecond),
		Refresh:  time.Duration(raw.Refresh),
	}
	inRange(r, p+".announce.repeat", a.Repeat, 1, 100)
	durRange(r, p+".announce.interval", a.Interval, time.Millisecond, 10*time.Second)
	if a.Refresh != 0 && (a.Refresh < time.Second || a.Refresh > 24*time.Hour) {
		r.at(p+".announce.refresh", "%s out of range 1s-24h (0s turns it off)", shortDur(a.Refresh))
	}
	return a
}
