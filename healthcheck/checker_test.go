package healthcheck

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
)

func TestNewBuildsEachType(t *testing.T) {
	real := netip.MustParseAddrPort("198.51.100.5:8080")
	tests := []struct {
		check Spec
		want  string // %T of the checker
	}{
		{Spec{Type: "http"}, "*healthcheck.HTTP"},
		{Spec{Type: "https"}, "*healthcheck.HTTP"},
		{Spec{Type: "tcp"}, "*healthcheck.TCP"},
		{Spec{Type: "udp", Send: "x"}, "*healthcheck.UDP"},
		{Spec{Type: "dns", Query: "example.com"}, "*healthcheck.DNS"},
		{Spec{Type: "ping"}, "*healthcheck.Ping"},
		{Spec{Type: "external", Command: []string{"/bin/true"}}, "*healthcheck.External"},
		{Spec{Type: "none"}, "healthcheck.Static"},
		{Spec{Type: "on"}, "healthcheck.Static"},
		{Spec{Type: "off"}, "healthcheck.Static"},
	}
	for _, tt := range tests {
		ch, target, err := New(tt.check, real)
		if err != nil {
			t.Errorf("%s: %v", tt.check.Type, err)
			continue
		}
		if got := fmt.Sprintf("%T", ch); got != tt.want {
			t.Errorf("%s: built %s, want %s", tt.check.Type, got, tt.want)
		}
		if target != real {
			t.Errorf("%s: target %v, want the real %v", tt.check.Type, target, real)
		}
	}
}

func TestNewTargetOverrides(t *testing.T) {
	real := netip.MustParseAddrPort("198.51.100.5:8080")
	tests := []struct {
		check Spec
		want  string
	}{
		{Spec{Type: "tcp", Port: 9000}, "198.51.100.5:9000"},
		{Spec{Type: "tcp", Address: netip.MustParseAddr("10.0.1.5")}, "10.0.1.5:8080"},
		{Spec{Type: "tcp", Address: netip.MustParseAddr("10.0.1.5"), Port: 81}, "10.0.1.5:81"},
	}
	for _, tt := range tests {
		_, target, err := New(tt.check, real)
		if err != nil || target.String() != tt.want {
			t.Errorf("%+v: target %v (%v), want %s", tt.check, target, err, tt.want)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	real := netip.MustParseAddrPort("198.51.100.5:8080")
	for _, c := range []Spec{
		{Type: "gopher"},
		{Type: "http", BodyRegex: "("},
		{Type: "dns"},
		{Type: "external"},
		{Type: "tcp", Source: netip.MustParseAddr("2001:db8::1")},
	} {
		if _, _, err := New(c, real); err == nil {
			t.Errorf("%+v was accepted", c)
		}
	}
}

func TestStatic(t *testing.T) {
	if err := (Static{Up: true}).Check(context.Background(), netip.AddrPort{}); err != nil {
		t.Errorf("on: %v", err)
	}
	err := (Static{}).Check(context.Background(), netip.AddrPort{})
	wantFail(t, err, ReasonForcedDown, "forced down")
}

func TestReasonOf(t *testing.T) {
	wrapped := fmt.Errorf("outer: %w", fail(ReasonBody, `body lacks "UP"`))
	for _, tt := range []struct {
		err  error
		want Reason
	}{
		{nil, ""},
		{errors.New("odd"), ReasonError},
		{wrapped, ReasonBody},
	} {
		if got := ReasonOf(tt.err); got != tt.want {
			t.Errorf("ReasonOf(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
	var e *Error
	if !errors.As(wrapped, &e) || e.Detail != `body lacks "UP"` {
		t.Errorf("errors.As: %+v", e)
	}
}
