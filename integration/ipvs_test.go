//go:build integration && ipvs

package integration

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/lvsd/lvsd/integration/netlab"
	"github.com/mqliang/libipvs"
)

// TestIPVSServiceNAT programs a TCP round-robin service with two NAT
// real servers through libipvs, reads it back from the kernel and with
// ipvsadm, and deletes it.
func TestIPVSServiceNAT(t *testing.T) {
	netlab.NeedIPVS(t)
	testIPVSService(t, natCase(syscall.AF_INET, "192.0.2.10", 80, 0xFFFFFFFF,
		"198.51.100.11", "198.51.100.12", 8080))
}

// TestIPVSServiceNATIPv6 is TestIPVSServiceNAT over IPv6.
func TestIPVSServiceNATIPv6(t *testing.T) {
	netlab.NeedIPVS(t)
	// For IPv6 the netmask is a prefix length, and the kernel refuses
	// a service whose prefix is not in 1..128 (EINVAL). libipvs sends
	// the zero value as it is; ipvsadm sends 128.
	testIPVSService(t, natCase(syscall.AF_INET6, "2001:db8::10", 443, 128,
		"2001:db8:1::11", "2001:db8:1::12", 443))
}

// natCase returns a TCP rr service on vip:port with the real servers
// r1 (weight 1) and r2 (weight 2) on rport, both masqueraded (NAT).
// libipvs needs AddressFamily on the destinations too: it packs their
// addresses by it and panics on 0.
func natCase(af libipvs.AddressFamily, vip string, port uint16, mask uint32,
	r1, r2 string, rport uint16) ipvsCase {
	c := ipvsCase{svc: libipvs.Service{
		AddressFamily: af, Protocol: syscall.IPPROTO_TCP,
		Address: net.ParseIP(vip), Port: port, SchedName: "rr", Netmask: mask,
	}}
	for i, r := range []string{r1, r2} {
		c.reals = append(c.reals, libipvs.Destination{
			AddressFamily: af, Address: net.ParseIP(r), Port: rport,
			FwdMethod: libipvs.IP_VS_CONN_F_MASQ, Weight: uint32(i + 1),
		})
	}
	return c
}

// ipvsCase is one virtual service and its real servers.
type ipvsCase struct {
	svc   libipvs.Service
	reals []libipvs.Destination
}

// testIPVSService adds c in a fresh namespace, checks the kernel's
// table through libipvs and ipvsadm, deletes the service and checks
// that the table is empty.
func testIPVSService(t *testing.T, c ipvsCase) {
	t.Helper()
	netlab.ForTest(t).InFresh(func() error {
		// No modprobe: NeedIPVS's family lookup by name has made the
		// kernel load ip_vs. (libipvs's own lookup is a dump, which
		// does not autoload.)
		h, err := libipvs.NewIPVSHandle(libipvs.IPVSHandleParams{LoadModule: false})
		if err != nil {
			return fmt.Errorf("ipvs handle: %w", err)
		}
		if err := h.NewService(&c.svc); err != nil {
			return fmt.Errorf("add service %v: %w", viewService(&c.svc), err)
		}
		for i := range c.reals {
			if err := h.NewDestination(&c.svc, &c.reals[i]); err != nil {
				return fmt.Errorf("add real %v: %w", viewDest(&c.reals[i]), err)
			}
		}
		if err := checkTable(h, c); err != nil {
			return err
		}
		if err := checkIpvsadm(c.ipvsadmLines()); err != nil {
			return err
		}
		if err := h.DelService(&c.svc); err != nil {
			return fmt.Errorf("delete service: %w", err)
		}
		if svcs, err := h.ListServices(); err != nil || len(svcs) != 0 {
			return fmt.Errorf("after delete: list services: %d left, err %v", len(svcs), err)
		}
		return checkIpvsadm(nil)
	})
}

// serviceView is a Service without the kernel's "hashed" flag and
// counters, with comparable addresses.
type serviceView struct {
	AF      libipvs.AddressFamily
	Proto   libipvs.Protocol
	Addr    netip.AddrPort
	FWMark  uint32
	Sched   string
	Flags   uint32
	Timeout uint32
	Netmask uint32
	PE      string
}

