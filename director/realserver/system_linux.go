package realserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Host is the System of the network namespace of the calling thread,
// through netlink and /proc/sys.
type Host struct{}

// Links lists the interfaces with their netlink type and state.
func (Host) Links() (map[string]Link, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, err
	}
	out := map[string]Link{}
	for _, l := range links {
		out[l.Attrs().Name] = Link{Kind: l.Type(), Up: l.Attrs().Flags&net.FlagUp != 0}
	}
	return out, nil
}

// Addrs lists every address of every interface, by interface name.
func (Host) Addrs() (map[string][]netip.Prefix, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, err
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	out := map[string][]netip.Prefix{}
	for _, a := range addrs {
		p, ok := prefixOf(a.IPNet)
		if name := names[a.LinkIndex]; ok && name != "" {
			out[name] = append(out[name], p)
		}
	}
	return out, nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a, ones), true
}

// DefaultLink is the interface of the main table's IPv4 default route
// with the lowest metric.
func (Host) DefaultLink() (string, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return "", err
	}
	best, bestPrio := 0, -1
	for _, r := range routes {
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones != 0 {
				continue
			}
		}
		idx := r.LinkIndex
		if idx == 0 && len(r.MultiPath) > 0 {
			idx = r.MultiPath[0].LinkIndex
		}
		if idx != 0 && (bestPrio < 0 || r.Priority < bestPrio) {
			best, bestPrio = idx, r.Priority
		}
	}
	if best == 0 {
		return "", nil
	}
	l, err := netlink.LinkByIndex(best)
	if err != nil {
		return "", err
	}
	return l.Attrs().Name, nil
}

func sysctlPath(name string) (string, error) {
	if strings.Contains(name, "..") || filepath.IsAbs(name) {
		return "", fmt.Errorf("sysctl %q: not a name under /proc/sys", name)
	}
	return filepath.Join("/proc/sys", name), nil
}

// ReadSysctl reads /proc/sys/name.
func (Host) ReadSysctl(name string) (string, error) {
	p, err := sysctlPath(name)
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(p)
	return strings.TrimSpace(string(b)), err
}

// WriteSysctl writes /proc/sys/name.
func (Host) WriteSysctl(name, value string) error {
	p, err := sysctlPath(name)
	if err != nil {
		return err
	}
	return os.WriteFile(p, []byte(value), 0o644)
}

// AddLink creates a dummy, ipip or ip6tnl interface. Creating an ipip or
// ip6tnl link makes the kernel load the module, which creates the
// fallback device (tunl0, ip6tnl0) in every namespace; asking for that
// name then finds it there, which is what was wanted.
func (Host) AddLink(name, kind string) (bool, error) {
	attrs := netlink.LinkAttrs{Name: name}
	var l netlink.Link
	switch kind {
	case "dummy":
		l = &netlink.Dummy{LinkAttrs: attrs}
	case "ipip":
		l = &netlink.Iptun{LinkAttrs: attrs, PMtuDisc: 1}
	case "ip6tnl":
		l = &netlink.Ip6tnl{LinkAttrs: attrs, Proto: unix.IPPROTO_IPV6}
	default:
		return false, fmt.Errorf("link kind %q", kind)
	}
	err := netlink.LinkAdd(l)
	if errors.Is(err, unix.EEXIST) {
		return false, nil
	}
	return err == nil, err
}

// DelLink deletes the named interface.
func (Host) DelLink(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	return netlink.LinkDel(l)
}

// SetLinkUp sets the named interface up or down.
func (Host) SetLinkUp(name string, up bool) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	if up {
		return netlink.LinkSetUp(l)
	}
	return netlink.LinkSetDown(l)
}

// AddAddr adds p to the named interface; an IPv6 VIP skips duplicate
// address detection, as it is on purpose on many hosts at once.
func (Host) AddAddr(link string, p netip.Prefix) error {
	l, err := netlink.LinkByName(link)
	if err != nil {
		return err
	}
	a := &netlink.Addr{IPNet: ipNet(p)}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return netlink.AddrAdd(l, a)
}

// DelAddr removes p from the named interface.
func (Host) DelAddr(link string, p netip.Prefix) error {
	l, err := netlink.LinkByName(link)
	if err != nil {
		return err
	}
	return netlink.AddrDel(l, &netlink.Addr{IPNet: ipNet(p)})
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
