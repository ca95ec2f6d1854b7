// Package vrrp implements the Virtual Router Redundancy Protocol for the
// lvsd director pair: VRRP version 3 (RFC 5798, now RFC 9568) for IPv4 and
// IPv6, and version 2 (RFC 3768) for IPv4 so that lvsd can sit beside an
// existing keepalived.
//
// The package is split into a functional core and an imperative shell.
// The core, which has no sockets, goroutines, logging or clock, is:
//
//   - the codec: [Advert], its MarshalBinary and UnmarshalBinary, and the
//     checksummed [Advert.Marshal] and [Parse];
//   - the receive checks of RFC 5798 §7.1 and RFC 3768 §7.1: [Validate],
//     whose errors map to a [DropReason] for metrics;
//   - the state machine of RFC 5798 §6.4: [Machine], which takes an event and
//     the current time and returns [Action] values for the shell to carry out.
//
// The shell is built on this core and is the only part of the package
// that touches the kernel or the clock:
//
//   - [Node] runs one instance ([InstanceConfig]): one goroutine owns the
//     Machine and carries out its actions through small interfaces,
//     [Conn] (raw IP protocol 112 sockets), [Addrs] (VIPs by netlink) and
//     [Announcer] (gratuitous ARP, unsolicited Neighbor Advertisements),
//     with time from a [Clock]. [Deps] replaces any of them, so the Node
//     is tested on fakes; the Linux implementations are in *_linux.go.
//   - Tracked interfaces and scripts lower the priority or fault the Node.
//   - [Group] makes several Nodes hold their addresses together.
//   - [Node.Status] reports state, transitions and counters;
//     [Node.Switchover] and [Node.SetPriority] are the operator's levers.
package vrrp
