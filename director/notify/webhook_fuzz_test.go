package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzWebhookBody posts events with arbitrary fields (names from files,
// reasons from error text) to a webhook. The body must be one JSON object
// of the Event's fields and nothing else, valid UTF-8, sent as
// application/json; with valid UTF-8 fields it must decode to the event
// exactly.
func FuzzWebhookBody(f *testing.F) {
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/json" {
			b = append([]byte("content-type "+r.Header.Get("Content-Type")+": "), b...)
		}
		bodies <- b
	}))
	f.Cleanup(srv.Close)
	n := New(Config{}, quiet())
	f.Add("vrrp", "a", int64(1700000000e9), "front", uint8(51), "BACKUP", "MASTER", uint8(150), "", "", "master down interval expired")
	f.Add("realserver", "b", int64(0), "", uint8(0), "", "down", uint8(0), "web", "198.51.100.11:8080", "$(touch /pwned)\n\"quoted\" <html>")
	f.Add("vrrp", "\xff\xfe", int64(-1), "\u2028", uint8(255), "\x00", "", uint8(0), "", "", "")
	f.Fuzz(func(t *testing.T, kind, node string, at int64, instance string, vrid uint8, from, state string,
		prio uint8, service, real, reason string) {
		e := Event{Kind: kind, Node: node, At: time.Unix(0, at).UTC(), Instance: instance, VRID: vrid, From: from,
			State: state, Priority: prio, Service: service, Real: real, Reason: reason}
		if err := n.post(context.Background(), srv.URL, 5*time.Second, e); err != nil {
			t.Fatalf("post %+v: %v", e, err)
		}
		b := <-bodies
		if !utf8.Valid(b) {
			t.Fatalf("body is not valid UTF-8: %q", b)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var got Event
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("body %q: %v", b, err)
		}
		if dec.More() {
			t.Fatalf("body %q: more than one JSON value", b)
		}
		valid := true
		for _, s := range []string{kind, node, instance, from, state, service, real, reason} {
			valid = valid && utf8.ValidString(s)
		}
		if valid && (got != e && !(got.At.Equal(e.At) && sameButAt(got, e))) {
			t.Fatalf("body decodes to %+v, sent %+v", got, e)
		}
	})
}

func sameButAt(a, b Event) bool {
	a.At, b.At = time.Time{}, time.Time{}
	return a == b
}
