package connsync

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// FuzzDecode feeds Decode arbitrary datagrams, as garbage on the sync
// port would. It must not panic; every error wraps ErrMessage; and what
// it accepts, encoded again, decodes to the same connections.
func FuzzDecode(f *testing.F) {
	recs := []Record{
		{Protocol: 6, State: 1, Client: ap("192.0.2.100:54321"), Virtual: ap("192.0.2.10:7000"), Dest: ap("192.0.2.11:7000"), Timeout: 900},
		{Protocol: 17, Client: ap("[2001:db8::64]:40000"), Virtual: ap("[2001:db8::a]:53"), Dest: ap("[2001:db8::b]:53")},
	}
	for _, r := range recs {
		msgs, err := Encode(7, []Record{r}, 0)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msgs[0])
	}
	f.Add([]byte{})
	f.Add([]byte("garbage on the sync port"))
	f.Add([]byte{0, 1, 0, 8, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, got, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMessage) {
				t.Fatalf("Decode error %v does not wrap ErrMessage", err)
			}
			return
		}
		if len(got) != int(b[4]) {
			t.Fatalf("Decode returned %d connections, the message counts %d", len(got), b[4])
		}
		want := make([]Record, len(got))
		for i, r := range got {
			want[i] = unmapRecord(r)
		}
		msgs, err := Encode(id, want, 1<<16-1)
		if err != nil {
			return // one record mixes families (an IPv6 record holding IPv4-mapped addresses): the kernel would too
		}
		var again []Record
		for _, m := range msgs {
			id2, rs, err := Decode(m)
			if err != nil || id2 != id {
				t.Fatalf("Decode(Encode(%+v)): id %d, %v", want, id2, err)
			}
			again = append(again, rs...)
		}
		if !reflect.DeepEqual(again, want) && !(len(again) == 0 && len(want) == 0) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, want)
		}
	})
}

func unmapRecord(r Record) Record {
	u := func(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }
	r.Client, r.Virtual, r.Dest = u(r.Client), u(r.Virtual), u(r.Dest)
	return r
}

// FuzzParseProc feeds ParseProc arbitrary text for /proc/net/ip_vs_conn.
// It must not panic, and what it reads, printed again the kernel's way,
// reads the same.
func FuzzParseProc(f *testing.F) {
	f.Add(procSample)
	f.Add("TCP C0000264 D431 C000020A 1B58 C000020B 1B58 ESTABLISHED 1\n")
	f.Add("Pro FromIP\nTCP :: 0 :: 0 :: 0 X 0\n")
	f.Add("TCP C00002 D431 C000020A 1B58 C000020B 1B58 ESTABLISHED 1\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseProc(strings.NewReader(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ip_vs_conn") {
				t.Fatalf("error %q does not say where", err)
			}
			return
		}
		var b bytes.Buffer
		for _, c := range got {
			if !c.Client.Addr().IsValid() || !c.Virtual.Addr().IsValid() || !c.Dest.Addr().IsValid() {
				t.Fatalf("invalid address in %+v", c)
			}
			fmt.Fprintf(&b, "%s %s %04X %s %04X %s %04X %s %d\n", protoName(c.Protocol),
				procAddr(c.Client.Addr()), c.Client.Port(), procAddr(c.Virtual.Addr()), c.Virtual.Port(),
				procAddr(c.Dest.Addr()), c.Dest.Port(), c.State, c.Expires)
		}
		again, err := ParseProc(&b)
		if err != nil {
			t.Fatalf("reprinted table: %v\n%s", err, b.String())
		}
		if !reflect.DeepEqual(again, got) && !(len(again) == 0 && len(got) == 0) {
			t.Fatalf("reprinted table reads differently:\n got %+v\nwant %+v", again, got)
		}
	})
}

func protoName(p uint8) string {
	for name, v := range protoNames {
		if v == p {
			return name
		}
	}
	return "?"
}

// procAddr prints an address as ip_vs_conn_seq_show does: IPv4 as 8 hex
// digits, IPv6 as %pI6 (every group, four digits).
func procAddr(a netip.Addr) string {
	if a.Is4() {
		b := a.As4()
		return fmt.Sprintf("%02X%02X%02X%02X", b[0], b[1], b[2], b[3])
	}
	b := a.As16()
	var parts []string
	for i := 0; i < 16; i += 2 {
		parts = append(parts, fmt.Sprintf("%02x%02x", b[i], b[i+1]))
	}
	return strings.Join(parts, ":")
}
