package healthcheck

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"time"
)

// maxBody is how much of a response body an HTTP check reads and matches.
const maxBody = 1 << 20

// HTTP checks an http or https realserver: one request, a status among the
// expected ones and optionally a body that contains a substring or matches
// a regular expression. Redirects are never followed: a 301 is a status
// like any other.
type HTTP struct {
	scheme string
	method string
	path   string
	host   string // Host header; "" means the target address
	status []int
	body   []byte
	re     *regexp.Regexp
	client *http.Client
}

// NewHTTP builds an HTTP checker from c, filling in the documented
// defaults: method GET, path "/", status [200], no certificate
// verification, and SNI from the host.
func NewHTTP(c Spec) (*HTTP, error) {
	h := &HTTP{scheme: "http", method: c.Method, path: c.Path, host: c.Host, status: c.Status, body: []byte(c.Body)}
	if c.Type == "https" {
		h.scheme = "https"
	}
	if h.method == "" {
		h.method = http.MethodGet
	}
	if h.path == "" {
		h.path = "/"
	}
	if len(h.status) == 0 {
		h.status = []int{http.StatusOK}
	}
	if c.BodyRegex != "" {
		re, err := regexp.Compile(c.BodyRegex)
		if err != nil {
			return nil, fmt.Errorf("expect_regex: %w", err)
		}
		h.re = re
	}
	h.client = &http.Client{
		Transport:     newTransport(c),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return h, nil
}

// newTransport makes the checker's own Transport: no proxy from the
// environment, a fresh connection per check (a check must see whether the
// server still accepts), and TLS as configured.
func newTransport(c Spec) *http.Transport {
	sni := c.ServerName
	if sni == "" {
		sni = hostOnly(c.Host)
	}
	return &http.Transport{
		Proxy:             nil,
		DialContext:       dialer(c, "tcp").DialContext,
		DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{
			InsecureSkipVerify: !c.TLSVerify, //nolint:gosec // realservers often have self-signed certificates; tls_verify turns it on
			ServerName:         sni,
		},
		ForceAttemptHTTP2:      false,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// hostOnly strips a port from a Host header value.
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// Check makes one request to target and judges the response.
func (h *HTTP) Check(ctx context.Context, target netip.AddrPort) error {
	start := time.Now()
	u := h.scheme + "://" + target.String() + h.path
	req, err := http.NewRequestWithContext(ctx, h.method, u, nil)
	if err != nil {
		return fail(ReasonLocal, "%s %s: %v", h.method, u, err)
	}
	if h.host != "" {
		req.Host = h.host
	}
	req.Header.Set("User-Agent", "lvsd-healthcheck")
	resp, err := h.client.Do(req)
	if err != nil {
		var ue *url.Error // its text repeats the method and URL
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return classify(ctx, start, h.scheme, target.String(), err)
	}
	defer resp.Body.Close()
	if !slices.Contains(h.status, resp.StatusCode) {
		return fail(ReasonStatus, "http status %d, want %v", resp.StatusCode, h.status)
	}
	if len(h.body) == 0 && h.re == nil {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return classify(ctx, start, "read body from", target.String(), err)
	}
	return h.judgeBody(body)
}

func (h *HTTP) judgeBody(body []byte) error {
	if len(h.body) > 0 && !bytes.Contains(body, h.body) {
		return fail(ReasonBody, "body lacks %q", h.body)
	}
	if h.re != nil && !h.re.Match(body) {
		return fail(ReasonBody, "body does not match %q", h.re.String())
	}
	return nil
}
