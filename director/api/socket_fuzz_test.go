package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

// FuzzServe sends arbitrary bytes as one request on the control socket.
// The daemon must answer every one with a well-formed Response (OK with
// data, or an error), hand the handler exactly the request the bytes
// hold when they decode, and never call it for bytes that do not.
func FuzzServe(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "ctl.sock")
	ln, err := Listen(path)
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Cleanup(cancel)
	var mu sync.Mutex
	var got []Request
	go func() {
		_ = Serve(ctx, ln, func(_ context.Context, req Request) (any, error) {
			mu.Lock()
			got = append(got, req)
			mu.Unlock()
			if req.Cmd == "fail" {
				return nil, errors.New("failed as asked")
			}
			return map[string]any{"cmd": req.Cmd}, nil
		})
	}()
	for _, s := range []string{`{"cmd":"status"}`, `{"cmd":"drain","args":{"service":"web","real":"192.0.2.11:80","drain":true}}`,
		`{"cmd":"fail"}`, `{"cmd":`, `[]`, `{"cmd":"status"} trailing`, "\x00\xff", ``, `{"args":1e400}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		mu.Lock()
		got = nil
		mu.Unlock()
		c, err := net.DialTimeout("unix", path, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(in); err != nil {
			t.Fatal(err)
		}
		_ = c.(*net.UnixConn).CloseWrite()
		var resp Response
		if err := json.NewDecoder(c).Decode(&resp); err != nil {
			t.Fatalf("no well-formed response to %q: %v", in, err)
		}
		if resp.OK == (resp.Error != "") {
			t.Fatalf("response to %q: ok %v with error %q", in, resp.OK, resp.Error)
		}
		var want Request
		decodes := json.NewDecoder(bytes.NewReader(in)).Decode(&want) == nil
		mu.Lock()
		defer mu.Unlock()
		switch {
		case !decodes && len(got) != 0:
			t.Fatalf("bytes %q do not decode, yet the handler got %+v", in, got)
		case decodes && (len(got) != 1 || got[0].Cmd != want.Cmd || !reflect.DeepEqual([]byte(got[0].Args), []byte(want.Args))):
			t.Fatalf("bytes %q: handler got %+v, want %+v", in, got, want)
		case decodes && resp.OK == (want.Cmd == "fail"):
			t.Fatalf("bytes %q: ok %v for command %q", in, resp.OK, want.Cmd)
		}
	})
}
