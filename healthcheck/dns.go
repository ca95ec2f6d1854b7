package healthcheck

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// DNS checks a name server: one query over UDP must come back NOERROR
// with at least one answer of the asked type.
type DNS struct {
	client *dns.Client
	name   string // fully qualified
	qtype  uint16
}

// NewDNS builds a DNS checker from c (source, query, query_type, which
// defaults to A).
func NewDNS(c Spec) (*DNS, error) {
	if c.Query == "" {
		return nil, fmt.Errorf("query: empty name")
	}
	qt := c.QueryType
	if qt == "" {
		qt = "A"
	}
	qtype, ok := dns.StringToType[qt]
	if !ok {
		return nil, fmt.Errorf("query_type %q: unknown", qt)
	}
	return &DNS{
		client: &dns.Client{Net: "udp", Dialer: dialer(c, "udp")},
		name:   dns.Fqdn(c.Query),
		qtype:  qtype,
	}, nil
}

// Check asks target for the name and judges the answer.
func (d *DNS) Check(ctx context.Context, target netip.AddrPort) error {
	start := time.Now()
	subject := target.String()
	conn, err := d.client.DialContext(ctx, subject)
	if err != nil {
		return classify(ctx, start, "dns", subject, err)
	}
	defer conn.Close()
	defer closeOnDone(ctx, conn)()
	m := new(dns.Msg)
	m.SetQuestion(d.name, d.qtype)
	r, _, err := d.client.ExchangeWithConnContext(ctx, m, conn)
	if err != nil {
		return classify(ctx, start, "dns query "+d.question()+" to", subject, err)
	}
	return d.judge(r, subject)
}

// judge wants rcode NOERROR and an answer record of the asked type.
func (d *DNS) judge(r *dns.Msg, subject string) error {
	if r.Rcode != dns.RcodeSuccess {
		return fail(ReasonDNS, "dns %s from %s: rcode %s", d.question(), subject, dns.RcodeToString[r.Rcode])
	}
	for _, rr := range r.Answer {
		if rr.Header().Rrtype == d.qtype {
			return nil
		}
	}
	return fail(ReasonDNS, "dns %s from %s: no %s answer", d.question(), subject, dns.TypeToString[d.qtype])
}

func (d *DNS) question() string { return d.name + " " + dns.TypeToString[d.qtype] }
