package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const emailService = "name: web\nvirtual: 192.0.2.10:80\nforward: dr\nreals:\n  - address: 192.0.2.11:80\n"

func loadEmail(t *testing.T, email string) (*Email, error) {
	t.Helper()
	path := writeConfig(t, "node: n\nnotify:\n  email:\n"+email, map[string]string{"web.yaml": emailService})
	cfg, err := Load(path, Options{Host: fakeHost{}})
	if err != nil {
		return nil, err
	}
	return cfg.Notify.Email, nil
}

func TestEmailDefaults(t *testing.T) {
	path := writeConfig(t, "node: n\n", map[string]string{"web.yaml": emailService})
	cfg, err := Load(path, Options{Host: fakeHost{}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Notify.Email != nil {
		t.Errorf("no notify.email, yet %+v", cfg.Notify.Email)
	}
	e, err := loadEmail(t, "    server: smtp.example.com\n    from: lvsd@example.com\n    to: [ops@example.com]\n")
	if err != nil {
		t.Fatal(err)
	}
	want := &Email{Server: "smtp.example.com", Port: 587, Security: "starttls", From: "lvsd@example.com",
		To: []string{"ops@example.com"}, SubjectPrefix: "[lvsd]", Batch: 5 * time.Second, MinInterval: time.Minute}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("defaults:\n%+v\nwant\n%+v", e, want)
	}
}

// Each security mode has its own submission port (RFC 8314, RFC 6409),
// which an explicit port overrides.
func TestEmailPortsAndAuth(t *testing.T) {
	base := "    server: 2001:db8::25\n    from: Lvsd <lvsd@example.com>\n    to: [a@example.com, b@example.com]\n"
	for _, tc := range []struct {
		extra string
		port  int
	}{
		{"    security: tls\n", 465},
		{"    security: none\n", 25},
		{"    security: none\n    port: 2525\n", 2525},
		{"    username: lvsd\n    password_file: /etc/lvsd/smtp-password\n    ca_file: /etc/lvsd/ca.pem\n", 587},
	} {
		e, err := loadEmail(t, base+tc.extra)
		if err != nil {
			t.Errorf("%s: %v", tc.extra, err)
			continue
		}
		if e.Port != tc.port || len(e.To) != 2 {
			t.Errorf("%s: port %d, to %v; want port %d", tc.extra, e.Port, e.To, tc.port)
		}
	}
	e, err := loadEmail(t, base+"    subject_prefix: \"\"\n    batch: 1s\n    min_interval: 0s\n")
	if err != nil {
		t.Fatal(err)
	}
	if e.SubjectPrefix != "" || e.Batch != time.Second || e.MinInterval != 0 {
		t.Errorf("explicit empty prefix, 1s batch, no minimum interval: %+v", e)
	}
}

// A password in clear over an unencrypted connection, half an
// authentication, or a relative secret path are refused, each at its key.
func TestEmailRefused(t *testing.T) {
	base := "    server: smtp.example.com\n    from: lvsd@example.com\n    to: [ops@example.com]\n"
	for extra, want := range map[string]string{
		"    security: none\n    username: u\n    password: p\n": "notify.email.security: none with a username",
		"    username: u\n":                              "notify.email.password_file: required with a username",
		"    password_file: /etc/lvsd/pw\n":              "notify.email.username: required with a password",
		"    username: u\n    password_file: pw\n":       "notify.email.password_file: \"pw\": give an absolute path",
		"    security: none\n    ca_file: /etc/ca.pem\n": "notify.email.ca_file: set with security none",
		"    port: 0\n":                                  "notify.email.port: 0 out of range 1-65535",
		"    min_interval: 25h\n":                        "notify.email.min_interval: 25h0m0s is over 24h",
		"    subject_prefix: \"a\\nb\"\n":                "notify.email.subject_prefix: holds a line break",
	} {
		_, err := loadEmail(t, base+extra)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", extra, err, want)
		}
	}
}
