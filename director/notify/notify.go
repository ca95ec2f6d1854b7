// Package notify tells operators' tools about every state change: a VRRP
// transition or a realserver going up or down. It runs a command (never
// through a shell) and/or posts a JSON body to a webhook, on its own
// goroutine with a timeout per hook, so a slow or hung hook can never hold
// up a failover; and it mails batched, rate-limited summaries (SMTP, on a
// goroutine of their own: mailer.go).
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Event is one state change.
type Event struct {
	Kind     string    `json:"kind"` // "vrrp" or "realserver"
	Node     string    `json:"node"`
	At       time.Time `json:"at"`
	Instance string    `json:"instance,omitempty"` // vrrp
	VRID     uint8     `json:"vrid,omitempty"`
	From     string    `json:"from,omitempty"`
	State    string    `json:"state"` // MASTER, BACKUP, ...; up or down
	Priority uint8     `json:"priority,omitempty"`
	Service  string    `json:"service,omitempty"` // realserver
	Real     string    `json:"real,omitempty"`
	Reason   string    `json:"reason,omitempty"`
}

// args are the command's trailing arguments, in keepalived's spirit:
// "vrrp INSTANCE STATE PRIORITY" or "realserver SERVICE REAL STATE".
func (e Event) args() []string {
	if e.Kind == "vrrp" {
		return []string{"vrrp", e.Instance, e.State, strconv.Itoa(int(e.Priority))}
	}
	return []string{"realserver", e.Service, e.Real, e.State}
}

func (e Event) env() []string {
	return []string{
		"LVSD_EVENT=" + e.Kind, "LVSD_NODE=" + e.Node, "LVSD_STATE=" + e.State, "LVSD_FROM=" + e.From,
		"LVSD_INSTANCE=" + e.Instance, "LVSD_VRID=" + strconv.Itoa(int(e.VRID)),
		"LVSD_SERVICE=" + e.Service, "LVSD_REAL=" + e.Real, "LVSD_REASON=" + e.Reason,
		"LVSD_TIME=" + e.At.Format(time.RFC3339Nano),
	}
}

// Config says whom to tell.
type Config struct {
	Command []string
	Webhook string
	Timeout time.Duration
	Email   *Email // nil: no mail
}

// queueSize bounds the events waiting for slow hooks; beyond it the oldest
// are dropped (and counted) rather than blocking the caller.
const queueSize = 256

// Notifier delivers events in order on one goroutine.
type Notifier struct {
	log    *logrus.Entry
	client *http.Client
	mail   *mailer

	mu      sync.Mutex
	cfg     Config
	queue   []Event
	dropped uint64
	failed  uint64
	sent    uint64
	wake    chan struct{}
}

// New returns a Notifier; Run delivers.
func New(cfg Config, log *logrus.Entry) *Notifier {
	n := &Notifier{log: log, cfg: cfg, wake: make(chan struct{}, 1), client: &http.Client{}, mail: newMailer(log)}
	n.mail.setConfig(cfg.Email, cfg.Timeout)
	return n
}

// SetConfig changes the hooks (on reload).
func (n *Notifier) SetConfig(cfg Config) {
	n.mu.Lock()
	n.cfg = cfg
	n.mu.Unlock()
	n.mail.setConfig(cfg.Email, cfg.Timeout)
}

// Notify queues an event; it never blocks.
func (n *Notifier) Notify(e Event) {
	n.mail.add(e)
	n.mu.Lock()
	if len(n.cfg.Command) == 0 && n.cfg.Webhook == "" {
		n.mu.Unlock()
		return
	}
	if len(n.queue) >= queueSize {
		n.queue = n.queue[1:]
		n.dropped++
	}
	n.queue = append(n.queue, e)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// MailStats reports the alert mails sent and the attempts that failed.
func (n *Notifier) MailStats() (sent, failed uint64) { return n.mail.stats() }

// Stats reports deliveries: hooks run, hooks that failed, events dropped.
func (n *Notifier) Stats() (sent, failed, dropped uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.sent, n.failed, n.dropped
}

// Run delivers queued events until ctx is done, then what is left, each
// hook bounded by the timeout; mail goes on its own goroutine.
func (n *Notifier) Run(ctx context.Context) {
	mailed := make(chan struct{})
	go func() { defer close(mailed); n.mail.run(ctx) }()
	defer func() { <-mailed }()
	for {
		select {
		case <-ctx.Done():
			n.drain(context.Background())
			return
		case <-n.wake:
			n.drain(ctx)
		}
	}
}

func (n *Notifier) drain(ctx context.Context) {
	for {
		n.mu.Lock()
		if len(n.queue) == 0 {
			n.mu.Unlock()
			return
		}
		e, cfg := n.queue[0], n.cfg
		n.queue = n.queue[1:]
		n.mu.Unlock()
		n.deliver(ctx, cfg, e)
	}
}

func (n *Notifier) deliver(ctx context.Context, cfg Config, e Event) {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	if len(cfg.Command) > 0 {
		n.count(n.runCommand(ctx, cfg.Command, timeout, e), "command", e)
	}
	if cfg.Webhook != "" {
		n.count(n.post(ctx, cfg.Webhook, timeout, e), "webhook", e)
	}
}

func (n *Notifier) count(err error, hook string, e Event) {
	n.mu.Lock()
	if err != nil {
		n.failed++
	} else {
		n.sent++
	}
	n.mu.Unlock()
	if err != nil {
		n.log.WithError(err).WithFields(logrus.Fields{"hook": hook, "event": e.Kind, "state": e.State}).Warn("notify hook failed")
	}
}

func (n *Notifier) runCommand(ctx context.Context, argv []string, timeout time.Duration, e Event) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], append(append([]string{}, argv[1:]...), e.args()...)...)
	cmd.Env = append(os.Environ(), e.env()...)
	cmd.WaitDelay = time.Second // do not wait for children that kept stdout open
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("notify command %s: %w: %s", argv[0], err, bytes.TrimSpace(out))
	}
	return nil
}

func (n *Notifier) post(ctx context.Context, url string, timeout time.Duration, e Event) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("notify webhook: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("notify webhook %s: status %d", url, resp.StatusCode)
	}
	return nil
}
