package healthcheck

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// udpServer answers each datagram with reply(datagram), or not at all
// when reply returns nil, and reports each sender on peers.
func udpServer(t testing.TB, host string, reply func([]byte) []byte) (netip.AddrPort, <-chan netip.AddrPort) {
	t.Helper()
	c, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	peers := make(chan netip.AddrPort, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			select {
			case peers <- from.(*net.UDPAddr).AddrPort():
			default:
			}
			if out := reply(buf[:n]); out != nil {
				_, _ = c.WriteTo(out, from)
			}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return addrPort(t, c.LocalAddr()), peers
}

func echoPong(b []byte) []byte { return append([]byte("PONG "), b...) }

func TestUDP(t *testing.T) {
	echo, _ := udpServer(t, "127.0.0.1", echoPong)
	closed := closedPort(t, "udp", "127.0.0.1")
	tests := []struct {
		name   string
		target netip.AddrPort
		check  Spec
		reason Reason
		detail string
	}{
		{"reply expected", echo, Spec{Send: "ping", Expect: "PONG ping"}, "", ""},
		{"any reply", echo, Spec{Send: "ping"}, "", ""},
		{"wrong reply", echo, Spec{Send: "ping", Expect: "OK"}, ReasonExpect, `udp reply from ` + echo.String() + ` lacks "OK": got "PONG ping"`},
		{"port unreachable", closed, Spec{Send: "ping", Expect: "PONG"}, ReasonRefused, "udp " + closed.String() + ": refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewUDP(tt.check).Check(checkCtx(t, 2*time.Second), tt.target)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("unhealthy: %v", err)
				}
				return
			}
			wantFail(t, err, tt.reason, tt.detail)
		})
	}
}

func TestUDPNoReply(t *testing.T) {
	silent, _ := udpServer(t, "127.0.0.1", func([]byte) []byte { return nil })
	var err error
	within(t, 1300*time.Millisecond, func() {
		err = NewUDP(Spec{Send: "ping"}).Check(checkCtx(t, 300*time.Millisecond), silent)
	})
	wantFail(t, err, ReasonTimeout, "udp "+silent.String()+": no reply, timeout after")
}

func TestUDPSource(t *testing.T) {
	echo, peers := udpServer(t, "127.0.0.1", echoPong)
	err := NewUDP(Spec{Send: "ping", Source: netip.MustParseAddr("127.0.0.2")}).Check(checkCtx(t, 2*time.Second), echo)
	if err != nil {
		t.Skipf("cannot bind 127.0.0.2 here: %v", err)
	}
	if p := <-peers; p.Addr() != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("server saw the check from %s, want 127.0.0.2", p)
	}
}

func TestUDPIPv6(t *testing.T) {
	haveIPv6(t)
	echo, _ := udpServer(t, "::1", echoPong)
	if err := NewUDP(Spec{Send: "x", Expect: "PONG"}).Check(checkCtx(t, 2*time.Second), echo); err != nil {
		t.Fatal(err)
	}
	closed := closedPort(t, "udp", "::1")
	err := NewUDP(Spec{Send: "x"}).Check(checkCtx(t, 2*time.Second), closed)
	wantFail(t, err, ReasonRefused, "refused")
}
