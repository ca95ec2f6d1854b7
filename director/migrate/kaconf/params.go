package kaconf

import (
	"fmt"
	"strconv"
	"strings"
)

// def is a parameter defined by "$NAME=value". A value ending in a
// backslash continues on the next lines (a multiline definition), whose
// lines are then read in place of a reference at the end of a line.
type def struct {
	lines []string
}

func isNameStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }

func isNameChar(c byte) bool { return isNameStart(c) || (c >= '0' && c <= '9') }

// parseDefinition recognises "$NAME=value" (no blank before '='). It
// returns the name, the first line of the value and whether the value
// continues on the next lines.
func parseDefinition(s string) (name, value string, multi, ok bool) {
	if len(s) < 3 || s[0] != '$' || !isNameStart(s[1]) {
		return "", "", false, false
	}
	i := 2
	for i < len(s) && isNameChar(s[i]) {
		i++
	}
	if i == len(s) || s[i] != '=' {
		return "", "", false, false
	}
	value = strings.TrimLeft(s[i+1:], " \t")
	if strings.HasSuffix(value, `\`) {
		return s[1:i], strings.TrimRight(strings.TrimSuffix(value, `\`), " \t"), true, true
	}
	return s[1:i], value, false, true
}

// reference finds the parameter named at s[i] == '$': "$NAME" followed by
// a blank, ',', ')' or the end of the line, or "${NAME}". It returns the
// name and the length of the reference, or ok false.
func reference(s string, i int) (name string, n int, ok bool) {
	j := i + 1
	braces := j < len(s) && s[j] == '{'
	if braces {
		j++
	}
	if j >= len(s) || !isNameStart(s[j]) {
		return "", 0, false
	}
	k := j + 1
	for k < len(s) && isNameChar(s[k]) {
		k++
	}
	if braces {
		if k >= len(s) || s[k] != '}' {
			return "", 0, false
		}
		return s[j:k], k + 1 - i, true
	}
	if k < len(s) && !strings.ContainsRune(" \t,)", rune(s[k])) {
		return "", 0, false
	}
	return s[j:k], k - i, true
}

// maxExpansions bounds parameter replacement on one line: a parameter
// whose value names itself would otherwise never end (keepalived loops).
const maxExpansions = 100

// maxLine is the longest line expansion may make (keepalived's MAXBUF is
// 1024 bytes; this is generous).
const maxLine = 8 << 10

// expand replaces the defined parameters of s, left to right, rescanning
// each replacement. A multiline parameter is only replaced at the end of
// the line: its first line takes the reference's place and the others
// are returned to be read next.
func (r *reader) expand(s string) (out string, more []string, changed bool, err error) {
	for i, count := 0, 0; i < len(s); {
		if s[i] != '$' {
			i++
			continue
		}
		name, n, ok := reference(s, i)
		d := r.lookup(name)
		if !ok || d == nil || (len(d.lines) > 1 && i+n != len(s)) {
			i++
			continue
		}
		if count++; count > maxExpansions {
			return s, nil, changed, fmt.Errorf("parameter expansion does not end (a parameter refers to itself?)")
		}
		changed = true
		first := ""
		if len(d.lines) > 0 {
			first = d.lines[0]
		}
		s = s[:i] + first + s[i+n:]
		if len(s) > maxLine {
			return s, nil, changed, fmt.Errorf("line longer than %d bytes after parameter expansion", maxLine)
		}
		if len(d.lines) > 1 {
			more = append(more, d.lines[1:]...)
		}
		// keepalived stops at a value that starts a ~SEQ.
		if strings.HasPrefix(strings.TrimLeft(first, " \t"), "~") {
			break
		}
	}
	return s, more, changed, nil
}

// lookup returns a parameter, the built-in ones included.
func (r *reader) lookup(name string) *def {
	if d, ok := r.defs[name]; ok {
		return d
	}
	switch name {
	case "_PWD":
		return &def{lines: []string{r.dir()}}
	case "_INSTANCE":
		return &def{lines: []string{r.opts.ConfigID}}
	case "_HASH":
		return &def{lines: []string{"#"}}
	case "_BANG":
		return &def{lines: []string{"!"}}
	}
	return nil
}

// seq is a ~SEQ(VAR, start, step, end) line: its text is read once for
// each value, with $VAR set to it.
type seq struct {
	name              string
	next, step, last  int64
	hex               bool
	text, file, where string
	line              int
}

// parseSeq reads "~SEQ(VAR, [start,] [step,] end) text" or "~SEQx(...)"
// (hexadecimal values, for IPv6 addresses).
func (r *reader) parseSeq(s string) (*seq, error) {
	q := &seq{}
	p := strings.TrimPrefix(s, "~SEQ")
	if strings.HasPrefix(p, "x") {
		q.hex, p = true, p[1:]
	}
	p = strings.TrimLeft(p, " \t")
	if !strings.HasPrefix(p, "(") {
		return nil, fmt.Errorf("invalid ~SEQ %q: want ~SEQ(VAR, start, step, end) TEXT", s)
	}
	end := strings.IndexByte(p, ')')
	if end < 0 {
		return nil, fmt.Errorf("invalid ~SEQ %q: no closing parenthesis", s)
	}
	parts := strings.Split(p[1:end], ",")
	q.name = strings.TrimSpace(parts[0])
	if q.name == "" || len(parts) < 2 || len(parts) > 4 {
		return nil, fmt.Errorf("invalid ~SEQ %q: want ~SEQ(VAR, [start,] [step,] end)", s)
	}
	var nums []int64
	for _, a := range parts[1:] {
		a, _, _, _ = r.expand(strings.TrimSpace(a))
		v, err := strconv.ParseInt(a, 0, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid ~SEQ %q: %q is not a number", s, a)
		}
		nums = append(nums, v)
	}
	switch len(nums) {
	case 1:
		q.last, q.step, q.next = nums[0], 1, 1
		if q.last < 1 {
			q.step = -1
		}
		if q.last < 0 {
			q.next = -1
		}
	case 2:
		q.next, q.last, q.step = nums[0], nums[1], 1
		if q.next > q.last {
			q.step = -1
		}
	case 3:
		q.next, q.step, q.last = nums[0], nums[1], nums[2]
		if q.step == 0 || (q.next < q.last && q.step < 0) || (q.next > q.last && q.step > 0) {
			return nil, fmt.Errorf("invalid ~SEQ %q: the step does not lead from start to end", s)
		}
	}
	if q.hex && (q.next < 0 || q.last < 0) {
		return nil, fmt.Errorf("invalid ~SEQx %q: only for positive numbers", s)
	}
	q.text = strings.TrimLeft(p[end+1:], " \t")
	return q, nil
}

// emit returns the next line of the sequence and false when it is done.
func (q *seq) emit() (value, text string, ok bool) {
	if (q.step > 0 && q.next > q.last) || (q.step < 0 && q.next < q.last) {
		return "", "", false
	}
	value = strconv.FormatInt(q.next, 10)
	if q.hex {
		value = strconv.FormatInt(q.next, 16)
	}
	q.next += q.step
	return value, q.text, true
}
