// Package privilege keeps lvsd's capabilities to lvsd. Under systemd lvsd
// runs as an unprivileged user that gets CAP_NET_ADMIN and CAP_NET_RAW as
// ambient capabilities (AmbientCapabilities=), and a non-root process
// passes its ambient set on to every program it executes: external health
// checks, track scripts and notify commands would hold the director's
// network privileges. KeepToSelf clears the ambient and inheritable sets
// of every thread once, at start, so that children get no capability
// (capabilities(7), "Transformation of capabilities during execve()")
// while lvsd keeps its permitted and effective sets.
package privilege

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ErrCgo reports a binary that cannot change all of its threads: Go's
// AllThreadsSyscall refuses when cgo is linked, because threads started by
// C code would keep their capabilities. Build lvsd with CGO_ENABLED=0.
var ErrCgo = errors.New("built with cgo: cannot clear the capabilities of every thread (build with CGO_ENABLED=0)")

// Sets are one thread's capability sets, as bit masks indexed by
// capability number (CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13).
type Sets struct {
	Inheritable, Permitted, Effective, Bounding, Ambient uint64
}

// Capability bits lvsd needs (linux/capability.h).
const (
	NetBindService = 1 << 10
	NetAdmin       = 1 << 12
	NetRaw         = 1 << 13
)

// ReadStatus parses the Cap* lines of a /proc status file, such as
// /proc/self/status or /proc/PID/task/TID/status.
func ReadStatus(path string) (Sets, error) {
	f, err := os.Open(path)
	if err != nil {
		return Sets{}, err
	}
	defer f.Close()
	s, err := ParseStatus(f)
	if err != nil {
		return Sets{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseStatus reads the Cap* lines of a /proc status file's content.
func ParseStatus(r io.Reader) (Sets, error) {
	var s Sets
	fields := map[string]*uint64{"CapInh:": &s.Inheritable, "CapPrm:": &s.Permitted,
		"CapEff:": &s.Effective, "CapBnd:": &s.Bounding, "CapAmb:": &s.Ambient}
	seen := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "\t")
		p := fields[k]
		if !ok || p == nil {
			continue
		}
		var err error
		if *p, err = strconv.ParseUint(strings.TrimSpace(v), 16, 64); err != nil {
			return Sets{}, fmt.Errorf("%s %w", k, err)
		}
		seen++
	}
	if err := sc.Err(); err != nil {
		return Sets{}, err
	}
	if seen != len(fields) {
		return Sets{}, fmt.Errorf("%d of %d capability lines", seen, len(fields))
	}
	return s, nil
}
