package notify

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// smtpd is Debian's aiosmtpd (python3-aiosmtpd) run by testdata/smtpd.py
// on loopback, storing what it accepts in a Maildir.
type smtpd struct {
	port    int
	maildir string
	ca      string // the PEM certificate it presents, to trust
}

// startSMTPD starts the server in mode (none, starttls, tls), requiring
// user and password when user is not "".
func startSMTPD(t *testing.T, mode, user, password string) *smtpd {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import aiosmtpd").Run(); err != nil {
		t.Skip("needs Debian's python3-aiosmtpd (make deps)")
	}
	dir := t.TempDir()
	s := &smtpd{port: freePort(t), maildir: filepath.Join(dir, "mail")}
	args := []string{"testdata/smtpd.py", "127.0.0.1", strconv.Itoa(s.port), s.maildir, mode}
	if mode != "none" {
		s.ca = filepath.Join(dir, "cert.pem")
		key := filepath.Join(dir, "key.pem")
		writeSelfSigned(t, s.ca, key)
		args = append(args, s.ca, key)
		if user != "" {
			args = append(args, user, password)
		}
	}
	cmd := exec.Command("/usr/bin/python3", args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- strings.TrimSpace(line) == "ready"
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("smtpd.py did not start")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("smtpd.py not ready after 20s")
	}
	return s
}

// mails returns the mails the server stored.
func (s *smtpd) mails(t *testing.T) []*mail.Message {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(s.maildir, "new", "*"))
	var out []*mail.Message
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(strings.NewReader(string(b)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, m)
	}
	return out
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeSelfSigned writes a certificate for 127.0.0.1 and its key.
func writeSelfSigned(t *testing.T, certPath, keyPath string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func testMessage() message {
	return message{Subject: "[lvsd] director-a: vrrp front MASTER (priority 150)", Body: "Now:\n  vrrp front: MASTER\n",
		Date: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Each security mode reaches a real server: in clear, STARTTLS and
// implicit TLS, the last two trusting the server through ca_file and
// authenticating with the password from password_file.
func TestSendSMTPModes(t *testing.T) {
	for _, mode := range []string{"none", "starttls", "tls"} {
		t.Run(mode, func(t *testing.T) {
			user := ""
			if mode != "none" {
				user = "lvsd"
			}
			s := startSMTPD(t, mode, user, "s3cret")
			cfg := Email{Server: "127.0.0.1", Port: s.port, Security: mode, CAFile: s.ca,
				From: "lvsd@example.com", To: []string{"ops@example.com", "oncall@example.com"}}
			if user != "" {
				cfg.Username, cfg.PasswordFile = user, filepath.Join(t.TempDir(), "pw")
				if err := os.WriteFile(cfg.PasswordFile, []byte("s3cret\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := sendSMTP(context.Background(), cfg, 5*time.Second, testMessage()); err != nil {
				t.Fatal(err)
			}
			got := s.mails(t)
			if len(got) != 1 {
				t.Fatalf("%d mails stored, want 1", len(got))
			}
			h := got[0].Header
			body := new(strings.Builder)
			_, _ = bufio.NewReader(got[0].Body).WriteTo(body)
			if h.Get("Subject") != testMessage().Subject || !strings.Contains(h.Get("From"), "lvsd@example.com") ||
				h.Get("X-RcptTo") != "ops@example.com, oncall@example.com" || !strings.Contains(body.String(), "vrrp front: MASTER") {
				t.Errorf("stored mail: %v\n%s", h, body)
			}
		})
	}
}

// What must not work does not: STARTTLS against a server that does not
// offer it (no silent fallback to clear text), an untrusted certificate,
// a wrong password.
func TestSendSMTPRefusals(t *testing.T) {
	clear := startSMTPD(t, "none", "", "")
	cfg := Email{Server: "127.0.0.1", Port: clear.port, Security: "starttls", From: "lvsd@example.com", To: []string{"ops@example.com"}}
	if err := sendSMTP(context.Background(), cfg, 5*time.Second, testMessage()); err == nil {
		t.Error("starttls sent through a server without STARTTLS")
	}
	tlsd := startSMTPD(t, "tls", "lvsd", "s3cret")
	cfg = Email{Server: "127.0.0.1", Port: tlsd.port, Security: "tls", Username: "lvsd", Password: "s3cret",
		From: "lvsd@example.com", To: []string{"ops@example.com"}}
	if err := sendSMTP(context.Background(), cfg, 5*time.Second, testMessage()); err == nil {
		t.Error("sent to a server whose certificate nothing trusts")
	}
	cfg.CAFile, cfg.Password = tlsd.ca, "wrong"
	if err := sendSMTP(context.Background(), cfg, 5*time.Second, testMessage()); err == nil {
		t.Error("sent with a wrong password")
	}
	if n := len(clear.mails(t)) + len(tlsd.mails(t)); n != 0 {
		t.Errorf("%d mails stored, want none", n)
	}
}
