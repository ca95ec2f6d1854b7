//go:build integration && !ipvs

package integration

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/lvsd/lvsd/director/api"
	"github.com/lvsd/lvsd/integration/netlab"
	"github.com/lvsd/lvsd/vrrp"
)

// A third host on the directors' LAN (evil, 192.0.2.66) sends adverts
// that RFC 5798 §7.1 (RFC 3768 §7.1 for version 2) says to drop, and
// garbage to the connection-sync port. Each must be ignored, leaving the
// pair's states as they were, and counted: every drop reason's counter
// rises by exactly the number of packets of that kind sent. Each kind
// offers the pair the most tempting thing it can (priority 254 or 255 for
// the pair's VRID and VIP), so a packet that slipped through would show
// as a transition.

const (
	hostileSrc   = "192.0.2.66"
	hostileCount = 5 // packets of each kind
)

// hostileCase is one kind of bad packet: its bytes, where it goes (the
// multicast group or one director) and the IP TTL it is sent with.
type hostileCase struct {
	name   string
	reason vrrp.DropReason
	ttl    int
	to     string // "" for 224.0.0.18
	pkt    []byte
}

// hostilePair is a pair of lvsd directors (a at 150, b at 100) with one
// VRRP instance, and the evil host beside them.
type hostilePair struct {
	*pair
	evil string
}

// newHostilePair starts a and b with instance (the YAML of its keys
// other than name, interface, priority and virtual_ips) and waits until a
// is master and b backup.
func newHostilePair(t *testing.T, instance func(name string) string) *hostilePair {
	p := &pair{l: netlab.ForTest(t), bin: lvsdBinary(t), sock: map[string]string{},
		config: map[string]string{}, proc: map[string]*netlab.Proc{}}
	l := p.l
	p.ns = l.Segment("e0", map[string]string{"a": "192.0.2.1/24", "b": "192.0.2.2/24", "evil": hostileSrc + "/24"})
	for name, prio := range map[string]int{"a": 150, "b": 100} {
		p.config[name] = l.Write(name+"/lvsd.yaml", fmt.Sprintf(`node: %s
control: {socket: ctl.sock}
http: {listen: ""}
vrrp:
  instances:
    - name: front
      interface: e0
      priority: %d
      virtual_ips: [%s/24]
%s`, name, prio, pairVIP, instance(name)))
		l.Write(name+"/services.d/echo.yaml", "name: echo\nvirtual: "+pairVIP+":7000\nforward: dr\ncheck: {type: none}\n"+
			"reals:\n  - address: 192.0.2.11:7000\n")
		p.sock[name] = l.Dir + "/" + name + "/ctl.sock"
	}
	p.start("a")
	p.start("b")
	p.waitMaster("a", 15*time.Second)
	waitStatus(t, p.sock["b"], func(s api.Status) bool { return len(s.VRRP) == 1 && s.VRRP[0].State == api.StateBackup })
	// The evil host's multicast (the sync group's garbage) leaves by e0.
	l.In(p.ns["evil"], "ip", "route", "add", "224.0.0.0/4", "dev", "e0")
	return &hostilePair{pair: p, evil: p.ns["evil"]}
}

// instanceStatus returns the one instance of the lvsd on sock.
func instanceStatus(t *testing.T, sock string) api.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var s api.Status
	if err := api.Call(ctx, sock, "status", nil, &s); err != nil || len(s.VRRP) != 1 {
		t.Fatalf("status of %s: %v (%d instances)", sock, err, len(s.VRRP))
	}
	return s.VRRP[0]
}

