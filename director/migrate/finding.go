// Package migrate holds what the configuration importers share: the lvsd
// configuration they produce (the YAML of the main file and of one file
// per virtual service, each block commented with the source line it came
// from) and the findings they report, one per directive that lvsd cannot
// express as written. The importers themselves (keepalived, ldirectord)
// are pure: they read files and return a Result; the command writes it.
package migrate

import (
	"fmt"
	"sort"
	"strings"
)

// Finding is one directive of the source configuration that lvsd does not
// take over as written.
type Finding struct {
	File      string
	Line      int
	Directive string
	Why       string // what lvsd cannot do
	Instead   string // what lvsd does instead
	// Traffic marks a finding where the imported configuration forwards,
	// checks or fails over differently from the source. The import exits
	// non-zero when any is present (unless forced).
	Traffic bool
}

func (f Finding) String() string {
	s := fmt.Sprintf("%s:%d: %s: %s", f.File, f.Line, f.Directive, f.Why)
	if f.Instead != "" {
		s += "; " + f.Instead
	}
	if f.Traffic {
		s += " [changes traffic]"
	}
	return s
}

// Findings is an importer's list of findings.
type Findings []Finding

// Add records a finding.
func (fs *Findings) Add(file string, line int, directive string, traffic bool, why, instead string) {
	*fs = append(*fs, Finding{File: file, Line: line, Directive: directive, Why: why, Instead: instead, Traffic: traffic})
}

// Sorted returns the findings by file and line.
func (fs Findings) Sorted() Findings {
	out := append(Findings(nil), fs...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].Line < out[j].Line
	})
	return out
}

// ChangesTraffic reports whether any finding changes traffic.
func (fs Findings) ChangesTraffic() bool {
	for _, f := range fs {
		if f.Traffic {
			return true
		}
	}
	return false
}

func (fs Findings) String() string {
	var b strings.Builder
	for _, f := range fs.Sorted() {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}
