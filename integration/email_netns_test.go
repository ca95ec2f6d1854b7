//go:build integration && !ipvs

package integration

import (
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lvsd/lvsd/integration/netlab"
)

// mailLab is two directors (a at priority 150, b at 100) and a
// realserver host on one segment, lvsd with --ipvs=memory; b mails its
// alerts to a server on its own loopback.
type mailLab struct {
	l                *netlab.T
	bin              string
	ns, config, sock map[string]string
	proc             map[string]*netlab.Proc
}

const (
	mailVIP   = "192.0.2.10"
	burstReal = 100 // realservers of the burst service
)

// newMailLab writes the configurations; email is b's notify.email block
// (indented under notify:). b's notify command appends what it hears to
// Dir/heard.
func newMailLab(t *testing.T, email string) *mailLab {
	m := &mailLab{l: netlab.ForTest(t), bin: lvsdBinary(t), config: map[string]string{}, sock: map[string]string{},
		proc: map[string]*netlab.Proc{}}
	m.ns = m.l.Segment("eth0", map[string]string{"a": "192.0.2.1/24", "b": "192.0.2.2/24", "rs": "192.0.2.20/24"})
	hook := m.l.Write("hook.sh", "#!/bin/sh\necho \"$*\" >> "+filepath.Join(m.l.Dir, "heard")+"\n")
	m.l.Must(os.Chmod(hook, 0o755))
	var burst strings.Builder
	for i := 1; i <= burstReal; i++ {
		fmt.Fprintf(&burst, "  - address: 192.0.2.20:%d\n", 9000+i)
	}
	for name, prio := range map[string]int{"a": 150, "b": 100} {
		notify := ""
		if name == "b" {
			notify = "notify:\n  timeout: 20s\n  command: [" + hook + "]\n" + email
		}
		m.sock[name] = filepath.Join(m.l.Dir, name, "ctl.sock")
		m.config[name] = m.l.Write(name+"/lvsd.yaml", fmt.Sprintf(`node: director-%s
control: {socket: %s}
http: {listen: ""}
%svrrp:
  instances:
    - name: front
      interface: eth0
      vrid: 52
      priority: %d
      advert_interval: 100ms
      virtual_ips: [%s/24]
`, name, m.sock[name], notify, prio, mailVIP))
		check := "check: {type: tcp, interval: 200ms, timeout: 150ms, rise: 1, fall: 1, initial: up}\n"
		m.l.Write(name+"/services.d/web.yaml", "name: web\nvirtual: "+mailVIP+":8080\nforward: dr\n"+check+
			"reals:\n  - address: 192.0.2.20:8080\n")
		m.l.Write(name+"/services.d/burst.yaml", "name: burst\nvirtual: "+mailVIP+":9000\nforward: nat\n"+check+
			"reals:\n"+burst.String())
	}
	return m
}

func (m *mailLab) start(name string) {
	m.l.TB.Helper()
	m.proc[name] = m.l.Start(m.ns[name], "lvsd-"+name, m.bin, "run", "--ipvs=memory", "-c", m.config[name])
	waitUp(m.l.TB, m.sock[name])
}

// failover kills a's machine (lvsd and its link) and waits for b.
func (m *mailLab) failover() {
	m.l.TB.Helper()
	m.proc["a"].Kill()
	m.l.SetLink(m.ns["a"], "eth0", false)
	m.l.WaitFor(10*time.Second, "b master", func() bool { return lvsdState(m.sock["b"]) == "MASTER" },
		func() string { return m.l.LogOf("lvsd-b") })
}

// smtpServer is testdata's aiosmtpd script, run in ns on 127.0.0.1:port.
func smtpServer(l *netlab.T, ns string, port int) (maildir string) {
	l.TB.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import aiosmtpd").Run(); err != nil {
		netlab.SkipOrFail(l.TB, "needs Debian's python3-aiosmtpd (make deps)")
	}
	script, err := filepath.Abs("../director/notify/testdata/smtpd.py")
	l.Must(err)
	maildir = filepath.Join(l.Dir, "maildir")
	l.Start(ns, "smtpd", "/usr/bin/python3", script, "127.0.0.1", fmt.Sprint(port), maildir)
	l.WaitFor(20*time.Second, "smtpd ready", func() bool { return strings.Contains(l.LogOf("smtpd"), "ready") },
		func() string { return l.LogOf("smtpd") })
	return maildir
}

// gotMail is one mail the server stored.
type gotMail struct{ file, subject, body string }

// mails returns the stored mails, oldest first (the Maildir names start
// with the time of delivery).
func mails(t testing.TB, maildir string) []gotMail {
	files, _ := filepath.Glob(filepath.Join(maildir, "new", "*"))
	sort.Strings(files)
	var out []gotMail
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var body io.Reader = msg.Body
		if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(body)
		}
		text, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil {
			t.Fatalf("%s: subject: %v", f, err)
		}
		out = append(out, gotMail{file: f, subject: subject, body: string(text)})
	}
	return out
}

// since returns the mails not in seen.
func since(all, seen []gotMail) []gotMail { return all[min(len(seen), len(all)):] }

