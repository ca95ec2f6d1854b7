package config

import (
	"net/mail"
	"net/netip"
	"path/filepath"
	"strings"
	"time"
)

// rawEmail is notify.email: alerts by mail, batched.
type rawEmail struct {
	Server        string    `yaml:"server"`
	Port          *int      `yaml:"port"`
	Security      string    `yaml:"security"`
	CAFile        string    `yaml:"ca_file"`
	Username      string    `yaml:"username"`
	Password      string    `yaml:"password"`
	PasswordFile  string    `yaml:"password_file"`
	From          string    `yaml:"from"`
	To            []string  `yaml:"to"`
	SubjectPrefix *string   `yaml:"subject_prefix" lvsd:"empty"`
	Batch         *Duration `yaml:"batch"`
	MinInterval   *Duration `yaml:"min_interval"`
}

// Email sends state changes by mail. Changes within Batch of the first go
// out in one mail, and mails are at least MinInterval apart, so that a
// flapping farm sends a summary rather than a mail per change.
type Email struct {
	Server   string // host name or address, without a port
	Port     int
	Security string // "starttls" (RFC 3207), "tls" (implicit, RFC 8314 §3.3) or "none"
	// CAFile is a PEM bundle trusted instead of the system's roots for the
	// server's certificate ("" for the system's).
	CAFile   string
	Username string // "" for no authentication
	Password string // inline; PasswordFile is better
	// PasswordFile is read when each mail is sent, so the secret stays out
	// of the main file and can be rotated without a reload.
	PasswordFile  string
	From          string
	To            []string
	SubjectPrefix string
	Batch         time.Duration
	MinInterval   time.Duration
}

// Defaults of notify.email, documented in docs/config.md.
const (
	DefaultEmailBatch       = 5 * time.Second
	DefaultEmailMinInterval = time.Minute
	DefaultEmailPrefix      = "[lvsd]"
)

// emailPorts are the submission ports of each security mode: 587 for
// STARTTLS (RFC 6409), 465 for implicit TLS (RFC 8314), 25 for none.
var emailPorts = map[string]int{"starttls": 587, "tls": 465, "none": 25}

func resolveEmail(raw *rawEmail, r reporter) *Email {
	if raw == nil {
		return nil
	}
	e := &Email{
		Server: raw.Server, Security: orDefault(raw.Security, "starttls"), CAFile: raw.CAFile,
		Username: raw.Username, Password: raw.Password, PasswordFile: raw.PasswordFile,
		From: raw.From, To: raw.To, SubjectPrefix: DefaultEmailPrefix,
		Batch:       durOr(raw.Batch, DefaultEmailBatch),
		MinInterval: durOr(raw.MinInterval, DefaultEmailMinInterval),
	}
	if raw.SubjectPrefix != nil {
		e.SubjectPrefix = *raw.SubjectPrefix
	}
	switch {
	case e.Server == "":
		r.at("notify.email.server", "required: the SMTP server's host name or address")
	case strings.ContainsAny(e.Server, ":/ ") && !isAddr(e.Server):
		r.at("notify.email.server", "%q is not a host name or address: give the port in notify.email.port", e.Server)
	}
	port, known := emailPorts[e.Security]
	if !known {
		r.at("notify.email.security", "%q is not starttls, tls or none", e.Security)
	}
	e.Port = intOr(raw.Port, port)
	if raw.Port != nil {
		inRange(r, "notify.email.port", e.Port, 1, 65535)
	}
	if e.CAFile != "" && !filepath.IsAbs(e.CAFile) {
		r.at("notify.email.ca_file", "%q: give an absolute path", e.CAFile)
	}
	if e.CAFile != "" && e.Security == "none" {
		r.at("notify.email.ca_file", "set with security none: nothing would check the server's certificate")
	}
	resolveEmailAuth(e, r)
	if _, err := mail.ParseAddress(e.From); err != nil {
		r.at("notify.email.from", "%q is not a mail address (user@domain)", e.From)
	}
	if len(e.To) == 0 {
		r.at("notify.email.to", "required: at least one recipient")
	}
	for i, to := range e.To {
		if _, err := mail.ParseAddress(to); err != nil {
			r.at(idx("notify.email.to", i), "%q is not a mail address (user@domain)", to)
		}
	}
	if strings.ContainsAny(e.SubjectPrefix, "\r\n") {
		r.at("notify.email.subject_prefix", "holds a line break")
	}
	if e.Batch < 100*time.Millisecond || e.Batch > time.Hour {
		r.at("notify.email.batch", "%v out of range 100ms-1h", e.Batch)
	}
	if e.MinInterval > 24*time.Hour {
		r.at("notify.email.min_interval", "%v is over 24h: alerts would come a day late", e.MinInterval)
	}
	return e
}

// resolveEmailAuth checks that authentication is all there or all absent.
func resolveEmailAuth(e *Email, r reporter) {
	switch {
	case e.Password != "" && e.PasswordFile != "":
		r.at("notify.email.password", "set with password_file: give one of the two")
	case e.PasswordFile != "" && !filepath.IsAbs(e.PasswordFile):
		r.at("notify.email.password_file", "%q: give an absolute path", e.PasswordFile)
	case e.Username == "" && (e.Password != "" || e.PasswordFile != ""):
		r.at("notify.email.username", "required with a password")
	case e.Username != "" && e.Password == "" && e.PasswordFile == "":
		r.at("notify.email.password_file", "required with a username (or password, inline)")
	}
	if e.Username != "" && e.Security == "none" {
		r.at("notify.email.security", "none with a username would send the password in clear: use starttls or tls")
	}
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
