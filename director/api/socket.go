package api

// The control socket is the operator's channel to a running lvsd: one
// JSON request and one JSON response per connection over a unix socket
// that only root can open (mode 0600).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Request is one command to the daemon.
type Request struct {
	Cmd  string          `json:"cmd"`
	Args json.RawMessage `json:"args,omitempty"`
}

// Response carries either Data or Error.
type Response struct {
	OK    bool            `json:"ok"`
	Data  json.RawMessage `json:"data,omitempty"`
	Error string          `json:"error,omitempty"`
}

// Handler answers a request; a returned error is sent to the caller.
type Handler func(ctx context.Context, req Request) (any, error)

// ErrInUse means another live process already answers on the socket.
var ErrInUse = errors.New("control socket in use by a running lvsd")

// requestTimeout bounds how long one client may hold a connection.
const requestTimeout = 30 * time.Second

// Listen opens the control socket at path with mode 0600. A stale socket
// left by a crashed daemon is replaced; a live one is refused, so a second
// lvsd cannot silently steal the first one's control channel.
func Listen(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, ErrInUse)
	}
	_ = os.Remove(path) // stale or absent
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return ln, nil
}

// Serve answers requests on ln until ctx is done, then closes ln (which
// removes the socket file).
func Serve(ctx context.Context, ln net.Listener, h Handler) error {
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("control accept: %w", err)
		}
		go serveConn(ctx, c, h)
	}
}

func serveConn(ctx context.Context, c net.Conn, h Handler) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(requestTimeout))
	var req Request
	var resp Response
	if err := json.NewDecoder(c).Decode(&req); err != nil {
		resp.Error = "bad request: " + err.Error()
	} else if data, err := h(ctx, req); err != nil {
		resp.Error = err.Error()
	} else if resp.Data, err = json.Marshal(data); err != nil {
		resp.Error = "encode response: " + err.Error()
	} else {
		resp.OK = true
	}
	_ = json.NewEncoder(c).Encode(resp)
}

// Call sends one request to the daemon at path and decodes its data into
// out (which may be nil).
func Call(ctx context.Context, path, cmd string, args, out any) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return fmt.Errorf("connect to lvsd at %s: %w", path, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	req := Request{Cmd: cmd}
	if args != nil {
		if req.Args, err = json.Marshal(args); err != nil {
			return fmt.Errorf("encode %s: %w", cmd, err)
		}
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return fmt.Errorf("send %s: %w", cmd, err)
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return fmt.Errorf("read %s reply: %w", cmd, err)
	}
	if !resp.OK {
		return errors.New(resp.Error)
	}
	if out != nil {
		return json.Unmarshal(resp.Data, out)
	}
	return nil
}
