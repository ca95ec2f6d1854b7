//go:build integration && ipvs

package integration

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Captures on every hop, for finding where a planned move's lost packet
// goes: with LVSD_CAPTURE=1 the end-to-end test runs tcpdump on every
// interface of the lab, and after each event that had a slow probe it
// prints, for each client connection that took longer than slowMove, every
// packet of it on every hop, with the ARP and VRRP packets of that moment.
// The figures in the note come from this (see integration/README.md).

type capture struct {
	name, file string
}

func (p *ipvsPair) startCaptures() {
	if os.Getenv("LVSD_CAPTURE") == "" {
		return
	}
	hops := [][2]string{{"client", "e0"}, {"a", "e0"}, {"b", "e0"}, {"rs1", "e0"}, {"rs2", "e0"}}
	if p.mode == "nat" {
		hops = [][2]string{{"client", "e0"}, {"a", "e0"}, {"b", "e0"}, {"a", "e1"}, {"b", "e1"}, {"rs1", "e1"}, {"rs2", "e1"}}
	}
	for _, h := range hops {
		c := capture{name: h[0] + ":" + h[1], file: filepath.Join(p.Dir, h[0]+"-"+h[1]+".pcap")}
		p.Start(p.ns[h[0]], "tcpdump-"+h[0]+"-"+h[1], "tcpdump", "-i", h[1], "-n", "-U", "-s", "128", "-w", c.file,
			"tcp port 7000 or arp or ip proto 112 or udp port 8848")
		p.captures = append(p.captures, c)
	}
	time.Sleep(500 * time.Millisecond) // tcpdump listening
}

var capLine = regexp.MustCompile(`^(\d+\.\d+) .*192\.0\.2\.100\.(\d+) [><] |^(\d+\.\d+) .* > 192\.0\.2\.100\.(\d+):`)

// explainSlow prints every packet of the first client connections between
// from and to that lasted longer than slowMove, on every hop, with the
// VRRP, ARP and connection-sync packets of that moment, and what lvsd
// logged then.
//
// The connections named in first (client ports of probes that failed or
// retransmitted) come first, whatever their timing.
func (p *ipvsPair) explainSlow(from, to time.Time, first []string) {
	if len(p.captures) == 0 {
		return
	}
	time.Sleep(200 * time.Millisecond)
	read := func(c capture, filter string) []string {
		out, _ := p.Try(p.ns["client"], "tcpdump", "-r", c.file, "-n", "-tt", "-e", filter)
		return strings.Split(out, "\n")
	}
	// The client's SYNs and FINs: ports whose SYN and FIN are more than
	// slowMove apart, or whose SYN was sent twice.
	begin, last, syns := map[string]float64{}, map[string]float64{}, map[string]int{}
	lo, hi := float64(from.UnixNano())/1e9, float64(to.UnixNano())/1e9
	for _, l := range read(p.captures[0], "src host 192.0.2.100 and tcp[tcpflags] & (tcp-syn|tcp-fin) != 0") {
		m := capLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		ts, port := m[1]+m[3], m[2]+m[4]
		t, _ := strconv.ParseFloat(ts, 64)
		if t < lo || t > hi {
			continue
		}
		if _, ok := begin[port]; !ok {
			begin[port] = t
		}
		last[port] = t
		if strings.Contains(l, "Flags [S]") {
			syns[port]++
		}
	}
	var slow []string
	for port := range begin {
		if last[port]-begin[port] > slowMove.Seconds() || syns[port] > 1 {
			slow = append(slow, port)
		}
	}
	// Retransmitted SYNs first: they are what a planned move must not cost.
	sort.Slice(slow, func(i, j int) bool {
		if (syns[slow[i]] > 1) != (syns[slow[j]] > 1) {
			return syns[slow[i]] > 1
		}
		return slow[i] < slow[j]
	})
	// Then the named ones ahead of all: a data retransmission or a reset
	// is not visible in the SYNs and FINs.
	named := map[string]bool{}
	for _, port := range first {
		if _, seen := begin[port]; seen && !named[port] {
			named[port] = true
		}
	}
	slow = slices.DeleteFunc(slow, func(port string) bool { return named[port] })
	slow = append(slices.Sorted(maps.Keys(named)), slow...)
	if keep := max(2, len(named)); len(slow) > keep {
		p.TB.Logf("%d slow connections: %v; the first %d follow", len(slow), slow, keep)
		slow = slow[:keep]
	}
	for _, port := range slow {
		end := last[port] + 0.05
		if named[port] { // a reset or a lost segment after the last SYN or FIN
			end = last[port] + probeTimeout.Seconds()
		}
		var b strings.Builder
		fmt.Fprintf(&b, "connection from client port %s (first SYN %.3f, FIN %.3f, %d SYNs, failed or retransmitted: %v):\n",
			port, begin[port], last[port], syns[port], named[port])
		if named[port] {
			// An earlier connection from the same client port (the client
			// reuses ports) leaves entries and sockets behind on the
			// directors and realservers: its last packets, on every hop.
			for _, c := range p.captures {
				var earlier []string
				for _, l := range read(c, "tcp port "+port) {
					f := strings.Fields(l)
					if len(f) == 0 {
						continue
					}
					if t, _ := strconv.ParseFloat(f[0], 64); t < begin[port]-0.3 {
						earlier = append(earlier, l)
					}
				}
				if len(earlier) > 0 {
					fmt.Fprintf(&b, "  %-10s %d packets of an earlier connection from port %s, the last ones:\n", c.name, len(earlier), port)
					for _, l := range earlier[max(0, len(earlier)-8):] {
						fmt.Fprintf(&b, "  %-10s %s\n", c.name, l)
					}
				}
			}
		}
		for i, c := range p.captures {
			filter := "port " + port
			if i == 0 {
				filter += " or arp or ip proto 112"
			} else {
				filter += " or arp" // when each side learnt the new master
			}
			if strings.HasSuffix(c.name, p.syncIfc()) && c.name[0] != 'r' && c.name[0] != 'c' {
				filter += " or udp port 8848"
			}
			for _, l := range read(c, filter) {
				f := strings.Fields(l)
				if len(f) == 0 {
					continue
				}
				t, _ := strconv.ParseFloat(f[0], 64)
				if t >= begin[port]-0.3 && t <= end {
					fmt.Fprintf(&b, "  %-10s %s\n", c.name, l)
				}
			}
		}
		for _, d := range []string{"a", "b"} {
			for i := 1; i <= p.runs; i++ {
				for _, l := range strings.Split(p.LogOf(fmt.Sprintf("lvsd-%s-%d", d, i)), "\n") {
					if ts, ok := logTime(l); ok && ts >= begin[port]-0.5 && ts <= end+0.25 {
						fmt.Fprintf(&b, "  lvsd-%s    %s\n", d, l)
					}
				}
			}
		}
		p.TB.Log(b.String())
	}
}

func (p *ipvsPair) syncIfc() string {
	if p.mode == "nat" {
		return "e1"
	}
	return "e0"
}

var logTS = regexp.MustCompile(`time="([^"]+)"`)

// logTime reads a logrus line's time as Unix seconds.
func logTime(l string) (float64, bool) {
	m := logTS.FindStringSubmatch(l)
	if m == nil {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		return 0, false
	}
	return float64(t.UnixNano()) / 1e9, true
}
