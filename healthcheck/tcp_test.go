package healthcheck

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// tcpServer serves every connection with handle on a loopback listener
// and reports the peer address of the last connection on peers.
func tcpServer(t testing.TB, host string, handle func(net.Conn)) (netip.AddrPort, <-chan string) {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	peers := make(chan string, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			select {
			case peers <- c.RemoteAddr().String():
			default:
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return addrPort(t, l.Addr()), peers
}

// pingPong answers "PING" lines with "+PONG" and anything else with "-ERR".
func pingPong(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if strings.TrimSpace(line) == "PING" {
			_, _ = c.Write([]byte("+PONG\r\n"))
		} else {
			_, _ = c.Write([]byte("-ERR unknown\r\n"))
			return
		}
	}
}

func TestTCP(t *testing.T) {
	echo, _ := tcpServer(t, "127.0.0.1", pingPong)
	banner, _ := tcpServer(t, "127.0.0.1", func(c net.Conn) { _, _ = c.Write([]byte("220 mail ESMTP ready\r\n")) })
	hangup, _ := tcpServer(t, "127.0.0.1", func(net.Conn) {})
	closed := closedPort(t, "tcp", "127.0.0.1")
	tests := []struct {
		name   string
		target netip.AddrPort
		check  Spec
		reason Reason
		detail string
	}{
		{"connect", echo, Spec{}, "", ""},
		{"send and expect", echo, Spec{Send: "PING\r\n", Expect: "+PONG"}, "", ""},
		{"send only", echo, Spec{Send: "PING\r\n"}, "", ""},
		{"banner", banner, Spec{Expect: "220 "}, "", ""},
		{"wrong reply", echo, Spec{Send: "HELLO\r\n", Expect: "+PONG"}, ReasonExpect, `reply lacks "+PONG": got "-ERR unknown\r\n"`},
		{"reset, request unread", hangup, Spec{Send: "PING\r\n", Expect: "+PONG"}, ReasonReset, "read " + hangup.String() + ": "},
		{"closed without a greeting", hangup, Spec{Expect: "220"}, ReasonReset, "read " + hangup.String() + ": closed by the server"},
		{"refused", closed, Spec{}, ReasonRefused, "connect " + closed.String() + ": refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := NewTCP(tt.check).Check(checkCtx(t, 2*time.Second), tt.target)
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

func TestTCPTimeout(t *testing.T) {
	silent := silentListener(t)
	var err error
	within(t, 1300*time.Millisecond, func() {
		err = NewTCP(Spec{Send: "PING\r\n", Expect: "+PONG"}).Check(checkCtx(t, 300*time.Millisecond), silent)
	})
	wantFail(t, err, ReasonTimeout, "read "+silent.String()+": timeout after", `waiting for "+PONG"`)
}

func TestTCPCancelReturnsAtOnce(t *testing.T) {
	silent := silentListener(t)
	ctx, cancel := context.WithCancel(context.Background())
	// Real time: the cancel must find the check blocked in its read on a
	// real socket, which no clock of the test's can see.
	time.AfterFunc(100*time.Millisecond, cancel)
	var err error
	within(t, time.Second, func() { err = NewTCP(Spec{Expect: "220"}).Check(ctx, silent) })
	wantFail(t, err, ReasonCanceled, "canceled")
}

func TestTCPSource(t *testing.T) {
	target, peers := tcpServer(t, "127.0.0.1", func(net.Conn) {})
	err := NewTCP(Spec{Source: netip.MustParseAddr("127.0.0.2")}).Check(checkCtx(t, 2*time.Second), target)
	if err != nil {
		t.Skipf("cannot bind 127.0.0.2 here: %v", err)
	}
	if p := <-peers; netip.MustParseAddrPort(p).Addr() != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("server saw the check from %s, want 127.0.0.2", p)
	}
}

func TestTCPIPv6(t *testing.T) {
	haveIPv6(t)
	target, _ := tcpServer(t, "::1", pingPong)
	if err := NewTCP(Spec{Send: "PING\n", Expect: "PONG"}).Check(checkCtx(t, 2*time.Second), target); err != nil {
		t.Fatal(err)
	}
	closed := closedPort(t, "tcp", "::1")
	err := NewTCP(Spec{}).Check(checkCtx(t, 2*time.Second), closed)
	wantFail(t, err, ReasonRefused, "connect "+closed.String()+": refused")
}
