package vrrp

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

// seedPackets are the known-good vectors, plus inputs the fuzzers once
// found interesting, kept so that they run on every go test.
func seedPackets(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, s := range []string{v2Capture, v3Keepalived, v3Hand, v3HandNoPseudo, v3IPv6, v2Password,
		"", "31", "3101640000640000", "2101640000010000" + "0000000000000000"} {
		seeds = append(seeds, unhex(f, s))
	}
	return seeds
}

// FuzzUnmarshal checks that UnmarshalBinary never panics, that every error
// wraps one of the package's sentinels, and that what it accepts encodes
// back to the same bytes (but for the reserved bits, sent as zero) and
// decodes to the same Advert.
func FuzzUnmarshal(f *testing.F) {
	for _, b := range seedPackets(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var a Advert
		if err := a.UnmarshalBinary(b); err != nil {
			if r := Reason(err); r == ReasonOther || r == ReasonNone {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		out, err := a.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary of accepted %x: %v", b, err)
		}
		want := bytes.Clone(b)
		if a.Version == 3 {
			want[4] &= 0x0f // RFC 5798 §5.2.6
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("round trip\n in  %x\n out %x", b, out)
		}
		var again Advert
		if err := again.UnmarshalBinary(out); err != nil || !reflect.DeepEqual(again, a) {
			t.Fatalf("decode(encode(a)) = %+v, %v; want %+v", again, err, a)
		}
	})
}

// FuzzParse checks that Parse and Validate never panic, and that an
// accepted packet is exactly what Marshal produces for the same addresses.
func FuzzParse(f *testing.F) {
	src4, src6 := netip.MustParseAddr("192.0.2.1").AsSlice(), netip.MustParseAddr("fe80::1").AsSlice()
	for _, b := range seedPackets(f) {
		for mode := range 3 {
			f.Add(b, src4, mcast4.AsSlice(), uint8(mode), uint8(255))
			f.Add(b, src6, mcast6.AsSlice(), uint8(mode), uint8(255))
		}
	}
	f.Fuzz(func(t *testing.T, b, srcb, dstb []byte, modeb, ttl uint8) {
		src, _ := netip.AddrFromSlice(srcb)
		dst, _ := netip.AddrFromSlice(dstb)
		mode := ChecksumMode(modeb % 4) // 3 is unknown: treated as pseudo-header
		a, err := Parse(b, src, dst, mode)
		if _, verr := Validate(b, ttl, src, dst, Expect{Version: 3, VRID: 1, Checksum: mode}); verr != nil && Reason(verr) == ReasonOther {
			t.Fatalf("Validate error %v wraps no sentinel", verr)
		}
		if err != nil {
			if Reason(err) == ReasonOther {
				t.Fatalf("Parse error %v wraps no sentinel", err)
			}
			return
		}
		out, err := a.Marshal(src, dst, mode)
		if err != nil {
			t.Fatalf("Marshal of accepted %x: %v", b, err)
		}
		if a.Version == 3 && b[4]&0xf0 != 0 {
			// Reserved bits are covered by the checksum but sent as zero,
			// so the bytes and checksum differ; nothing else may.
			again, err := Parse(out, src, dst, mode)
			again.Checksum = a.Checksum
			if err != nil || !reflect.DeepEqual(again, a) {
				t.Fatalf("Parse(Marshal(a)) = %+v, %v; want %+v", again, err, a)
			}
			return
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("Parse then Marshal\n in  %x\n out %x", b, out)
		}
	})
}

