//go:build integration && ipvs

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/migrate"
	"github.com/lvsd/lvsd/director/migrate/kaconf"
	"github.com/lvsd/lvsd/director/migrate/keepalived"
	"github.com/lvsd/lvsd/integration/netlab"
)

// TestImportMatchesKeepalivedIPVS is the semantic check of lvsd import:
// for each configuration, keepalived's checker programs the kernel's IPVS
// table from it, then lvsd from its import, each in a fresh namespace,
// and the two tables (ipvsadm-save, line by line) must be equal.
//
// The configurations are Debian's samples that define virtual servers,
// with their checkers removed (keepalived keeps a realserver without a
// checker in service, the import gives it check none), so no packet goes
// to the samples' 10.x and 192.168.x addresses; and this package's own
// (testdata/import) for every scheduler, NAT, DR, TUN, fwmark, IPv6,
// persistence, thresholds, and checks that fail inside the namespace
// (quiescent realservers, the sorry server).
func TestImportMatchesKeepalivedIPVS(t *testing.T) {
	netlab.NeedIPVS(t)
	bin := lvsdBinary(t)
	ka, err := keepalivedBinary()
	if err != nil {
		netlab.SkipOrFail(t, err.Error())
	}
	var confs []string
	samples, _ := filepath.Glob("/usr/share/doc/keepalived/samples/keepalived.conf.*")
	for _, s := range samples {
		if b, _ := os.ReadFile(s); strings.Contains(string(b), "\nvirtual_server ") {
			confs = append(confs, s)
		}
	}
	own, _ := filepath.Glob("testdata/import/*.conf")
	confs = append(confs, own...)
	for _, conf := range confs {
		t.Run(filepath.Base(conf), func(t *testing.T) {
			l := netlab.ForTest(t)
			input := l.Write("keepalived.conf", checkerless(t, conf, strings.HasPrefix(conf, "testdata")))
			r, err := keepalived.Import(input, keepalived.Options{ConfigID: "lvsd-test"})
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, s := range r.Services {
				if !s.Disabled {
					want++
				}
			}
			settle := 0 * time.Second
			if strings.Contains(conf, "health") {
				settle = 4 * time.Second // the checks fail and take effect on both sides
			}
			kaTable := keepalivedTable(l, ka, input, want, settle)
			lvTable := lvsdTable(l, bin, r, input, want, settle)
			if !slices.Equal(kaTable, lvTable) {
				t.Errorf("tables differ\nkeepalived:\n  %s\nlvsd:\n  %s\nfindings:\n%s",
					strings.Join(kaTable, "\n  "), strings.Join(lvTable, "\n  "), r.Findings)
			}
			t.Logf("%d services, %d lines equal:\n  %s", want, len(kaTable), strings.Join(kaTable, "\n  "))
		})
	}
}

