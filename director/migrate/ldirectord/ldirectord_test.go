package ldirectord

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lvsd/lvsd/director/config"
	"github.com/lvsd/lvsd/director/migrate"
)

// sample is where Debian's ldirectord package puts its example.
const sample = "/usr/share/doc/ldirectord/examples/ldirectord.cf"

type offHost struct{}

func (offHost) Hostname() (string, error)                  { return "lvsd-test", nil }
func (offHost) InterfaceAddrs(string) ([]netip.Addr, bool) { return nil, false }

// validate writes r and loads it with lvsd's loader.
func validate(t *testing.T, r migrate.Result, from string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := migrate.Write(dir, r, from); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(filepath.Join(dir, migrate.MainFile), config.Options{Host: offHost{}}); err != nil {
		t.Fatalf("the import does not validate: %v", err)
	}
}

func rows(r migrate.Result) string {
	var parts []string
	for _, f := range r.Findings.Sorted() {
		mark := ""
		if f.Traffic {
			mark = "!"
		}
		parts = append(parts, fmt.Sprintf("%d %s%s", f.Line, mark, f.Directive))
	}
	return strings.Join(parts, ", ")
}

func TestDebianSample(t *testing.T) {
	if _, err := os.Stat(sample); err != nil {
		t.Skip("ldirectord's sample is not installed (make deps installs ldirectord)")
	}
	r, err := Import(sample)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, r, sample)
	if len(r.Services) != 1 {
		t.Fatalf("want the one virtual the sample leaves uncommented, got %d", len(r.Services))
	}
	s := r.Services[0]
	c := s.Check
	if s.Virtual != "192.168.6.240:80" || s.Scheduler != "rr" || s.Forward != "dr" || s.Quiescent || s.Sorry != "127.0.0.1:80" ||
		len(s.Reals) != 3 || s.Reals[0].Address != "192.168.6.2:80" ||
		c.Type != "http" || c.Path != "/index.html" || c.Regex != "Test Page" || c.Host != "www.x.y.z" || c.Port != 80 ||
		c.Interval != migrate.Duration(3*time.Second) || c.Timeout != migrate.Duration(3*time.Second) || c.Fall != 1 {
		t.Errorf("service %+v\ncheck %+v", s, c)
	}
	const want = "1 cleanstop, 16 autoreload, 25 checkinterval, 26 servicename, 27 comment"
	if got := rows(r); got != want || r.Findings.ChangesTraffic() {
		t.Errorf("findings %q, want %q:\n%s", got, want, r.Findings)
	}
	t.Logf("translated %d directives; findings: %s", r.Translated, rows(r))
}

func TestEveryDirective(t *testing.T) {
	conf := `# every directive of ldirectord(8)
checktimeout = 2
negotiatetimeout = 4
checkinterval = 5
checkcount = 1
failurecount = 3
autoreload = no
callback = "/bin/true"
fallback = 127.0.0.1:80 masq
fallback6 = [::1]:80
fallbackcommand = "/bin/true"
logfile = "local0"
emailalert = "a@example.com"
emailalertfrom = b@example.com
emailalertfreq = 60
emailalertstatus = all
smtp = 192.0.2.25
supervised = no
fork = yes
quiescent = yes
readdquiescent = no
cleanstop = no
maintenancedir = /var/lib/ldirectord

virtual = 192.0.2.10:80
	real = 198.51.100.1:8080 masq 5
	real = 198.51.100.2->198.51.100.3:8080 masq 1 "/alt.html", "alt ok"
	service = http
	checktype = negotiate
	checkport = 8081
	request = "health"
	receive = "OK"
	httpmethod = GET
	virtualhost = "www.example.com"
	scheduler = wlc
	persistent = 600
	netmask = 255.255.255.0
	protocol = tcp
	checkinterval = 10
	quiescent = no
	servicename = web
	comment = "the web"
	monitorfile = "/var/log/mon"

virtual = 7
	real = 198.51.100.4 gate
	checktype = external
	checkcommand = "/usr/local/bin/check"
	protocol = fwm

virtual6 = [2001:db8::5]:53
	real6 = [2001:db8::6]:53 ipip
	checktype = connect
	scheduler = sh
	ops = yes

virtual = 192.0.2.11:25
	real = 198.51.100.7:25 gate
	service = smtp
	login = "x"
	passwd = "y"
`
	p := filepath.Join(t.TempDir(), "ldirectord.cf")
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Import(p)
	if err != nil {
		t.Fatal(err)
	}
	validate(t, r, p)
	web := r.Services[0]
	wc := web.Check
	if web.Scheduler != "wlc" || web.Forward != "nat" || web.Quiescent || web.Persistence.Netmask != 24 ||
		web.Persistence.Timeout != migrate.Duration(600*time.Second) || web.Sorry != "127.0.0.1:80" ||
		wc.Path != "/health" || wc.Regex != "OK" || wc.Port != 8081 || wc.Method != "GET" || wc.Fall != 3 ||
		wc.Interval != migrate.Duration(10*time.Second) || wc.Timeout != migrate.Duration(4*time.Second) {
		t.Errorf("web: %+v check %+v", web, wc)
	}
	if len(web.Reals) != 3 || *web.Reals[0].Weight != 5 || web.Reals[2].Address != "198.51.100.3:8080" ||
		web.Reals[1].Check == nil || web.Reals[1].Check.Path != "/alt.html" || web.Reals[1].Check.Regex != "alt ok" {
		t.Errorf("web reals: %+v", web.Reals)
	}
	fw := r.Services[1]
	wantCmd := []string{"/bin/sh", "-c", `exec /usr/local/bin/check 7 0 "$1" "$2"`, "ldirectord-check"}
	if fw.FWMark != 7 || fw.Forward != "dr" || fw.Reals[0].Address != "198.51.100.4" || !reflect.DeepEqual(fw.Check.Command, wantCmd) {
		t.Errorf("fwmark: %+v check %+v", fw, fw.Check)
	}
	dns := r.Services[2]
	if dns.Protocol != "udp" || dns.Forward != "tun" || dns.Check.Type != "ping" || dns.Sorry != "[::1]:53" {
		t.Errorf("udp/ipv6: %+v check %+v", dns, dns.Check)
	}
	if r.Main.Director != nil {
		t.Errorf("cleanstop = no keeps lvsd's default, got %+v", r.Main.Director)
	}
	const want = "5 checkcount, 7 autoreload, 8 callback, 9 !fallback, 11 fallbackcommand, 12 logfile, 13 emailalert, 14 emailalertfrom, " +
		"15 emailalertfreq, 16 emailalertstatus, 17 smtp, 18 supervised, 21 readdquiescent, 23 maintenancedir, " +
		"41 servicename, 42 comment, 43 monitorfile, 55 !ops, 59 !service, 60 login, 61 passwd"
	if got := rows(r); got != want {
		t.Errorf("findings\n%q, want\n%q:\n%s", got, want, r.Findings)
	}
}
