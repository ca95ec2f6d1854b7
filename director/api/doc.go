// Package api is lvsd's operator API: the status snapshot and every
// request and response of the control socket, with typed states, and the
// socket that carries them. The CLI, the demo, the status page and the
// metrics read these types; none of them imports the engine (package
// director) to decode its answers.
//
// The engine fills these types from its parts (vrrp, healthcheck, ipvs);
// this package imports none of them, so the wire format changes only
// when a type here changes.
package api
