package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lvsdBin is the binary under test, built once by TestMain: these tests
// drive the real command line, signals and exit codes.
var lvsdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lvsd-cli")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	lvsdBin = filepath.Join(dir, "lvsd")
	if out, err := exec.Command("go", "build", "-o", lvsdBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build lvsd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func lvsd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(lvsdBin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

func TestValidateExamples(t *testing.T) {
	out, errOut, code := lvsd(t, "validate", "-c", "../../examples/lvsd.yaml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"valid (node director-a)", "vrrp instances: 2", "services: 2, realservers: 6", "tomcat", "nginx"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

// TestValidateBroken runs the command over every broken configuration of
// the config package: each must exit 1 and print its errors.
func TestValidateBroken(t *testing.T) {
	dirs, _ := filepath.Glob("../../director/config/testdata/broken/*")
	if len(dirs) < 20 {
		t.Fatalf("found %d broken cases, want at least 20", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, "want"))
			if err != nil {
				t.Fatal(err)
			}
			_, errOut, code := lvsd(t, "validate", "-c", filepath.Join(dir, "lvsd.yaml"))
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			got := strings.ReplaceAll(errOut, dir+"/", "")
			for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
				if !strings.Contains(got, line) {
					t.Errorf("stderr lacks %q:\n%s", line, got)
				}
			}
		})
	}
}