// countChanges is how many changes a subject counts ("[lab] director-b:
// 3 VRRP transitions, 97 realserver changes"; a single change is named).
func countChanges(subject string) int {
	n := 0
	for _, part := range strings.Split(subject[strings.Index(subject, ": ")+2:], ", ") {
		var k int
		if _, err := fmt.Sscanf(part, "%d", &k); err != nil {
			k = 1
		}
		n += k
	}
	return n
}

// TestEmailAlerts: a real SMTP server gets b's alerts: its failover, a
// realserver failing, and 100 realservers failing at once in one or a
// few mails.
func TestEmailAlerts(t *testing.T) {
	m := newMailLab(t, `  email:
    server: 127.0.0.1
    port: 2525
    security: none
    from: lvsd@example.com
    to: [ops@example.com]
    subject_prefix: "[lab]"
    batch: 1s
    min_interval: 2s
`)
	maildir := smtpServer(m.l, m.ns["b"], 2525)
	stopWeb := m.l.Echo(m.ns["rs"], ":8080")
	var stopBurst []func()
	for i := 1; i <= burstReal; i++ {
		stopBurst = append(stopBurst, m.l.Echo(m.ns["rs"], fmt.Sprintf(":%d", 9000+i)))
	}
	m.start("a")
	m.start("b")
	m.l.WaitFor(10*time.Second, "a master", func() bool { return lvsdState(m.sock["a"]) == "MASTER" })
	// b's start (INIT -> BACKUP) is its first mail.
	waitMail := func(what string, seen []gotMail, cond func([]gotMail) bool) []gotMail {
		t.Helper()
		var got []gotMail
		m.l.WaitFor(20*time.Second, what, func() bool { got = since(mails(t, maildir), seen); return cond(got) },
			func() string { return fmt.Sprintf("mails: %+v\n%s", got, m.l.LogOf("lvsd-b")) })
		return got
	}
	hasBody := func(s string) func([]gotMail) bool {
		return func(ms []gotMail) bool {
			for _, g := range ms {
				if strings.Contains(g.body, s) {
					return true
				}
			}
			return false
		}
	}
	waitMail("the mail of b's start", nil, hasBody("vrrp front INIT -> BACKUP (priority 100)"))
	seen := mails(t, maildir)

	m.failover()
	got := waitMail("the failover's mail", seen, hasBody("vrrp front BACKUP -> MASTER (priority 100)"))
	if s := got[len(got)-1].subject; !strings.HasPrefix(s, "[lab] director-b: ") {
		t.Errorf("failover mail's subject %q", s)
	}
	seen = mails(t, maildir)

	stopWeb()
	waitMail("the realserver's mail", seen, hasBody("realserver web 192.0.2.20:8080 down"))
	seen = mails(t, maildir)

	for _, stop := range stopBurst {
		stop()
	}
	burstMails := func(ms []gotMail) int {
		n := 0
		for _, g := range ms {
			n += countChanges(g.subject)
		}
		return n
	}
	waitMail("the burst's mails", seen, func(ms []gotMail) bool { return burstMails(ms) >= burstReal })
	time.Sleep(3 * time.Second) // a batch and a minimum interval: any mail still to come comes
	got = since(mails(t, maildir), seen)
	t.Logf("%d realserver changes in %d mail(s): %q", burstMails(got), len(got), got[0].subject)
	if len(got) > 3 || burstMails(got) != burstReal {
		t.Errorf("a burst of %d changes sent %d mails counting %d changes; want 1-3 mails with all of them",
			burstReal, len(got), burstMails(got))
	}
	if !strings.Contains(got[0].body, "realserver burst 192.0.2.20:9001: down") {
		t.Errorf("the burst's summary lacks the last state of its first realserver:\n%s", got[0].body)
	}
}

// TestEmailDeadServerDelaysNothing: b's mail server accepts connections
// and never answers. While b's first mail hangs there, a's death still
// makes b master, and the notify command hears it.
func TestEmailDeadServerDelaysNothing(t *testing.T) {
	m := newMailLab(t, `  email:
    server: 127.0.0.1
    port: 2526
    security: none
    from: lvsd@example.com
    to: [ops@example.com]
    batch: 1s
`)
	heard := filepath.Join(m.l.Dir, "heard")
	var open atomic.Int32
	m.l.Serve(m.ns["b"], "127.0.0.1:2526", func(c net.Conn) {
		open.Add(1)
		defer open.Add(-1)
		_, _ = io.Copy(io.Discard, c) // no greeting, ever; until the client gives up
	})
	m.start("a")
	m.start("b")
	m.l.WaitFor(10*time.Second, "a master", func() bool { return lvsdState(m.sock["a"]) == "MASTER" })
	m.l.WaitFor(10*time.Second, "b's first mail to hang on the dead server", func() bool { return open.Load() > 0 })

	m.failover()
	m.l.WaitFor(10*time.Second, "the notify command to hear b become master", func() bool {
		return strings.Contains(readFile(t, heard), "vrrp front MASTER 100")
	})
	if open.Load() == 0 {
		t.Error("the mail gave up before the failover completed: the test proves nothing")
	}
	if !m.l.HasAddr(m.ns["b"], "eth0", netip.MustParseAddr(mailVIP)) {
		t.Error("b is master without the VIP")
	}
}

func readFile(t testing.TB, path string) string {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}
