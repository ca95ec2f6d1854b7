package realserver

import (
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"syscall"
)

// fakeHost is a System in maps that refuses what the kernel refuses: an
// address on a missing interface or twice, a sysctl of a missing
// interface, deleting what is not there.
type fakeHost struct {
	links       map[string]Link
	addrs       map[string][]netip.Prefix
	sysctls     map[string]string
	defaultLink string
	// moduleMakesTunnel: creating an ipip link loads the module, which
	// makes tunl0 itself (the kernel's fallback device).
	moduleMakesTunnel bool
	failAdd           netip.Prefix // AddAddr of this fails
}

// confKeys are the per-interface IPv4 settings the fake knows.
var confKeys = []string{"arp_ignore", "arp_announce", "rp_filter"}

// newFakeHost has lo and eth0 (the default route's), with the kernel's
// ARP defaults (0) and strict reverse-path filtering (1) for interfaces
// created later, as many distributions set conf/default/rp_filter.
func newFakeHost() *fakeHost {
	h := &fakeHost{links: map[string]Link{}, addrs: map[string][]netip.Prefix{}, sysctls: map[string]string{},
		defaultLink: "eth0"}
	for _, k := range confKeys {
		h.sysctls["net/ipv4/conf/all/"+k] = "0"
		h.sysctls["net/ipv4/conf/default/"+k] = "0"
	}
	h.sysctls["net/ipv4/conf/default/rp_filter"] = "1"
	h.addLink("lo", "device")
	h.addLink("eth0", "veth")
	h.addrs["lo"] = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")}
	h.addrs["eth0"] = []netip.Prefix{netip.MustParsePrefix("198.51.100.11/24")}
	return h
}

func (h *fakeHost) addLink(name, kind string) {
	h.links[name] = Link{Kind: kind, Up: name == "lo" || name == "eth0"}
	for _, k := range confKeys {
		h.sysctls["net/ipv4/conf/"+name+"/"+k] = h.sysctls["net/ipv4/conf/default/"+k]
	}
}

// snapshot is everything the fake holds, for comparing before and after.
func (h *fakeHost) snapshot() string {
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(h.links)) {
		fmt.Fprintf(&b, "link %s %+v %v\n", n, h.links[n], h.addrs[n])
	}
	for _, n := range slices.Sorted(maps.Keys(h.sysctls)) {
		fmt.Fprintf(&b, "%s=%s\n", n, h.sysctls[n])
	}
	return b.String()
}

func (h *fakeHost) Links() (map[string]Link, error) { return maps.Clone(h.links), nil }

func (h *fakeHost) Addrs() (map[string][]netip.Prefix, error) {
	out := map[string][]netip.Prefix{}
	for k, v := range h.addrs {
		out[k] = slices.Clone(v)
	}
	return out, nil
}

func (h *fakeHost) DefaultLink() (string, error) { return h.defaultLink, nil }

func (h *fakeHost) ReadSysctl(name string) (string, error) {
	v, ok := h.sysctls[name]
	if !ok {
		return "", &fs.PathError{Op: "open", Path: "/proc/sys/" + name, Err: fs.ErrNotExist}
	}
	return v + "\n", nil
}

func (h *fakeHost) WriteSysctl(name, value string) error {
	if _, ok := h.sysctls[name]; !ok {
		return &fs.PathError{Op: "open", Path: "/proc/sys/" + name, Err: fs.ErrNotExist}
	}
	h.sysctls[name] = value
	return nil
}

func (h *fakeHost) AddLink(name, kind string) (bool, error) {
	if kind == "ipip" && h.moduleMakesTunnel {
		if _, ok := h.links["tunl0"]; !ok {
			h.addLink("tunl0", "ipip")
		}
	}
	if _, ok := h.links[name]; ok {
		return false, nil
	}
	h.addLink(name, kind)
	return true, nil
}

func (h *fakeHost) DelLink(name string) error {
	if _, ok := h.links[name]; !ok || name == "lo" {
		return syscall.ENODEV
	}
	delete(h.links, name)
	delete(h.addrs, name)
	for _, k := range confKeys {
		delete(h.sysctls, "net/ipv4/conf/"+name+"/"+k)
	}
	return nil
}

func (h *fakeHost) SetLinkUp(name string, up bool) error {
	l, ok := h.links[name]
	if !ok {
		return syscall.ENODEV
	}
	l.Up = up
	h.links[name] = l
	return nil
}

func (h *fakeHost) AddAddr(link string, p netip.Prefix) error {
	if _, ok := h.links[link]; !ok {
		return syscall.ENODEV
	}
	if p == h.failAdd || slices.Contains(h.addrs[link], p) {
		return syscall.EEXIST
	}
	h.addrs[link] = append(h.addrs[link], p)
	return nil
}

func (h *fakeHost) DelAddr(link string, p netip.Prefix) error {
	i := slices.Index(h.addrs[link], p)
	if i < 0 {
		return syscall.EADDRNOTAVAIL
	}
	h.addrs[link] = slices.Delete(h.addrs[link], i, i+1)
	return nil
}
