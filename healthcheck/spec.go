package healthcheck

import (
	"net/netip"
	"time"
)

// Spec is one health check as this package runs it: the check part of a
// realserver's configuration, already defaulted and validated. It is
// healthcheck's own type, as vrrp.InstanceConfig is vrrp's, so that the
// package depends on nothing under director; the engine converts its
// configuration into it.
type Spec struct {
	Type     string        // http https tcp ping udp dns external none on off
	Interval time.Duration // between runs; must be positive for a check that runs
	Timeout  time.Duration // of one run; 0 or more than Interval: Interval
	Rise     int           // successes in a row that bring a realserver up
	Fall     int           // failures in a row that take it down
	Initial  string        // up or down: the state before the first verdict
	Port     int           // 0: the realserver's port
	Address  netip.Addr    // invalid: the realserver's address
	Source   netip.Addr    // local address to probe from; invalid: the kernel's choice

	// RetryInterval is how soon a failed check of an up realserver runs
	// again, until Fall failures take it down or a success resets the
	// count; 0, or no shorter than Interval: at the next Interval.
	RetryInterval time.Duration

	// http and https
	Method     string // "": GET
	Path       string // "": /
	Host       string // Host header, and the TLS server name unless ServerName
	Status     []int  // accepted status codes; empty: 200
	Body       string // the body must contain it
	BodyRegex  string // the body must match it
	TLSVerify  bool
	ServerName string

	// tcp and udp
	Send   string
	Expect string

	// dns
	Query     string
	QueryType string // "": A

	// external
	Command []string
}
