// Package kaconf reads keepalived.conf with the grammar keepalived itself
// accepts (keepalived's lib/parser.c, keepalived.conf(5)): '!' and '#'
// comments, braces anywhere on a line, "include" with globs relative to
// the including file, "@id" and "@^id" conditional lines, "$NAME=value"
// parameters (multiline with a trailing backslash) and their expansion,
// and "~SEQ" line repetition. It returns the directives as a tree, each
// with its file and line; what the directives mean is the importer's
// business.
package kaconf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Node is one directive: a keyword, its words, and its block if it has
// one ("keyword ... {" ... "}").
type Node struct {
	Keyword string
	Args    []string // the words after the keyword (Words)
	Text    string   // the whole line after comments and parameters, for QuotedWords
	File    string
	Line    int
	// HasBlock is set when the directive opened a block, even an empty one.
	HasBlock bool
	Block    []*Node
}

// Problem is something keepalived itself would complain about.
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg) }

// Options tune Parse.
type Options struct {
	// ConfigID selects "@ID" lines (keepalived -i); lines for other ids
	// are left out, and "@^ID" lines are kept unless ID matches.
	ConfigID string
}

// maxIncludeDepth stops include loops.
const maxIncludeDepth = 32

// source yields lines: a file's raw lines, or generated ones (a ~SEQ, the
// rest of a multiline parameter, the rest of a line after a brace).
type source struct {
	file      string
	lines     []string
	next      int
	lineNos   []int // for generated lines: the line they came from
	raw       bool  // a file's lines still need decommenting
	seq       *seq
	depth     int
	firstLine int
}

type reader struct {
	opts     Options
	defs     map[string]*def
	stack    []*source
	problems []Problem
	multi    *def // the multiline definition being read
	emitted  int  // lines made by ~SEQ so far
}

// maxSeqLines bounds what ~SEQ may generate: a configuration of a million
// lines is a typo, and reading it would hang the import.
const maxSeqLines = 20000

// Parse reads the file at path and everything it includes.
func Parse(path string, opts Options) ([]*Node, []Problem, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	r := &reader{opts: opts, defs: map[string]*def{}}
	r.push(path, data, 0)
	var b builder
	for {
		text, file, line, ok := r.line()
		if !ok {
			break
		}
		for _, piece := range splitBraces(text) {
			b.add(piece, file, line, r)
		}
	}
	b.finish(r)
	return b.root, r.problems, nil
}

func (r *reader) problem(file string, line int, format string, args ...any) {
	r.problems = append(r.problems, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (r *reader) push(path string, data []byte, depth int) {
	lines := strings.Split(string(data), "\n")
	r.stack = append(r.stack, &source{file: path, lines: lines, raw: true, depth: depth})
}

// dir is the directory of the file being read: includes are relative to it.
func (r *reader) dir() string {
	for i := len(r.stack) - 1; i >= 0; i-- {
		if r.stack[i].raw {
			d, err := filepath.Abs(filepath.Dir(r.stack[i].file))
			if err != nil {
				return filepath.Dir(r.stack[i].file)
			}
			return d
		}
	}
	return "."
}

func (r *reader) depth() int {
	for i := len(r.stack) - 1; i >= 0; i-- {
		if r.stack[i].raw {
			return r.stack[i].depth
		}
	}
	return 0
}

// generated queues lines to be read next, as if they were at file:line.
func (r *reader) generated(file string, line int, lines ...string) {
	if len(lines) == 0 {
		return
	}
	nos := make([]int, len(lines))
	for i := range nos {
		nos[i] = line
	}
	r.stack = append(r.stack, &source{file: file, lines: lines, lineNos: nos})
}

// next returns the next line from the top of the stack.
func (r *reader) next() (text, file string, line int, raw, ok bool) {
	for len(r.stack) > 0 {
		s := r.stack[len(r.stack)-1]
		if s.seq != nil {
			v, t, more := s.seq.emit()
			if r.emitted++; more && r.emitted > maxSeqLines {
				r.problem(s.file, s.firstLine, "~SEQ makes more than %d lines - stopping it", maxSeqLines)
				more = false
			}
			if !more {
				r.stack = r.stack[:len(r.stack)-1]
				continue
			}
			r.defs[s.seq.name] = &def{lines: []string{v}}
			return t, s.file, s.firstLine, false, true
		}
		if s.next >= len(s.lines) {
			r.stack = r.stack[:len(r.stack)-1]
			continue
		}
		i := s.next
		s.next++
		if s.raw {
			return strings.TrimRight(s.lines[i], "\r"), s.file, i + 1, true, true
		}
		return s.lines[i], s.file, s.lineNos[i], false, true
	}
	return "", "", 0, false, false
}

// line returns the next line that is a directive or a brace, with
// comments, conditionals, definitions, sequences and includes dealt with.
func (r *reader) line() (string, string, int, bool) {
	for {
		text, file, line, raw, ok := r.next()
		if !ok {
			return "", "", 0, false
		}
		if raw {
			if strings.TrimSpace(text) == "" && r.multi != nil {
				r.multi = nil // a blank line ends a multiline definition
				continue
			}
			text = decomment(text)
		}
		if text == "" {
			continue
		}
		if r.multi != nil {
			r.continueDefinition(text)
			continue
		}
		text = r.process(text, file, line)
		if text == "" || r.include(text, file, line) {
			continue
		}
		return text, file, line, true
	}
}

func (r *reader) continueDefinition(text string) {
	more := strings.HasSuffix(text, `\`)
	text = strings.TrimRight(strings.TrimSuffix(text, `\`), " \t")
	if text != "" {
		r.multi.lines = append(r.multi.lines, text)
	}
	if !more {
		r.multi = nil
	}
}

// process applies conditionals, definitions, ~SEQ and parameter expansion
// to one line, and returns what is left of it ("" when nothing).
func (r *reader) process(text, file string, line int) string {
	for range maxExpansions {
		if text[0] == '@' {
			// "@ID rest" keeps rest only for config id ID; "@^ID rest"
			// keeps it for every other id. Nothing after the id: dropped.
			i := strings.IndexAny(text, " \t")
			if i < 0 {
				return ""
			}
			id := text[1:i]
			neg := strings.HasPrefix(id, "^")
			id = strings.TrimPrefix(id, "^")
			if (r.opts.ConfigID != "" && id == r.opts.ConfigID) == neg {
				return ""
			}
			text = strings.TrimLeft(text[i:], " \t")
			if text == "" {
				return ""
			}
		}
		if name, value, multi, ok := parseDefinition(text); ok {
			d := &def{}
			if value != "" || !multi {
				d.lines = append(d.lines, value)
			}
			r.defs[name] = d
			if multi {
				r.multi = d
			}
			return ""
		}
		if strings.HasPrefix(text, "~SEQ") {
			q, err := r.parseSeq(text)
			if err != nil {
				r.problem(file, line, "%v", err)
				return ""
			}
			r.stack = append(r.stack, &source{file: file, seq: q, firstLine: line})
			return ""
		}
		if strings.HasPrefix(text, "~LST") {
			r.problem(file, line, "~LST is not supported by the importer: write the lines out")
			return ""
		}
		if text[0] == '~' || !strings.Contains(text, "$") {
			return text
		}
		out, more, changed, err := r.expand(text)
		if err != nil {
			r.problem(file, line, "%v", err)
			return ""
		}
		if !changed {
			return text
		}
		r.generated(file, line, more...)
		text = decomment(out)
		if text == "" || (text[0] != '@' && !strings.Contains(text, "$")) {
			return text
		}
	}
	r.problem(file, line, "parameter expansion does not end")
	return ""
}