func keepalivedBinary() (string, error) {
	for _, p := range []string{"/usr/sbin/keepalived", "/sbin/keepalived"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("keepalived is not installed (make deps)")
}

// checkerless writes conf back without its VRRP parts (the check is about
// the IPVS table; lvsd would only balance VRRP's addresses) and, unless
// keep, without the checkers of its real servers.
func checkerless(t *testing.T, conf string, keep bool) string {
	t.Helper()
	nodes, _, err := kaconf.Parse(conf, kaconf.Options{ConfigID: "lvsd-test"})
	if err != nil {
		t.Fatal(err)
	}
	drop := map[string]bool{"vrrp_instance": true, "vrrp_sync_group": true, "vrrp_script": true, "static_ipaddress": true,
		"static_routes": true, "static_rules": true, "net_namespace": true}
	checkers := map[string]bool{"TCP_CHECK": true, "HTTP_GET": true, "SSL_GET": true, "MISC_CHECK": true, "SMTP_CHECK": true,
		"DNS_CHECK": true, "PING_CHECK": true, "UDP_CHECK": true, "FILE_CHECK": true, "BFD_CHECK": true}
	var b strings.Builder
	var write func([]*kaconf.Node, string, bool)
	write = func(ns []*kaconf.Node, indent string, inReal bool) {
		for _, n := range ns {
			if (indent == "" && drop[n.Keyword]) || (inReal && !keep && checkers[n.Keyword]) {
				continue
			}
			words := []string{n.Keyword}
			for _, a := range n.Args {
				if strings.ContainsAny(a, " \t") {
					a = `"` + a + `"`
				}
				words = append(words, a)
			}
			b.WriteString(indent + strings.Join(words, " "))
			if n.HasBlock {
				b.WriteString(" {\n")
				write(n.Block, indent+"  ", n.Keyword == "real_server")
				b.WriteString(indent + "}")
			}
			b.WriteString("\n")
		}
	}
	write(nodes, "", false)
	return b.String()
}

// tableOf is the namespace's IPVS table as ipvsadm-save writes it, sorted.
func tableOf(l *netlab.T, ns string) []string {
	out, err := l.Try(ns, "ipvsadm-save", "-n")
	if err != nil {
		l.TB.Fatalf("ipvsadm-save: %v\n%s", err, out)
	}
	var lines []string
	for _, s := range strings.Split(out, "\n") {
		if s = strings.TrimSpace(s); s != "" {
			lines = append(lines, s)
		}
	}
	// ipvsadm-save leaves the connection thresholds out; the listing has
	// them, one line per realserver.
	out, err = l.Try(ns, "ipvsadm", "-Ln", "--thresholds")
	if err != nil {
		l.TB.Fatalf("ipvsadm -Ln --thresholds: %v\n%s", err, out)
	}
	for _, s := range strings.Split(out, "\n") {
		// "-> ADDR:PORT UTHRESHOLD LTHRESHOLD ACTIVE INACTIVE": the
		// connection counts are left out.
		if f := strings.Fields(s); len(f) >= 4 && f[0] == "->" && f[1] != "RemoteAddress:Port" {
			lines = append(lines, "thresholds "+strings.Join(f[1:4], " "))
		}
	}
	slices.Sort(lines)
	return lines
}

func services(table []string) int {
	n := 0
	for _, s := range table {
		if strings.HasPrefix(s, "-A ") {
			n++
		}
	}
	return n
}

// addrsForChecks puts the health configuration's addresses on the
// namespace's loopback, so that its checks fail fast (refused) there.
func addrsForChecks(l *netlab.T, ns string) {
	l.In(ns, "ip", "addr", "add", "203.0.113.1/24", "dev", "lo")
}

func keepalivedTable(l *netlab.T, bin, conf string, want int, settle time.Duration) []string {
	ns := l.NS("ka")
	addrsForChecks(l, ns)
	dir := l.Dir
	p := l.StartGroup(ns, "keepalived", bin, "-f", conf, "--dont-fork", "--log-console", "--check", "--no-syslog",
		"-p", filepath.Join(dir, "keepalived.pid"), "-c", filepath.Join(dir, "checkers.pid"),
		"-r", filepath.Join(dir, "vrrp.pid"), "-b", filepath.Join(dir, "bfd.pid"))
	defer func() { _ = p.Stop(10 * time.Second) }()
	var table []string
	l.WaitFor(30*time.Second, fmt.Sprintf("keepalived programs %d services", want), func() bool {
		table = tableOf(l, ns)
		return services(table) == want
	}, func() string { return strings.Join(table, "\n") + "\n" + l.LogOf("keepalived") })
	time.Sleep(settle + time.Second) // the realservers follow their services
	return tableOf(l, ns)
}

func lvsdTable(l *netlab.T, bin string, r migrate.Result, from string, want int, settle time.Duration) []string {
	ns := l.NS("lvsd")
	addrsForChecks(l, ns)
	dir := l.Mkdir("lvsd")
	if _, err := migrate.Write(dir, r, from); err != nil {
		l.TB.Fatal(err)
	}
	// The imported main file, with a socket and no status page of its own.
	main := filepath.Join(dir, migrate.MainFile)
	b, err := os.ReadFile(main)
	if err != nil {
		l.TB.Fatal(err)
	}
	b = append(b, []byte("control: {socket: ctl.sock}\nhttp: {listen: \"\"}\n")...)
	if err := os.WriteFile(main, b, 0o644); err != nil {
		l.TB.Fatal(err)
	}
	p := l.Start(ns, "lvsd", bin, "run", "-c", main)
	defer func() { _ = p.Stop(10 * time.Second) }()
	waitUp(l.TB, filepath.Join(dir, "ctl.sock"))
	var table []string
	l.WaitFor(30*time.Second, fmt.Sprintf("lvsd programs %d services", want), func() bool {
		table = tableOf(l, ns)
		return services(table) == want
	}, func() string { return strings.Join(table, "\n") + "\n" + l.LogOf("lvsd") })
	time.Sleep(settle + time.Second)
	return tableOf(l, ns)
}