// run sends every case hostileCount times from evil while watching both
// directors' states, then checks the counters. Drops counted for reasons
// not under test (the peer's own adverts are valid, so there should be
// none) fail the test too.
func (h *hostilePair) run(t *testing.T, cases []hostileCase) {
	before := map[string]api.Instance{"a": instanceStatus(t, h.sock["a"]), "b": instanceStatus(t, h.sock["b"])}
	var changed atomic.Value
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() { // the states, continuously: a transient flip counts too
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if a, b := h.state("a"), h.state("b"); a != "MASTER" || b != "BACKUP" {
				changed.CompareAndSwap(nil, fmt.Sprintf("a %s, b %s", a, b))
			}
		}
	}()
	want := map[string]map[string]uint64{"a": {}, "b": {}}
	err := <-h.l.Go(h.evil, func() error {
		for _, c := range cases {
			for range hostileCount {
				if err := sendRaw(c); err != nil {
					return fmt.Errorf("%s: %w", c.name, err)
				}
				time.Sleep(2 * time.Millisecond)
			}
			for _, d := range []string{"a", "b"} {
				if c.to == "" || c.to == addrOf(d) {
					want[d][string(c.reason)] += hostileCount
				}
			}
		}
		return sendSyncGarbage()
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // several advert intervals: a wrongly taken advert would show
	close(stop)
	<-watched
	if v := changed.Load(); v != nil {
		t.Errorf("a hostile packet changed the pair's state: %s\n%s", v, h.logs())
	}
	for _, d := range []string{"a", "b"} {
		after := instanceStatus(t, h.sock[d])
		if after.Counters.Transitions != before[d].Counters.Transitions {
			t.Errorf("%s: transitions %d -> %d", d, before[d].Counters.Transitions, after.Counters.Transitions)
		}
		reasons := map[string]bool{}
		for r := range want[d] {
			reasons[r] = true
		}
		for r := range after.Counters.Drops {
			reasons[r] = true
		}
		for r := range reasons {
			got := after.Counters.Drops[r] - before[d].Counters.Drops[r]
			if got != want[d][r] {
				t.Errorf("%s: drops[%s] rose by %d, want %d", d, r, got, want[d][r])
			}
		}
		t.Logf("%s: %s, drops %v", d, after.State, after.Counters.Drops)
	}
}

func addrOf(director string) string {
	return map[string]string{"a": "192.0.2.1", "b": "192.0.2.2"}[director]
}

// sendRaw sends c's packet as IP protocol 112 with c's TTL out of e0,
// fragmented by the kernel when larger than the MTU. Run from the evil
// namespace.
func sendRaw(c hostileCase) error {
	pc, err := net.ListenPacket("ip4:112", hostileSrc)
	if err != nil {
		return err
	}
	defer pc.Close()
	p := ipv4.NewPacketConn(pc)
	ifi, err := net.InterfaceByName("e0")
	if err != nil {
		return err
	}
	dst := c.to
	if dst == "" {
		dst = "224.0.0.18"
		if err := p.SetMulticastInterface(ifi); err != nil {
			return err
		}
	}
	if err := p.SetMulticastTTL(c.ttl); err != nil {
		return err
	}
	if err := p.SetTTL(c.ttl); err != nil {
		return err
	}
	_, err = p.WriteTo(c.pkt, nil, &net.IPAddr{IP: net.ParseIP(dst)})
	return err
}

// sendSyncGarbage sends hostileCount datagrams of garbage to the
// connection-sync port (8848), to the kernel's sync group and to each
// director.
func sendSyncGarbage() error {
	// Unconnected: nothing listens on the host kernel (its IPVS sync
	// daemon is in the VM), and a connected socket would fail on the
	// port unreachable that comes back.
	c, err := net.ListenPacket("udp4", hostileSrc+":0")
	if err != nil {
		return err
	}
	defer c.Close()
	for _, to := range []string{"224.0.0.81", "192.0.2.1", "192.0.2.2"} {
		for i := range hostileCount {
			_, err := c.WriteTo([]byte(strings.Repeat("garbage", i*50+1)), &net.UDPAddr{IP: net.ParseIP(to), Port: 8848})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// advert marshals a valid advert from evil to dst, then lets bad corrupt
// its bytes (recomputing nothing).
func advert(t *testing.T, a vrrp.Advert, dst string, bad func([]byte) []byte) []byte {
	t.Helper()
	if a.Type == 0 {
		a.Type = vrrp.TypeAdvertisement
	}
	if dst == "" {
		dst = "224.0.0.18"
	}
	b, err := a.Marshal(netip.MustParseAddr(hostileSrc), netip.MustParseAddr(dst), vrrp.ChecksumPseudoHeader)
	if err != nil {
		t.Fatal(err)
	}
	if bad != nil {
		b = bad(b)
	}
	return b
}

// resum recomputes a version 3 IPv4 checksum over b (pseudo-header
// included), for packets made bad in a field the checksum covers.
func resum(b []byte, dst string) []byte {
	b[6], b[7] = 0, 0
	var sum uint32
	for _, x := range [][]byte{netip.MustParseAddr(hostileSrc).AsSlice(), netip.MustParseAddr(dst).AsSlice(),
		{0, 112, byte(len(b) >> 8), byte(len(b))}, b} {
		for i := 0; i+1 < len(x); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(x[i:]))
		}
		if len(x)%2 == 1 {
			sum += uint32(x[len(x)-1]) << 8
		}
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[6:], ^uint16(sum))
	return b
}

var hostileVIP = []netip.Addr{netip.MustParseAddr(pairVIP)}

// TestHostileAdverts: multicast VRRPv3 at 100 ms.
func TestHostileAdverts(t *testing.T) {
	h := newHostilePair(t, func(string) string { return "      vrid: 51\n      advert_interval: 100ms\n" })
	v3 := func(prio uint8) vrrp.Advert {
		return vrrp.Advert{Version: 3, VRID: 51, Priority: prio, Interval: 100 * time.Millisecond, Addrs: hostileVIP}
	}
	m := "224.0.0.18"
	h.run(t, []hostileCase{
		{"ttl 64", vrrp.ReasonTTL, 64, "", advert(t, v3(254), "", nil)},
		{"ttl 1", vrrp.ReasonTTL, 1, "", advert(t, v3(255), "", nil)},
		{"bad checksum", vrrp.ReasonChecksum, 255, "", advert(t, v3(254), "", func(b []byte) []byte { b[7] ^= 0x5a; return b })},
		{"version 2", vrrp.ReasonVersion, 255, "", advert(t, vrrp.Advert{Version: 2, VRID: 51, Priority: 254,
			Interval: time.Second, Addrs: hostileVIP}, "", nil)},
		{"version 4", vrrp.ReasonVersion, 255, "", advert(t, v3(254), "", func(b []byte) []byte { b[0] = 0x41; return resum(b, m) })},
		{"type 2", vrrp.ReasonType, 255, "", advert(t, v3(254), "", func(b []byte) []byte { b[0] = 0x32; return resum(b, m) })},
		{"wrong vrid", vrrp.ReasonVRID, 255, "", advert(t, vrrp.Advert{Version: 3, VRID: 52, Priority: 254,
			Interval: 100 * time.Millisecond, Addrs: hostileVIP}, "", nil)},
		// A count that needs more bytes than came is a truncated packet
		// (short); one that leaves bytes over is a bad count.
		{"count 2, one address", vrrp.ReasonShort, 255, "", advert(t, v3(254), "", func(b []byte) []byte { b[3] = 2; return resum(b, m) })},
		{"count 1, two addresses", vrrp.ReasonCount, 255, "", advert(t, v3(254), "", func(b []byte) []byte {
			return resum(append(b, 192, 0, 2, 99), m)
		})},
		{"count 0", vrrp.ReasonCount, 255, "", advert(t, v3(254), "", func(b []byte) []byte { b[3] = 0; return resum(b, m) })},
		{"truncated header", vrrp.ReasonShort, 255, "", advert(t, v3(254), "", func(b []byte) []byte { return b[:6] })},
		{"truncated address", vrrp.ReasonShort, 255, "", advert(t, v3(254), "", func(b []byte) []byte { return b[:10] })},
		{"trailing bytes", vrrp.ReasonCount, 255, "", advert(t, v3(254), "", func(b []byte) []byte {
			return resum(append(b, make([]byte, 64)...), m)
		})},
		// Fragmented on the wire, reassembled, larger than lvsd's read
		// buffer (9000 bytes): what is read disagrees with the count.
		{"oversized 9200 bytes", vrrp.ReasonCount, 255, "", advert(t, v3(254), "", func(b []byte) []byte {
			return resum(append(b, make([]byte, 9200)...), m)
		})},
		{"interval 0", vrrp.ReasonInterval, 255, "", advert(t, v3(254), "", func(b []byte) []byte {
			b[4], b[5] = 0, 0
			return resum(b, m)
		})},
		{"other addresses", vrrp.ReasonAddrList, 255, "", advert(t, vrrp.Advert{Version: 3, VRID: 51, Priority: 254,
			Interval: 100 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.99")}}, "", nil)},
		// Priority 255 claims to own the addresses; a sender advertising
		// other addresses than ours does not own ours.
		{"priority 255, other addresses", vrrp.ReasonAddrList, 255, "", advert(t, vrrp.Advert{Version: 3, VRID: 51,
			Priority: 255, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.99")}}, "", nil)},
		{"IPv6 addresses over IPv4", vrrp.ReasonFamily, 255, "", advert(t, v3(254), "", func(b []byte) []byte {
			return resum(append(b[:8], netip.MustParseAddr("2001:db8::10").AsSlice()...), m)
		})},
	})
}

// TestHostileAdvertsV2: version 2 with a password (1 s adverts, the only
// whole-second interval version 2 can share with our 1 s).
func TestHostileAdvertsV2(t *testing.T) {
	h := newHostilePair(t, func(string) string {
		return "      vrid: 52\n      version: 2\n      advert_interval: 1s\n      auth_pass: s3cret\n"
	})
	v2 := func(pass string) vrrp.Advert {
		return vrrp.Advert{Version: 2, VRID: 52, Priority: 254, Interval: time.Second, Addrs: hostileVIP,
			AuthType: vrrp.AuthPassword, AuthData: vrrp.Password(pass)}
	}
	h.run(t, []hostileCase{
		{"wrong password", vrrp.ReasonAuth, 255, "", advert(t, v2("guess"), "", nil)},
		{"no password", vrrp.ReasonAuth, 255, "", advert(t, vrrp.Advert{Version: 2, VRID: 52, Priority: 254,
			Interval: time.Second, Addrs: hostileVIP}, "", nil)},
		{"priority 255, wrong password", vrrp.ReasonAuth, 255, "", advert(t, func() vrrp.Advert {
			a := v2("guess")
			a.Priority = 255
			return a
		}(), "", nil)},
		{"version 3", vrrp.ReasonVersion, 255, "", advert(t, vrrp.Advert{Version: 3, VRID: 52, Priority: 254,
			Interval: time.Second, Addrs: hostileVIP}, "", nil)},
		{"interval 2s", vrrp.ReasonInterval, 255, "", advert(t, func() vrrp.Advert {
			a := v2("s3cret")
			a.Interval = 2 * time.Second
			return a
		}(), "", nil)},
		{"ttl 254", vrrp.ReasonTTL, 254, "", advert(t, v2("s3cret"), "", nil)},
		{"bad checksum", vrrp.ReasonChecksum, 255, "", advert(t, v2("s3cret"), "", func(b []byte) []byte { b[6] ^= 0xff; return b })},
	})
}

// TestHostileAdvertsUnicast: unicast peers; evil is none of them. (A
// multicast advert does not reach them at all: in unicast mode lvsd joins
// no group.)
func TestHostileAdvertsUnicast(t *testing.T) {
	h := newHostilePair(t, func(name string) string {
		peer := map[string]string{"a": "192.0.2.2", "b": "192.0.2.1"}[name]
		return "      vrid: 53\n      advert_interval: 100ms\n      unicast: {source: " + addrOf(name) + ", peers: [" + peer + "]}\n"
	})
	v3 := func(prio uint8, dst string) []byte {
		return advert(t, vrrp.Advert{Version: 3, VRID: 53, Priority: prio, Interval: 100 * time.Millisecond,
			Addrs: hostileVIP}, dst, nil)
	}
	h.run(t, []hostileCase{
		{"unknown peer to a", vrrp.ReasonNotPeer, 255, "192.0.2.1", v3(254, "192.0.2.1")},
		{"unknown peer to b", vrrp.ReasonNotPeer, 255, "192.0.2.2", v3(254, "192.0.2.2")},
		{"unknown peer, priority 255", vrrp.ReasonNotPeer, 255, "192.0.2.2", v3(255, "192.0.2.2")},
	})
}
