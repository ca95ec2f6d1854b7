package netlab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Proc is a long-lived process started in a namespace. A goroutine waits
// for it from the start, so that it never lingers as a zombie and nobody
// else has to (or may) wait for it: use Exited and Wait.
type Proc struct {
	Name string // its output is in Lab.Dir/Name.log

	cmd   *exec.Cmd
	group bool // leads a process group of its own
	done  chan struct{}
	err   error
}

// Start runs a long-lived command inside ns with its output in
// Dir/name.log (name may hold directories); Close kills it.
func (l *Lab) Start(ns, name string, args ...string) (*Proc, error) {
	return l.start(ns, name, false, args)
}

// StartGroup is Start with the command leading a process group of its
// own, so that Kill reaches the children it forks (keepalived's VRRP and
// checker children) too. Such a process no longer gets the terminal's
// Ctrl-C: only Kill or Close end it.
func (l *Lab) StartGroup(ns, name string, args ...string) (*Proc, error) {
	return l.start(ns, name, true, args)
}

func (l *Lab) start(ns, name string, group bool, args []string) (*Proc, error) {
	path := filepath.Join(l.Dir, name+".log")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	logf, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	// ip netns exec execs the command: the process is the command itself.
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: group}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, group: group, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	l.mu.Lock()
	l.procs = append(l.procs, p)
	l.mu.Unlock()
	return p, nil
}

// Pid is the process's id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process (not to its group); an error once it
// has exited.
func (p *Proc) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Kill sends SIGKILL to the process, or to its whole group when started
// by StartGroup, unless it has already exited and been waited for (its
// group's id could then be another's).
func (p *Proc) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	if p.group {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	} else {
		_ = p.cmd.Process.Kill()
	}
}

// Exited is closed when the process has exited and been waited for.
func (p *Proc) Exited() <-chan struct{} { return p.done }

// Wait waits until the process has exited and returns how it ended.
func (p *Proc) Wait() error {
	<-p.done
	return p.err
}

// Stop sends SIGTERM and waits at most limit for the process to exit;
// past that it kills it and says so.
func (p *Proc) Stop(limit time.Duration) error {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(limit):
		p.Kill()
		<-p.done
		return fmt.Errorf("%s (pid %d) still running %v after SIGTERM: killed", p.Name, p.Pid(), limit)
	}
}

// LogOf returns what the process started as name has printed so far.
func (l *Lab) LogOf(name string) string {
	b, _ := os.ReadFile(filepath.Join(l.Dir, name+".log"))
	return string(b)
}

// WaitPort waits (at most limit) until something listens on TCP port in ns.
func (l *Lab) WaitPort(ns string, port int, limit time.Duration) error {
	want := fmt.Sprintf(":%d ", port)
	if _, ok := Poll(limit, 50*time.Millisecond, func() bool {
		out, _ := l.In(ns, "ss", "-Htln")
		return strings.Contains(out, want)
	}); !ok {
		return fmt.Errorf("nothing listens on port %d in %s after %v", port, ns, limit)
	}
	return nil
}

// Nginx starts Debian's nginx in ns, answering every request on port with
// body, as one process (master_process off: killing it closes its
// listener at once), and waits (at most 10 s) until it listens.
func (l *Lab) Nginx(ns, name string, port int, body string) (*Proc, error) {
	dir, err := l.Mkdir(name)
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s; proxy_temp_path %[1]s; fastcgi_temp_path %[1]s;
  uwsgi_temp_path %[1]s; scgi_temp_path %[1]s;
  server { listen %[2]d; location / { return 200 "%[3]s\n"; } }
}
`, dir, port, body)
	path, err := l.Write(filepath.Join(name, "nginx.conf"), conf)
	if err != nil {
		return nil, err
	}
	p, err := l.Start(ns, name, "nginx", "-c", path, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	if err != nil {
		return nil, err
	}
	return p, l.WaitPort(ns, port, 10*time.Second)
}
