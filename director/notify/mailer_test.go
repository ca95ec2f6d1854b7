package notify

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

// fakeSMTP records the mails a mailer sends, failing the first fail of
// them.
type fakeSMTP struct {
	mu    sync.Mutex
	fail  int
	tries int
	mails []message
}

func (f *fakeSMTP) send(_ context.Context, _ Email, _ time.Duration, msg message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tries++
	if f.tries <= f.fail {
		return errors.New("421 try again later")
	}
	f.mails = append(f.mails, msg)
	return nil
}

func (f *fakeSMTP) sent() []message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]message(nil), f.mails...)
}

// changes is how many changes a mail's subject counts.
func changes(subject string) int {
	n := 0
	for _, part := range strings.Split(subject[strings.Index(subject, ": ")+2:], ", ") {
		var k int
		if _, err := fmt.Sscanf(part, "%d", &k); err != nil {
			k = 1 // a single change is named, not counted
		}
		n += k
	}
	return n
}

func newTestMailer(t *testing.T, f *fakeSMTP, batch, minInterval time.Duration) (*mailer, *clockwork.FakeClock, context.CancelFunc) {
	fc := clockwork.NewFakeClock()
	m := newMailer(quiet())
	m.clock, m.send = fc, f.send
	m.setConfig(&Email{SubjectPrefix: "[lvsd]", Batch: batch, MinInterval: minInterval}, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return m, fc, cancel
}

func realChange(i int, state string) Event {
	return Event{Kind: "realserver", Node: "director-a", Service: "web", State: state,
		Real: fmt.Sprintf("198.51.100.%d:80", 10+i%100), At: time.Unix(int64(1700000000+i), 0)}
}

// A burst within the batch window is one mail; its subject counts the
// changes and its body gives each realserver's last state.
func TestMailerBatchesABurst(t *testing.T) {
	f := &fakeSMTP{}
	m, fc, _ := newTestMailer(t, f, 5*time.Second, time.Minute)
	for i := range 100 {
		m.add(realChange(i, "down"))
	}
	m.add(realChange(0, "up"))
	fc.BlockUntilContext(context.Background(), 1) // the mailer waits for the window's end
	if len(f.sent()) != 0 {
		t.Fatal("mail sent before the batch window closed")
	}
	fc.Advance(5 * time.Second)
	waitFor(t, "the batch's mail", func() bool { return len(f.sent()) == 1 })
	got := f.sent()[0]
	if got.Subject != "[lvsd] director-a: 101 realserver changes" {
		t.Errorf("subject %q", got.Subject)
	}
	for _, want := range []string{
		"realserver web 198.51.100.10:80: up\n", "realserver web 198.51.100.11:80: down\n",
		"... and 51 more",
	} {
		if !strings.Contains(got.Body, want) {
			t.Errorf("body lacks %q:\n%s", want, got.Body)
		}
	}
}

// A farm flapping every second for ten minutes sends a summary per
// minimum interval, and every change is in one of them.
func TestMailerRateLimitsFlapping(t *testing.T) {
	f := &fakeSMTP{}
	m, fc, _ := newTestMailer(t, f, 5*time.Second, time.Minute)
	const total = 600
	for i := range total {
		m.add(realChange(i, []string{"down", "up"}[i%2]))
		fc.Advance(time.Second)
	}
	fc.Advance(2 * time.Minute)
	minutes := total/60 + 2 // of fake time so far
	sum := func() int {
		n := 0
		for _, msg := range f.sent() {
			n += changes(msg.Subject)
		}
		return n
	}
	// The mailer's goroutine may arm its next timer only after the test
	// has moved the fake clock past it; then the mail waits for the next
	// move. Keep moving a minute at a time (bounded), counting the fake
	// minutes, rather than wait in real time for a timer nobody fires.
	for end := time.Now().Add(5 * time.Second); sum() != total; minutes++ {
		if time.Now().After(end) {
			t.Fatalf("%d of %d changes mailed after %d fake minutes", sum(), total, minutes)
		}
		time.Sleep(5 * time.Millisecond)
		fc.Advance(time.Minute)
	}
	if n := len(f.sent()); n > minutes+1 {
		t.Errorf("%d mails for %d minutes of flapping, want at most one a minute", n, minutes)
	}
}

// A mail that fails goes out with the next changes, MinInterval later.
func TestMailerRetriesWithTheNextChanges(t *testing.T) {
	f := &fakeSMTP{fail: 1}
	m, fc, _ := newTestMailer(t, f, time.Second, 30*time.Second)
	m.add(Event{Kind: "vrrp", Node: "director-a", Instance: "front", VRID: 10, From: "BACKUP", State: "MASTER", Priority: 100,
		At: time.Unix(1700000000, 0)})
	fc.BlockUntilContext(context.Background(), 1)
	fc.Advance(time.Second)
	waitFor(t, "the failed attempt", func() bool { _, failed := m.stats(); return failed == 1 })
	m.add(realChange(1, "down"))
	fc.BlockUntilContext(context.Background(), 1)
	fc.Advance(29 * time.Second)
	if len(f.sent()) != 0 {
		t.Fatal("retried before the minimum interval")
	}
	fc.Advance(time.Second)
	waitFor(t, "the retry", func() bool { return len(f.sent()) == 1 })
	got := f.sent()[0]
	if got.Subject != "[lvsd] director-a: 1 VRRP transition, 1 realserver change" ||
		!strings.Contains(got.Body, "vrrp front BACKUP -> MASTER (priority 100)") {
		t.Errorf("retry:\n%s\n%s", got.Subject, got.Body)
	}
}

// At stop, what is pending goes at once, without waiting for the window.
func TestMailerFlushesAtStop(t *testing.T) {
	f := &fakeSMTP{}
	m, fc, cancel := newTestMailer(t, f, time.Minute, time.Minute)
	m.add(Event{Kind: "vrrp", Node: "a", Instance: "front", State: "RESIGNING", Priority: 150})
	fc.BlockUntilContext(context.Background(), 1)
	cancel()
	waitFor(t, "the final mail", func() bool { return len(f.sent()) == 1 })
	if s := f.sent()[0].Subject; s != "[lvsd] a: vrrp front RESIGNING (priority 150)" {
		t.Errorf("subject %q", s)
	}
}

// While a mail hangs on a dead server, Notify returns at once and the
// command hook still hears every change.
func TestHungMailDelaysNoHook(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "calls")
	script := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"$*\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	n := New(Config{Command: []string{script}, Timeout: 5 * time.Second,
		Email: &Email{Batch: 100 * time.Millisecond}}, quiet())
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	n.mail.send = func(ctx context.Context, _ Email, _ time.Duration, _ message) error {
		once.Do(func() { close(entered) })
		select {
		case <-release:
		case <-ctx.Done():
		}
		return errors.New("server never answered")
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); n.Run(ctx) }()
	defer func() { close(release); cancel(); <-stopped }()
	n.Notify(Event{Kind: "vrrp", Instance: "front", State: "BACKUP", Priority: 100})
	<-entered // the mail is stuck from here on
	for range 10000 {
		n.Notify(realChange(1, "down"))
	}
	n.Notify(Event{Kind: "vrrp", Instance: "front", State: "MASTER", Priority: 100})
	waitFor(t, "the command hook to hear MASTER", func() bool {
		b, _ := os.ReadFile(out)
		return strings.Contains(string(b), "vrrp front MASTER 100")
	})
	if sent, _ := n.MailStats(); sent != 0 {
		t.Errorf("%d mails sent through a server that never answered", sent)
	}
}

// A reload that removes notify.email stops mail: what was pending is
// dropped and new changes are not queued.
func TestMailerTurnedOffByReload(t *testing.T) {
	f := &fakeSMTP{}
	m, fc, _ := newTestMailer(t, f, time.Second, time.Minute)
	m.add(realChange(1, "down"))
	m.setConfig(nil, time.Second)
	m.add(realChange(2, "down"))
	fc.Advance(time.Hour)
	m.mu.Lock()
	pending := m.pending
	m.mu.Unlock()
	if pending != nil || len(f.sent()) != 0 {
		t.Errorf("mail off, yet pending %+v, sent %d", pending, len(f.sent()))
	}
}
