package healthcheck

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsServer is an authoritative server for example.test. on a loopback
// UDP port: www has an A record, mail only an MX, and other names are
// NXDOMAIN. Names under broken. get SERVFAIL.
func dnsServer(t testing.TB, host string) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(answer), NotifyStartedFunc: func() { close(started) }}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return addrPort(t, pc.LocalAddr())
}

func answer(w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	qn := q.Question[0]
	switch {
	case qn.Name == "www.example.test." && qn.Qtype == dns.TypeA:
		rr, _ := dns.NewRR("www.example.test. 60 IN A 192.0.2.10")
		m.Answer = append(m.Answer, rr)
	case qn.Name == "www.example.test.", qn.Name == "mail.example.test.":
		// the name exists, without records of this type
	case dns.IsSubDomain("broken.", qn.Name):
		m.Rcode = dns.RcodeServerFailure
	default:
		m.Rcode = dns.RcodeNameError
	}
	_ = w.WriteMsg(m)
}

func mustDNS(t *testing.T, c Spec) *DNS {
	t.Helper()
	d, err := NewDNS(c)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDNS(t *testing.T) {
	server := dnsServer(t, "127.0.0.1")
	closed := closedPort(t, "udp", "127.0.0.1")
	tests := []struct {
		name   string
		target netip.AddrPort
		check  Spec
		reason Reason
		detail string
	}{
		{"A answer, default type", server, Spec{Query: "www.example.test"}, "", ""},
		{"no answer of the type", server, Spec{Query: "www.example.test", QueryType: "AAAA"}, ReasonDNS,
			"dns www.example.test. AAAA from " + server.String() + ": no AAAA answer"},
		{"nxdomain", server, Spec{Query: "nope.example.test."}, ReasonDNS, "rcode NXDOMAIN"},
		{"servfail", server, Spec{Query: "x.broken"}, ReasonDNS, "rcode SERVFAIL"},
		{"port unreachable", closed, Spec{Query: "www.example.test"}, ReasonRefused, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mustDNS(t, tt.check).Check(checkCtx(t, 2*time.Second), tt.target)
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

func TestDNSNoReply(t *testing.T) {
	silent, _ := udpServer(t, "127.0.0.1", func([]byte) []byte { return nil })
	var err error
	within(t, 1300*time.Millisecond, func() {
		err = mustDNS(t, Spec{Query: "www.example.test"}).Check(checkCtx(t, 300*time.Millisecond), silent)
	})
	wantFail(t, err, ReasonTimeout, "timeout after")
}

func TestDNSIPv6(t *testing.T) {
	haveIPv6(t)
	server := dnsServer(t, "::1")
	if err := mustDNS(t, Spec{Query: "www.example.test"}).Check(checkCtx(t, 2*time.Second), server); err != nil {
		t.Fatal(err)
	}
}

func TestNewDNSRefusesBadConfig(t *testing.T) {
	if _, err := NewDNS(Spec{}); err == nil {
		t.Error("an empty query was accepted")
	}
	if _, err := NewDNS(Spec{Query: "x", QueryType: "BOGUS"}); err == nil {
		t.Error("an unknown type was accepted")
	}
}
