package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

func quiet() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestCommandAndWebhook(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "calls")
	script := filepath.Join(dir, "hook.sh")
	// The script appends its arguments and one variable: proof of argv
	// passing without a shell, and of the environment.
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$* $LVSD_REASON\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var bodies []Event
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var e Event
		_ = json.NewDecoder(r.Body).Decode(&e)
		mu.Lock()
		bodies = append(bodies, e)
		mu.Unlock()
	}))
	defer srv.Close()
	n := New(Config{Command: []string{script, "--from-lvsd"}, Webhook: srv.URL, Timeout: 2 * time.Second}, quiet())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	n.Notify(Event{Kind: "vrrp", Node: "a", Instance: "front", State: "MASTER", Priority: 150, Reason: "master down interval expired"})
	n.Notify(Event{Kind: "realserver", Node: "a", Service: "web", Real: "198.51.100.11:8080", State: "down", Reason: "$(touch /pwned)"})
	waitFor(t, "two deliveries of each hook", func() bool { s, _, _ := n.Stats(); return s == 4 })
	got, _ := os.ReadFile(out)
	want := "--from-lvsd vrrp front MASTER 150 master down interval expired\n" +
		"--from-lvsd realserver web 198.51.100.11:8080 down $(touch /pwned)\n"
	if string(got) != want {
		t.Errorf("command calls:\n%s\nwant:\n%s", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 || bodies[0].Instance != "front" || bodies[1].Real != "198.51.100.11:8080" {
		t.Errorf("webhook bodies: %+v", bodies)
	}
}

// A hung hook is cut at its timeout, and Notify never blocks meanwhile.
func TestHungHookNeverBlocks(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "hang.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nsleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	n := New(Config{Command: []string{script}, Timeout: 200 * time.Millisecond}, quiet())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	start := time.Now()
	for i := 0; i < queueSize+50; i++ {
		n.Notify(Event{Kind: "vrrp", State: "BACKUP"})
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("Notify blocked for %v", d)
	}
	waitFor(t, "the first hook to time out", func() bool { _, f, _ := n.Stats(); return f >= 1 })
	if _, _, dropped := n.Stats(); dropped == 0 {
		t.Error("an overfull queue dropped nothing")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the hung hook was not cut at its timeout: %v", d)
	}
}

func TestNoHooksNoQueue(t *testing.T) {
	n := New(Config{}, quiet())
	n.Notify(Event{Kind: "vrrp"})
	if len(n.queue) != 0 {
		t.Error("events queued with no hook configured")
	}
}
