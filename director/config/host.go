package config

import (
	"net"
	"net/netip"
	"os"
)

// Host answers the questions validation asks of the machine it runs on.
type Host interface {
	Hostname() (string, error)
	// InterfaceAddrs returns the addresses of the named interface, and
	// false when there is no such interface here.
	InterfaceAddrs(name string) ([]netip.Addr, bool)
}

type realHost struct{}

func (realHost) Hostname() (string, error) { return os.Hostname() }

func (realHost) InterfaceAddrs(name string) ([]netip.Addr, bool) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, false
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, true
	}
	var out []netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, true
}
