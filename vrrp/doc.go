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
// The shell (the IP protocol 112 socket, VIP add and delete, gratuitous ARP
// and Node.Run) is built on this core and is the only part of the package
// that touches the kernel or the clock.
package vrrp
