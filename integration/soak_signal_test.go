//go:build integration

package integration

import (
	"fmt"
	"syscall"
	"time"
)

// soakDaemons is what the signal faults need of a layer: its processes'
// bookkeeping, and how it samples and starts its lvsd.
type soakDaemons interface {
	procs() *soakProcs
	sampleAll()
	start(d string) error
}

func (p *soakProcs) procs() *soakProcs { return p }

// injectSignal runs the sigkill, sigstop and sigterm faults of both
// layers to their end, recovery included; termWait is how long a
// SIGTERMed lvsd may take to exit before it is killed and the fault
// fails (the layers differ: 10 s in namespaces, 15 s in the VM).
func injectSignal(s soakDaemons, f fault, termWait time.Duration) error {
	p, d := s.procs(), f.Target
	switch f.Kind {
	case "sigkill":
		s.sampleAll() // this process's last figures
		p.set(p.running, d, false)
		if err := p.signal(d, syscall.SIGKILL); err != nil {
			return err
		}
		_ = p.procOf(d).Wait()
		time.Sleep(f.Dur)
		return s.start(d)
	case "sigstop":
		p.set(p.stopped, d, true)
		if err := p.signal(d, syscall.SIGSTOP); err != nil {
			return err
		}
		time.Sleep(f.Dur)
		err := p.signal(d, syscall.SIGCONT)
		p.set(p.stopped, d, false)
		return err
	case "sigterm":
		s.sampleAll()
		p.set(p.running, d, false)
		if err := p.procOf(d).Stop(termWait); err != nil {
			return err
		}
		time.Sleep(f.Dur)
		return s.start(d)
	}
	return fmt.Errorf("not a signal fault: %q", f.Kind)
}
