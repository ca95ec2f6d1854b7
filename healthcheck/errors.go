package healthcheck

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// Reason classifies why a check failed, so that operators, logs and metrics
// can group failures without parsing their text.
type Reason string

// The reasons a check fails.
const (
	ReasonRefused     Reason = "refused"     // connection refused, or ICMP port unreachable
	ReasonTimeout     Reason = "timeout"     // no answer within the check's timeout
	ReasonReset       Reason = "reset"       // connection reset or closed early by the server
	ReasonUnreachable Reason = "unreachable" // no route to the host or network
	ReasonStatus      Reason = "status"      // http: a status code not in the expected list
	ReasonBody        Reason = "body"        // http: the body lacks the substring or regexp
	ReasonExpect      Reason = "expect"      // tcp, udp: the reply lacks the expected string
	ReasonTLS         Reason = "tls"         // https: handshake or certificate verification failed
	ReasonDNS         Reason = "dns"         // dns: bad rcode or no answer of the asked type
	ReasonExit        Reason = "exit"        // external: the command exited non-zero
	ReasonForcedDown  Reason = "forced-down" // check type off
	ReasonLocal       Reason = "local"       // the check could not be made from here (source address, program, permission)
	ReasonCanceled    Reason = "canceled"    // the caller gave up: not the realserver's fault
	ReasonError       Reason = "error"       // any other failure
)

// Error is a failed check: a Reason to classify it and a Detail that tells
// an operator what was wrong, such as `http status 503, want [200]`.
type Error struct {
	Reason Reason
	Detail string
	Err    error // the underlying error, if any
}

// Error returns the detail, which already names the operation and subject.
func (e *Error) Error() string { return e.Detail }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ReasonOf classifies err: "" for nil, the Reason of an *Error in its
// chain, and ReasonError for anything else.
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonError
}

// fail builds an *Error with a formatted detail.
func fail(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// classify turns an I/O error of op on subject into an *Error. The state
// of ctx comes first: once the deadline passed, whatever the socket said
// (often "use of closed network connection") is a timeout.
func classify(ctx context.Context, start time.Time, op, subject string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		op = "connect"
	}
	r, what := reasonOf(ctx, err)
	if r == ReasonTimeout {
		what = "timeout after " + roundDur(time.Since(start)).String()
	}
	return &Error{Reason: r, Detail: fmt.Sprintf("%s %s: %s", op, subject, what), Err: err}
}

// reasonOf finds the reason for err and a short description of it.
func reasonOf(ctx context.Context, err error) (Reason, string) {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return ReasonCanceled, "canceled"
	case ctx.Err() != nil, isTimeout(err):
		return ReasonTimeout, ""
	case errors.Is(err, context.Canceled):
		return ReasonCanceled, "canceled"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if r, ok := errnoReasons[errno]; ok {
			return r, errnoWords(errno)
		}
	}
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ReasonReset, "closed by the server"
	case isTLS(err):
		return ReasonTLS, err.Error()
	}
	return ReasonError, err.Error()
}

var errnoReasons = map[syscall.Errno]Reason{
	syscall.ECONNREFUSED:  ReasonRefused,
	syscall.ECONNRESET:    ReasonReset,
	syscall.ECONNABORTED:  ReasonReset,
	syscall.EPIPE:         ReasonReset,
	syscall.EHOSTUNREACH:  ReasonUnreachable,
	syscall.ENETUNREACH:   ReasonUnreachable,
	syscall.EHOSTDOWN:     ReasonUnreachable,
	syscall.ENETDOWN:      ReasonUnreachable,
	syscall.EADDRNOTAVAIL: ReasonLocal,
	syscall.EADDRINUSE:    ReasonLocal,
	syscall.EACCES:        ReasonLocal,
	syscall.EPERM:         ReasonLocal,
	syscall.EAFNOSUPPORT:  ReasonLocal,
	syscall.EMFILE:        ReasonLocal, // out of file descriptors here
	syscall.ENFILE:        ReasonLocal,
	syscall.ETIMEDOUT:     ReasonTimeout,
}

// errnoWords is the short text of an errno: "refused" rather than
// "connect: connection refused".
func errnoWords(e syscall.Errno) string {
	switch e {
	case syscall.ECONNREFUSED:
		return "refused"
	case syscall.ECONNRESET, syscall.ECONNABORTED:
		return "connection reset"
	}
	return e.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

func isTLS(err error) bool {
	var (
		rh   tls.RecordHeaderError
		ae   tls.AlertError
		cv   *tls.CertificateVerificationError
		ua   x509.UnknownAuthorityError
		he   x509.HostnameError
		ci   x509.CertificateInvalidError
		echo *tls.ECHRejectionError
	)
	return errors.As(err, &rh) || errors.As(err, &ae) || errors.As(err, &cv) ||
		errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &echo)
}

// roundDur rounds d for a message: 1.0003s reads "1s", 20.4ms "20ms".
func roundDur(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}
