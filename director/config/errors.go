package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a configuration file, located by file and line so
// an operator can jump to it: "services.d/web.yaml:14: reals[1].weight: ...".
// Warnings (checks that could not be made) use the same type.
type Error struct {
	File   string // path as given to Load (relative paths stay relative)
	Line   int    // 1-based; 0 when the problem is with the file as a whole
	Column int    // 1-based, in characters; 0 when not known
	Path   string // the key path inside the file, e.g. "reals[1].weight"
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors collects every problem found in one load, so that an operator sees
// them all at once rather than fixing one per run.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// AsErrors returns the located errors inside err, if it came from Load.
func AsErrors(err error) (Errors, bool) {
	var es Errors
	ok := errors.As(err, &es)
	return es, ok
}

func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].File != es[j].File {
			return es[i].File < es[j].File
		}
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Column < es[j].Column
	})
	return es
}

// reporter records errors for one file, finding each key's line in the
// file's position index.
type reporter struct {
	file  string
	pos   positions
	errs  *Errors
	warns *Errors   // nil: warnings are dropped
	bad   *badPaths // values the YAML stage refused; nil: none
}

// at records a problem found by the checks of values, at a key path; the
// line is that of the deepest existing key on the path, so a missing key
// points at its parent. A problem that follows from a value already
// refused as unreadable is left out: it would only repeat that error in
// misleading terms.
func (r reporter) at(path, format string, args ...any) {
	if r.bad.covers(path) {
		return
	}
	r.add(path, fmt.Sprintf(format, args...))
}

// refuse records a problem with the value at path by itself (out of its
// range), and marks the value refused so that the checks reading it stay
// quiet. Only a refused value at or above path silences it: its range
// does not depend on the keys beside it.
func (r reporter) refuse(path, format string, args ...any) {
	if r.bad.under(path) {
		return
	}
	r.add(path, fmt.Sprintf(format, args...))
	r.bad.add(path)
}

func (r reporter) add(path, msg string) {
	l, c := r.pos.lineCol(path)
	*r.errs = append(*r.errs, &Error{File: r.file, Line: l, Column: c, Path: path, Msg: msg})
}

// atPos records a problem at an explicit position (for the YAML stage,
// which knows the node).
func (r reporter) atPos(line, col int, path, msg string) {
	*r.errs = append(*r.errs, &Error{File: r.file, Line: line, Column: col, Path: path, Msg: msg})
}

// atLine records a problem at an explicit line.
func (r reporter) atLine(line int, path, msg string) { r.atPos(line, 0, path, msg) }

// warn records a check that could not be made, at a key path.
func (r reporter) warn(path, format string, args ...any) {
	if r.warns == nil {
		return
	}
	l, c := r.pos.lineCol(path)
	*r.warns = append(*r.warns, &Error{File: r.file, Line: l, Column: c, Path: path, Msg: fmt.Sprintf(format, args...)})
}
