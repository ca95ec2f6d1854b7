package config

import (
	"strings"
	"testing"
	"time"
)

// TestRetryInterval: retries every 100ms by default, bounded by a shorter
// interval; a value set is checked against the interval where it is set
// and inherited by the realservers.
func TestRetryInterval(t *testing.T) {
	load := func(t *testing.T, svc string) ([]Real, error) {
		t.Helper()
		cfg, err := Load(writeConfig(t, "node: a\n", map[string]string{"web.yaml": svc}), Options{Host: fakeHost{}})
		if err != nil {
			return nil, err
		}
		return cfg.Services[0].Reals, nil
	}
	const head = "name: web\nvirtual: 192.0.2.10:80\nforward: nat\n"
	reals, err := load(t, head+`check: {type: tcp, interval: 1s}
reals:
  - address: 198.51.100.11:8080
  - address: 198.51.100.12:8080
    check: {interval: 50ms, timeout: 50ms}
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := reals[0].Check.RetryInterval; got != 100*time.Millisecond {
		t.Errorf("default retry_interval %v, want 100ms", got)
	}
	if got := reals[1].Check.RetryInterval; got != 50*time.Millisecond {
		t.Errorf("default retry_interval with a 50ms interval: %v, want 50ms (the interval: no retries)", got)
	}

	reals, err = load(t, head+`check: {type: tcp, interval: 1s, retry_interval: 250ms}
reals:
  - address: 198.51.100.11:8080
  - address: 198.51.100.12:8080
    check: {retry_interval: 1s}
`)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := reals[0].Check.RetryInterval, reals[1].Check.RetryInterval; a != 250*time.Millisecond || b != time.Second {
		t.Errorf("retry_interval %v and %v, want 250ms (the service's) and 1s (the real's own)", a, b)
	}

	_, err = load(t, head+`check:
  type: tcp
  interval: 1s
  retry_interval: 2s
reals:
  - address: 198.51.100.11:8080
`)
	if err == nil || !strings.Contains(err.Error(), "web.yaml:7: check.retry_interval: 2s out of range 10ms-1s") {
		t.Errorf("retry_interval longer than the interval: error %v", err)
	}
}