// FuzzMachine drives a Machine with arbitrary events, three bytes each,
// the way a shell would (firing due timers first), and checks invariants:
// VIPs are acquired and released in turn and match State().HoldsVIPs();
// every state change is reported by exactly one Became, last; a timer
// runs exactly in the states that have one, and lies in the future; a
// node that holds the VIPs advertises its own priority or 0.
func FuzzMachine(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 0, 0})
	f.Add([]byte{0, 0, 0, 2, 0, 0, 5, 0, 0, 1, 100, 1, 2, 50, 0})
	f.Add([]byte{0, 0, 0, 1, 0, 2, 6, 1, 0, 1, 50, 9, 7, 0, 0, 8, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		m, err := NewMachine(Config{VRID: 1, Priority: 100, AdvertInterval: 100 * ms,
			Preempt: len(ops)%2 == 0, PreemptDelay: 250 * ms, Self: self, ResignTimeout: 300 * ms})
		if err != nil {
			t.Fatal(err)
		}
		h := &fuzzShell{t: t, m: m, now: t0}
		for len(ops) >= 3 {
			h.step(ops[0], ops[1], ops[2])
			ops = ops[3:]
		}
	})
}

type fuzzShell struct {
	t    *testing.T
	m    *Machine
	now  time.Time
	vips bool
}

func (h *fuzzShell) step(op, x, y byte) {
	h.now = h.now.Add(time.Duration(y) * 5 * ms)
	for i := 0; ; i++ {
		d := h.m.Deadline()
		if d.IsZero() || d.After(h.now) {
			break
		}
		if i > 1000 {
			h.t.Fatalf("Timeout at %v does not move deadline %v", h.now, d)
		}
		h.apply(d, h.m.Timeout(d))
	}
	peers := []netip.Addr{lower, higher, self}
	switch op % 9 {
	case 0:
		h.apply(h.now, h.m.Start(h.now))
	case 1:
		a := Advert{Version: 3, Type: 1, VRID: 1, Priority: x, From: peers[int(y)%3],
			Interval: time.Duration(1+x%4) * 50 * ms}
		h.apply(h.now, h.m.Receive(h.now, a))
	case 2:
		h.apply(h.now, h.m.Timeout(h.now))
	case 3:
		h.apply(h.now, h.m.Shutdown(h.now))
	case 4:
		h.apply(h.now, h.m.Resign(h.now))
	case 5:
		h.apply(h.now, h.m.SetPriority(h.now, x))
	case 6:
		h.apply(h.now, h.m.SetFault(h.now, "fuzz"))
	case 7:
		h.apply(h.now, h.m.ClearFault(h.now))
	case 8:
		h.now = h.now.Add(time.Duration(x) * 10 * ms)
	}
}

// apply checks the actions returned by a call made at time now.
func (h *fuzzShell) apply(now time.Time, acts []Action) {
	before := h.vips
	became := 0
	for i, act := range acts {
		switch a := act.(type) {
		case AcquireVIPs:
			if h.vips {
				h.t.Fatalf("AcquireVIPs while holding: %v", acts)
			}
			h.vips = true
		case ReleaseVIPs:
			if !h.vips {
				h.t.Fatalf("ReleaseVIPs while not holding: %v", acts)
			}
			h.vips = false
		case Announce:
			if !h.vips {
				h.t.Fatalf("Announce while not holding: %v", acts)
			}
		case SendAdvert:
			if a.Priority != 0 && a.Priority != h.m.Priority() {
				h.t.Fatalf("SendAdvert{%d} with priority %d: %v", a.Priority, h.m.Priority(), acts)
			}
		case Became:
			became++
			if i != len(acts)-1 || a.State != h.m.State() || a.Reason == "" {
				h.t.Fatalf("Became %+v not last or not the state %v: %v", a, h.m.State(), acts)
			}
		}
	}
	if h.vips != h.m.State().HoldsVIPs() {
		h.t.Fatalf("holding VIPs %v in state %v after %v", h.vips, h.m.State(), acts)
	}
	if became > 1 || (h.vips != before && became == 0) {
		h.t.Fatalf("VIPs changed or too many Became without one transition: %v", acts)
	}
	d := h.m.Deadline()
	timed := h.m.State() != Initialize && h.m.State() != Fault
	if d.IsZero() == timed || (timed && !d.After(now)) {
		h.t.Fatalf("state %v at %v has deadline %v", h.m.State(), now, d)
	}
}
