package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Config holds the parameters of one virtual router (RFC 5798 §6.1) and
// lvsd's extensions. The Machine reads it once, in NewMachine.
type Config struct {
	// VRID is the Virtual Router Identifier, 1 to 255.
	VRID uint8
	// Priority is the configured priority, 1 to 255. 255 means this node
	// owns the virtual addresses: it becomes master at startup without
	// waiting and always preempts (RFC 5798 §6.1, §6.4.1). SetPriority
	// changes the effective priority later.
	Priority uint8
	// AdvertInterval is Advertisement_Interval: for version 3 a multiple of
	// 10ms up to 40.95s (RFC 5798 §5.2.7), for version 2 a whole number of
	// seconds up to 255 (RFC 3768 §5.3.7). RFC 5798 suggests 1s.
	AdvertInterval time.Duration
	// Preempt is Preempt_Mode: whether a higher-priority backup takes over
	// from a lower-priority master (RFC 5798 §6.1). The RFC's default is
	// true; the zero Config has it false, so configuration code must set it.
	Preempt bool
	// PreemptDelay, with Preempt, is how long a backup keeps deferring to a
	// lower-priority master before preempting, as keepalived's
	// preempt_delay. It counts from the first such advertisement heard
	// since the backup last entered Backup, or since it last heard a master
	// it does not outrank; it never delays taking over from a silent master.
	PreemptDelay time.Duration
	// Self is this node's primary address on the interface, the IP source
	// of its advertisements: of two masters of equal priority the one with
	// the greater address wins (RFC 5798 §6.4.3).
	Self netip.Addr
	// Version is 3 (RFC 5798) or 2 (RFC 3768, IPv4 only); 0 means 3.
	// Version 2 has no Master_Adver_Interval: peers must all use
	// AdvertInterval, and its Skew_Time is (256-Priority)/256 seconds.
	Version int
	// ResignTimeout bounds Resigning: how long a resigning master keeps the
	// addresses waiting to hear a new master. 0 means 4 * AdvertInterval,
	// longer than any peer's Master_Down_Interval, so that a live peer takes
	// over before the addresses are released even if every priority-0
	// advertisement is lost.
	ResignTimeout time.Duration
}

// Check reports every problem with c, joined with errors.Join.
func (c Config) Check() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("vrrp config: "+format, args...))
	}
	if c.VRID == 0 {
		bad("vrid 0: must be 1 to 255")
	}
	if c.Priority == 0 {
		bad("priority 0: must be 1 to 255, 0 is reserved for a leaving master")
	}
	version := c.version()
	if version != 2 && version != 3 {
		bad("version %d: must be 2 or 3", c.Version)
	}
	probe := Advert{Version: version, Interval: c.AdvertInterval}
	if _, err := probe.intervalField(); err != nil || c.AdvertInterval == 0 {
		bad("advert interval %v: not a positive interval version %d can send", c.AdvertInterval, version)
	}
	if c.PreemptDelay < 0 || c.ResignTimeout < 0 {
		bad("preempt delay %v, resign timeout %v: must not be negative", c.PreemptDelay, c.ResignTimeout)
	}
	if !c.Self.IsValid() || c.Self.Is4In6() {
		bad("self %v: need this node's primary IPv4 or IPv6 address", c.Self)
	} else if version == 2 && !c.Self.Is4() {
		bad("self %v: version 2 runs over IPv4 only", c.Self)
	}
	return errors.Join(errs...)
}

// version returns the VRRP version, defaulting to 3.
func (c Config) version() int {
	if c.Version == 0 {
		return 3
	}
	return c.Version
}

// resignTimeout returns ResignTimeout or its default.
func (c Config) resignTimeout() time.Duration {
	if c.ResignTimeout > 0 {
		return c.ResignTimeout
	}
	return 4 * c.AdvertInterval
}
