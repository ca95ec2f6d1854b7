package keepalived

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/migrate"
)

// samplesDir is where Debian's keepalived package puts its samples.
const samplesDir = "/usr/share/doc/keepalived/samples"

// sampleRow is what the import of one sample gives: how many directives
// were translated as written, and "LINE directive" for each finding, in
// line order ("!" marks the ones that change traffic).
type sampleRow struct {
	translated int
	findings   string
}

// samples is the expected import of every sample keepalived 2.2.7 ships in
// Debian. A change in the translator that changes a row must change it
// here too, on purpose.
var samples = map[string]sampleRow{
	"keepalived.conf.HTTP_GET.port":         {17, "4 notification_email, 7 notification_email_from, 8 smtp_server, 9 smtp_connect_timeout, 25 !digest"},
	"keepalived.conf.IPv6":                  {14, "7 virtual_server_group, 24 !SMTP_CHECK"},
	"keepalived.conf.PING_CHECK":            {12, "5 notification_email, 8 notification_email_from, 9 smtp_server, 10 smtp_connect_timeout"},
	"keepalived.conf.SMTP_CHECK":            {34, "16 notification_email, 19 notification_email_from, 20 smtp_server, 21 smtp_connect_timeout, 39 !SMTP_CHECK, 58 !SMTP_CHECK, 68 !host, 72 !host, 89 !SMTP_CHECK, 101 !host, 107 !host"},
	"keepalived.conf.SSL_GET":               {42, "4 notification_email, 7 notification_email_from, 8 smtp_server, 9 smtp_connect_timeout, 14 state, 19 !authentication, 30 !virtual_server, 42 !digest, 44 !url, 55 !virtual_server, 67 !digest, 69 !url"},
	"keepalived.conf.UDP_CHECK":             {14, "5 notification_email, 8 notification_email_from, 9 smtp_server, 10 smtp_connect_timeout, 23 !UDP_CHECK"},
	"keepalived.conf.conditional_conf":      {20, "3 net_namespace, 10 timeout, 15 priority, 16 state"},
	"keepalived.conf.fwmark":                {18, "7 protocol"},
	"keepalived.conf.inhibit":               {17, "4 notification_email, 7 notification_email_from, 8 smtp_server, 9 smtp_connect_timeout, 26 !digest"},
	"keepalived.conf.misc_check":            {12, "5 notification_email, 8 notification_email_from, 9 smtp_server, 10 smtp_connect_timeout"},
	"keepalived.conf.misc_check_arg":        {12, "4 notification_email, 7 notification_email_from, 8 smtp_server, 9 smtp_connect_timeout"},
	"keepalived.conf.quorum":                {57, "30 omega, 31 !quorum, 32 !hysteresis, 33 !quorum_up, 34 !quorum_down"},
	"keepalived.conf.sample":                {27, "4 notification_email, 7 notification_email_from, 8 smtp_server, 9 smtp_connect_timeout, 26 !virtual_server, 40 !digest"},
	"keepalived.conf.status_code":           {17, "5 notification_email, 8 notification_email_from, 9 smtp_server, 10 smtp_connect_timeout, 28 !url"},
	"keepalived.conf.track_interface":       {11, "7 !static_routes, 15 state, 25 !192.168.200.17, 26 !192.168.200.18, 28 !virtual_routes"},
	"keepalived.conf.virtual_server_group":  {31, "4 notification_email, 7 notification_email_from, 8 smtp_server, 9 smtp_connect_timeout, 22 protocol, 34 !digest, 47 !digest"},
	"keepalived.conf.virtualhost":           {17, "4 notification_email, 7 notification_email_from, 8 smtp_server, 9 smtp_connect_timeout, 27 !digest, 29 !url"},
	"keepalived.conf.vrrp":                  {44, "4 notification_email, 7 notification_email_from, 8 smtp_server, 9 smtp_connect_timeout, 14 state, 16 garp_master_delay, 17 smtp_alert, 32 192.168.200.18, 38 smtp_alert, 50 state, 52 smtp_alert, 69 smtp_alert"},
	"keepalived.conf.vrrp.localcheck":       {94, "42 priority, 44 state, 64 priority, 66 state, 104 state, 115 state, 125 state, 135 state, 145 state"},
	"keepalived.conf.vrrp.lvs_syncd":        {42, "3 vrrp_sync_group, 4 VI_2, 5 VI_3, 9 state, 11 lvs_sync_daemon"},
	"keepalived.conf.vrrp.routes":           {8, "7 !static_routes, 16 state, 22 !192.168.200.17, 23 !192.168.200.18, 25 !virtual_routes"},
	"keepalived.conf.vrrp.rules":            {8, "9 !static_rules, 15 state, 21 !192.168.200.17, 22 !192.168.200.18, 24 !virtual_rules"},
	"keepalived.conf.vrrp.scripts":          {28, "11 notify_backup, 12 notify_master, 13 notify_fault, 17 state, 19 smtp_alert, 32 notify_backup, 33 notify_master, 34 notify_fault, 40 state, 50 state"},
	"keepalived.conf.vrrp.static_ipaddress": {8, "7 !static_ipaddress, 14 state, 21 !virtual_routes"},
	"keepalived.conf.vrrp.sync":             {67, "13 notify_backup, 14 notify_master, 15 notify_fault, 27 state, 37 state, 64 state, 74 state, 84 state, 94 state, 104 state"},
}

