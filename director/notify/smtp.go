package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
)

// Email says where and how alerts go by mail; director/config validates
// it (see docs/config.md, notify.email).
type Email struct {
	Server        string
	Port          int
	Security      string // "starttls", "tls" or "none"
	CAFile        string // PEM roots for the server's certificate; "" for the system's
	Username      string // "" for no authentication
	Password      string
	PasswordFile  string // read at each mail
	From          string
	To            []string
	SubjectPrefix string
	Batch         time.Duration // changes within this of the first share a mail
	MinInterval   time.Duration // between two mails
}

// message is one mail's content.
type message struct {
	Subject, Body string
	Date          time.Time
}

// sendSMTP delivers msg through cfg's server, every step of the SMTP
// dialogue bounded by timeout (go-mail sets it as the connection's
// deadline) and the whole by ctx.
func sendSMTP(ctx context.Context, cfg Email, timeout time.Duration, msg message) error {
	m := mail.NewMsg()
	if err := m.From(cfg.From); err != nil {
		return fmt.Errorf("mail from %q: %w", cfg.From, err)
	}
	if err := m.To(cfg.To...); err != nil {
		return fmt.Errorf("mail to %v: %w", cfg.To, err)
	}
	m.Subject(msg.Subject)
	m.SetDateWithValue(msg.Date)
	m.SetMessageID()
	m.SetBodyString(mail.TypeTextPlain, msg.Body)
	opts, err := clientOptions(cfg, timeout)
	if err != nil {
		return err
	}
	c, err := mail.NewClient(cfg.Server, opts...)
	if err != nil {
		return fmt.Errorf("mail client %s: %w", cfg.Server, err)
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return fmt.Errorf("mail via %s:%d: %w", cfg.Server, cfg.Port, err)
	}
	return nil
}

func clientOptions(cfg Email, timeout time.Duration) ([]mail.Option, error) {
	tlsConf := &tls.Config{ServerName: cfg.Server, MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mail ca_file: %w", err)
		}
		tlsConf.RootCAs = x509.NewCertPool()
		if !tlsConf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mail ca_file %s: no PEM certificate in it", cfg.CAFile)
		}
	}
	opts := []mail.Option{mail.WithTimeout(timeout), mail.WithTLSConfig(tlsConf)}
	switch cfg.Security {
	case "tls": // implicit TLS from the first byte (RFC 8314 §3.3)
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default: // STARTTLS, refusing a server that does not offer it (RFC 3207)
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	opts = append(opts, mail.WithPort(cfg.Port))
	if cfg.Username != "" {
		pw := cfg.Password
		if cfg.PasswordFile != "" {
			b, err := os.ReadFile(cfg.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("mail password_file: %w", err)
			}
			pw = strings.TrimRight(string(b), "\r\n")
		}
		// The strongest mechanism both sides know; PLAIN and LOGIN only
		// over an encrypted connection.
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(cfg.Username), mail.WithPassword(pw))
	}
	return opts, nil
}
