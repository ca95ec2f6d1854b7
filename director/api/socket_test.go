package api

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRoundTripAndPermissions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "lvsd.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, func(_ context.Context, req Request) (any, error) {
			if req.Cmd == "fail" {
				return nil, errors.New("refused: because")
			}
			return map[string]string{"echo": req.Cmd + string(req.Args)}, nil
		})
	}()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("socket mode %v, want 0600", perm)
	}
	var out map[string]string
	if err := Call(ctx, path, "status", []int{1}, &out); err != nil || out["echo"] != "status[1]" {
		t.Errorf("call: %v %v", out, err)
	}
	if err := Call(ctx, path, "fail", nil, nil); err == nil || err.Error() != "refused: because" {
		t.Errorf("error passed through as %v", err)
	}
	// A second daemon must not take over a live socket.
	if _, err := Listen(path); !errors.Is(err, ErrInUse) {
		t.Errorf("second listen: %v, want ErrInUse", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket left behind after stop: %v", err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lvsd.sock")
	if err := os.WriteFile(path, nil, 0o600); err != nil { // nobody listens
		t.Fatal(err)
	}
	ln, err := Listen(path)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln.Close()
}