// offHost is a machine without the samples' interfaces: host checks
// become warnings, as when validating on a workstation.
type offHost struct{}

func (offHost) Hostname() (string, error)                  { return "lvsd-test", nil }
func (offHost) InterfaceAddrs(string) ([]netip.Addr, bool) { return nil, false }

// configID is the config id each sample is imported with (keepalived -i).
func configID(name string) string {
	if name == "keepalived.conf.conditional_conf" {
		return "high" // the sample says: run with -i high or -i low
	}
	return "lvsd-test"
}

func TestSamples(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(samplesDir, "keepalived.conf.*"))
	if len(files) == 0 {
		t.Skip("keepalived's samples are not installed (make deps installs keepalived)")
	}
	got := map[string]sampleRow{}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			r, err := Import(f, Options{ConfigID: configID(name)})
			if err != nil {
				t.Fatal(err)
			}
			validate(t, r, f)
			got[name] = row(r)
		})
	}
	var names []string
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	var table strings.Builder
	for _, n := range names {
		want, ok := samples[n]
		if !ok || want != got[n] {
			t.Errorf("%s: got %d translated, findings %q; want %d, %q", n, got[n].translated, got[n].findings, want.translated, want.findings)
		}
		fmt.Fprintf(&table, "\t%q: {%d, %q},\n", n, got[n].translated, got[n].findings)
	}
	if t.Failed() {
		t.Logf("the table as it is now:\n%s", table.String())
	}
}

func row(r migrate.Result) sampleRow {
	var parts []string
	for _, f := range r.Findings.Sorted() {
		mark := ""
		if f.Traffic {
			mark = "!"
		}
		parts = append(parts, fmt.Sprintf("%d %s%s", f.Line, mark, f.Directive))
	}
	return sampleRow{r.Translated, strings.Join(parts, ", ")}
}

// validate writes r and loads it with lvsd's own loader: the import's
// output must be a valid configuration, whatever it could not express.
func validate(t *testing.T, r migrate.Result, from string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := migrate.Write(dir, r, from); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(filepath.Join(dir, migrate.MainFile), config.Options{Host: offHost{}}); err != nil {
		main, _ := os.ReadFile(filepath.Join(dir, migrate.MainFile))
		t.Fatalf("the import does not validate: %v\n%s", err, main)
	}
	for _, f := range r.Findings {
		if f.File == "" || f.Line <= 0 || f.Directive == "" || f.Why == "" {
			t.Errorf("finding without a place or a reason: %+v", f)
		}
	}
}