// viewService normalises s for comparison.
func viewService(s *libipvs.Service) serviceView {
	return serviceView{
		AF: s.AddressFamily, Proto: s.Protocol, Addr: addrPort(s.Address, s.Port),
		FWMark: s.FWMark, Sched: s.SchedName, Flags: s.Flags.Flags &^ libipvs.IP_VS_SVC_F_HASHED,
		Timeout: s.Timeout, Netmask: s.Netmask, PE: s.PEName,
	}
}

// destView is a Destination without its counters.
type destView struct {
	AF      libipvs.AddressFamily
	Addr    netip.AddrPort
	Fwd     libipvs.FwdMethod
	Weight  uint32
	UThresh uint32
	LThresh uint32
}

// viewDest normalises d for comparison.
func viewDest(d *libipvs.Destination) destView {
	return destView{
		AF: d.AddressFamily, Addr: addrPort(d.Address, d.Port),
		Fwd:    d.FwdMethod & libipvs.IP_VS_CONN_F_FWD_MASK,
		Weight: d.Weight, UThresh: d.UThresh, LThresh: d.LThresh,
	}
}

// addrPort converts libipvs's address (4 bytes for IPv4 when read from
// the kernel, 16 when parsed) to a comparable form.
func addrPort(ip net.IP, port uint16) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), port)
}

// checkTable compares the kernel's table, read through libipvs, with c
// field by field.
func checkTable(h libipvs.IPVSHandle, c ipvsCase) error {
	svcs, err := h.ListServices()
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	if len(svcs) != 1 {
		return fmt.Errorf("list services: got %d, want 1", len(svcs))
	}
	var errs []error
	if got, want := viewService(svcs[0]), viewService(&c.svc); got != want {
		errs = append(errs, fmt.Errorf("service:\n got %+v\nwant %+v", got, want))
	}
	dsts, err := h.ListDestinations(svcs[0])
	if err != nil {
		return fmt.Errorf("list reals: %w", err)
	}
	var got, want []destView
	for _, d := range dsts {
		got = append(got, viewDest(d))
	}
	for i := range c.reals {
		want = append(want, viewDest(&c.reals[i]))
	}
	byAddr := func(a, b destView) int { return a.Addr.Compare(b.Addr) }
	slices.SortFunc(got, byAddr)
	slices.SortFunc(want, byAddr)
	if !slices.Equal(got, want) {
		errs = append(errs, fmt.Errorf("reals:\n got %+v\nwant %+v", got, want))
	}
	return errors.Join(errs...)
}

// ipvsadmLines returns the lines "ipvsadm -Ln" prints for c, split in
// fields: the service, then each real with zero connections.
func (c ipvsCase) ipvsadmLines() [][]string {
	s := viewService(&c.svc)
	lines := [][]string{{"TCP", s.Addr.String(), s.Sched}}
	for i := range c.reals {
		d := viewDest(&c.reals[i])
		lines = append(lines, []string{"->", d.Addr.String(), "Masq", fmt.Sprint(d.Weight), "0", "0"})
	}
	return lines
}

// checkIpvsadm runs "ipvsadm -Ln" and compares its service and real
// server lines, in any order, with want. It runs from the caller's
// locked thread, so it sees that thread's namespace: IPVS tables are
// per namespace, so finding the test's service proves it.
func checkIpvsadm(want [][]string) error {
	out, err := exec.Command("ipvsadm", "-Ln").CombinedOutput()
	if err != nil {
		return fmt.Errorf("ipvsadm -Ln: %w: %s", err, out)
	}
	var got []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) < 2, f[0] == "Prot", f[1] == "RemoteAddress:Port":
		case f[0] == "->" || slices.Contains([]string{"TCP", "UDP", "SCTP", "FWM"}, f[0]):
			got = append(got, strings.Join(f, " "))
		}
	}
	var wantJoined []string
	for _, w := range want {
		wantJoined = append(wantJoined, strings.Join(w, " "))
	}
	slices.Sort(got)
	slices.Sort(wantJoined)
	if !slices.Equal(got, wantJoined) {
		return fmt.Errorf("ipvsadm -Ln:\n got %q\nwant %q\noutput:\n%s", got, wantJoined, out)
	}
	return nil
}