func TestRunLifecycle(t *testing.T) {
	dir := t.TempDir()
	svc := filepath.Join(dir, "services.d")
	must(t, os.Mkdir(svc, 0o755))
	cfg := filepath.Join(dir, "lvsd.yaml")
	must(t, os.WriteFile(cfg, []byte("node: cli-test\ncontrol:\n  socket: ctl.sock\nhttp:\n  listen: \"\"\n"), 0o644))
	// No health check: the test runs outside any namespace and must not
	// send packets to the documentation addresses.
	web := "name: web\nvirtual: 192.0.2.10:80\nforward: nat\ncheck: {type: none}\nreals:\n  - address: 198.51.100.11:8080\n"
	must(t, os.WriteFile(filepath.Join(svc, "web.yaml"), []byte(web), 0o644))

	// systemd's notify socket: lvsd says READY=1 once it serves, and
	// RELOADING=1/READY=1 around reloads, STOPPING=1 at the end.
	notifySock := filepath.Join(dir, "notify.sock")
	notes, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notifySock, Net: "unixgram"})
	must(t, err)
	defer notes.Close()
	var logs syncBuffer
	// --ipvs=memory: this kernel has no IPVS; the in-memory table refuses what
	// the kernel would.
	run := exec.Command(lvsdBin, "run", "--ipvs=memory", "-c", cfg)
	run.Stdout, run.Stderr = &logs, &logs
	run.Env = append(os.Environ(), "NOTIFY_SOCKET="+notifySock)
	must(t, run.Start())
	exited := make(chan error, 1)
	go func() { exited <- run.Wait() }()
	defer func() { _ = run.Process.Kill() }()

	// want is a regular expression over the status output; status
	// prints its tables in columns whose widths vary with the content.
	waitStatus := func(want string) string {
		t.Helper()
		re := regexp.MustCompile(want)
		var out string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if out, _, _ = lvsd(t, "status", "-c", cfg); re.MatchString(out) {
				return out
			}
		}
		t.Fatalf("status never showed %q; last:\n%s\nlogs:\n%s", want, out, logs.String())
		return ""
	}
	waitStatus("generation 1")
	waitStatus(`(?m)^\s+198\.51\.100\.11:8080\s`)
	fi, err := os.Stat(filepath.Join(dir, "ctl.sock"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket: %v %v, want mode 0600", fi, err)
	}

	// SIGHUP with a good change, which lvsd diff announces first.
	must(t, os.WriteFile(filepath.Join(svc, "web.yaml"), []byte(web+"  - address: 198.51.100.12:8080\n"), 0o644))
	if out, errOut, code := lvsd(t, "diff", "-c", cfg); code != 0 || strings.TrimSpace(out) != "add-dest tcp 192.0.2.10:80 -> 198.51.100.12:8080 nat weight 1" {
		t.Errorf("lvsd diff: exit %d\n%s%s", code, out, errOut)
	}
	must(t, run.Process.Signal(syscall.SIGHUP))
	waitStatus("generation 2 ")
	waitStatus(`(?m)^\s+198\.51\.100\.12:8080\s`)

	// An operator drain: weight 0, shown in status, kept across a reload.
	if out, errOut, code := lvsd(t, "drain", "-c", cfg, "web", "198.51.100.12:8080"); code != 0 {
		t.Fatalf("lvsd drain: exit %d %s%s", code, out, errOut)
	}
	drained := `(?m)^\s+198\.51\.100\.12:8080\s+drained\s.*\s1/0\s` // configured 1, effective 0
	waitStatus(drained)
	if _, errOut, code := lvsd(t, "drain", "-c", cfg, "web", "198.51.100.99:8080"); code != 1 || !strings.Contains(errOut, `service "web" has no realserver 198.51.100.99:8080`) {
		t.Errorf("draining an unknown real: exit %d %s", code, errOut)
	}

	// SIGHUP with a broken change: rejected, generation 2 keeps serving.
	must(t, os.WriteFile(filepath.Join(svc, "web.yaml"), []byte(web+"    weight: 70000\n"), 0o644))
	must(t, run.Process.Signal(syscall.SIGHUP))
	out := waitStatus("REJECTED")
	if !strings.Contains(out, "generation 2 ") || !strings.Contains(out, "2 real(s)") ||
		!strings.Contains(out, "web.yaml:7: reals[0].weight: 70000 out of range 0-65535") {
		t.Errorf("status after a rejected reload:\n%s", out)
	}
	// The synchronous form says the same and exits 1.
	_, errOut, code := lvsd(t, "reload", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, "generation 2 keeps serving") {
		t.Errorf("lvsd reload: exit %d, %s", code, errOut)
	}
	if out := waitStatus("REJECTED"); !regexp.MustCompile(drained).MatchString(out) {
		t.Errorf("the drain did not survive the reload attempt:\n%s", out)
	}

	must(t, run.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("lvsd did not stop within 10 s of SIGTERM")
	}
	if _, err := os.Stat(filepath.Join(dir, "ctl.sock")); !os.IsNotExist(err) {
		t.Errorf("socket left after stop: %v", err)
	}
	if l := logs.String(); !strings.Contains(l, "reload rejected") || !strings.Contains(l, "lvsd stopped") {
		t.Errorf("logs lack the rejection or the stop:\n%s", l)
	}
	var got []string
	buf := make([]byte, 256)
	_ = notes.SetReadDeadline(time.Now().Add(time.Second))
	for {
		n, err := notes.Read(buf)
		if err != nil {
			break
		}
		got = append(got, string(buf[:n]))
	}
	if s := strings.Join(got, " "); !strings.HasPrefix(s, "READY=1 RELOADING=1 READY=1") || !strings.HasSuffix(s, "STOPPING=1") {
		t.Errorf("sd_notify messages: %q", got)
	}
}

// TestRunWithoutIPVS: on a kernel without IPVS, lvsd run says so clearly
// and exits non-zero instead of running a director that directs nothing.
func TestRunWithoutIPVS(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Skip("this kernel has IPVS loaded; the test is about its absence")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lvsd.yaml")
	must(t, os.Mkdir(filepath.Join(dir, "services.d"), 0o755))
	must(t, os.WriteFile(cfg, []byte("control:\n  socket: ctl.sock\n"), 0o644))
	_, errOut, code := lvsd(t, "run", "-c", cfg)
	if code != 1 || !strings.Contains(errOut, "IPVS is not available in this kernel") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
