//go:build integration && ipvs

package integration

import (
	"bufio"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"syscall"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/ipvs"
)

// ipvsadmTable reads the kernel's IPVS table through ipvsadm, the
// operator's own tool, into a ipvs.Table: an independent check of
// what lvsd programmed. It runs ipvsadm twice, for the settings and
// weights (-Ln) and for the thresholds (-Ln --thresholds).
func ipvsadmTable() (ipvs.Table, string, error) {
	plain, err := exec.Command("ipvsadm", "-Ln").CombinedOutput()
	if err != nil {
		return nil, string(plain), fmt.Errorf("ipvsadm -Ln: %v: %s", err, plain)
	}
	thr, err := exec.Command("ipvsadm", "-Ln", "--thresholds").CombinedOutput()
	if err != nil {
		return nil, string(thr), fmt.Errorf("ipvsadm -Ln --thresholds: %v: %s", err, thr)
	}
	t := ipvs.Table{}
	if err := parseIpvsadm(string(plain), t, false); err != nil {
		return nil, string(plain), err
	}
	if err := parseIpvsadm(string(thr), t, true); err != nil {
		return nil, string(thr), err
	}
	return t, string(plain), nil
}

var ipvsadmFwd = map[string]config.Forward{"Masq": config.NAT, "Route": config.DR, "Tunnel": config.Tunnel}

var ipvsadmFlags = map[string]uint32{
	"sh-fallback": ipvs.FlagSched1, "sh-port": ipvs.FlagSched2,
	"mh-fallback": ipvs.FlagSched1, "mh-port": ipvs.FlagSched2,
	"flag-1": ipvs.FlagSched1, "flag-2": ipvs.FlagSched2, "flag-3": ipvs.FlagSched3,
}

// parseIpvsadm adds what one listing says to t. With thresholds the
// destination lines carry Uthreshold and Lthreshold instead of counters.
func parseIpvsadm(out string, t ipvs.Table, thresholds bool) error {
	var cur ipvs.ServiceKey
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 0 || strings.HasPrefix(sc.Text(), "IP Virtual") || f[0] == "Prot" || (f[0] == "->" && f[1] == "RemoteAddress:Port"):
		case f[0] == "->":
			if err := parseDest(f, t, cur, thresholds); err != nil {
				return fmt.Errorf("%q: %w", sc.Text(), err)
			}
		default:
			k, s, err := parseService(f)
			if err != nil {
				return fmt.Errorf("%q: %w", sc.Text(), err)
			}
			cur = k
			if _, seen := t[k]; !seen {
				t[k] = s
			}
		}
	}
	return sc.Err()
}

func parseService(f []string) (ipvs.ServiceKey, ipvs.Service, error) {
	var k ipvs.ServiceKey
	s := ipvs.Service{Dests: map[netip.AddrPort]ipvs.Dest{}}
	i := 2
	switch f[0] {
	case "FWM":
		mark, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil {
			return k, s, err
		}
		k.FWMark = uint32(mark)
		if f[2] == "IPv6" {
			k.IPv6, i = true, 3
		}
	case "TCP", "UDP", "SCTP":
		ap, err := netip.ParseAddrPort(f[1])
		if err != nil {
			return k, s, err
		}
		k.Addr, k.IPv6 = ap, ap.Addr().Is6()
		k.Protocol = map[string]uint16{"TCP": syscall.IPPROTO_TCP, "UDP": syscall.IPPROTO_UDP, "SCTP": syscall.IPPROTO_SCTP}[f[0]]
	default:
		return k, s, fmt.Errorf("unknown protocol %q", f[0])
	}
	s.Scheduler = f[i]
	for i++; i < len(f); i++ {
		switch {
		case strings.HasPrefix(f[i], "("):
			for _, name := range strings.Split(strings.Trim(f[i], "()"), ",") {
				s.Flags |= ipvsadmFlags[name]
			}
		case f[i] == "persistent":
			n, _ := strconv.Atoi(f[i+1])
			s.Flags |= ipvs.FlagPersistent
			s.Timeout, s.Netmask = uint32(n), 32
			if k.IPv6 {
				s.Netmask = 128
			}
			i++
		case f[i] == "mask":
			s.Netmask = parseMask(f[i+1])
			i++
		}
	}
	return k, s, nil
}

func parseMask(m string) int {
	if a, err := netip.ParseAddr(m); err == nil {
		ones := 0
		for _, b := range a.AsSlice() {
			for ; b&0x80 != 0; b <<= 1 {
				ones++
			}
		}
		return ones
	}
	n, _ := strconv.Atoi(m)
	return n
}

func parseDest(f []string, t ipvs.Table, k ipvs.ServiceKey, thresholds bool) error {
	if len(f) < 4 {
		return fmt.Errorf("short line")
	}
	ap, err := netip.ParseAddrPort(f[1])
	if err != nil {
		return err
	}
	s := t[k]
	d := s.Dests[ap]
	// -Ln: "-> addr Forward Weight ActiveConn InActConn";
	// --thresholds: "-> addr Uthreshold Lthreshold ActiveConn InActConn".
	x, errX := strconv.Atoi(f[2])
	y, errY := strconv.Atoi(f[3])
	switch {
	case thresholds && errX == nil && errY == nil:
		d.Upper, d.Lower = uint32(x), uint32(y)
	case !thresholds && errY == nil:
		d.Forward, d.Weight = ipvsadmFwd[f[2]], y
	default:
		return fmt.Errorf("unexpected columns")
	}
	s.Dests[ap] = d
	return nil
}
