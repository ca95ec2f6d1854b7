package config

import "fmt"

// level is one open block of the file: a list or a mapping, at a column.
type level struct {
	col, line int
	seq       bool
}

// indentProblem replays the block structure of the lines before line k
// (1-based) and says whether line k's first list item or key fits in it:
// a line must sit at the column of an open block, or deeper only right
// after a "key:" or "-" that opens one.
func indentProblem(scans []lineScan, k int) (int, string, bool) {
	var stack []level
	opens := false // the last content line ended with "key:" or "-"
	openCol := -1  // column of the node that line opened
	openKey := false
	for i := 0; i < k-1; i++ {
		ls := scans[i]
		if !ls.content || len(ls.starts) == 0 {
			continue
		}
		for _, s := range ls.starts {
			stack = place(stack, s, i+1)
		}
		last := ls.starts[len(ls.starts)-1]
		opens, openCol, openKey = ls.opens, last.col, !last.seq
	}
	ls := scans[k-1]
	if !ls.content || len(ls.starts) == 0 {
		return 0, "", false
	}
	s := ls.starts[0]
	if opens && (s.col > openCol || (s.col == openCol && s.seq && openKey)) {
		return 0, "", false
	}
	var deeper *level
	for len(stack) > 0 && stack[len(stack)-1].col > s.col {
		deeper = &stack[len(stack)-1]
		stack = stack[:len(stack)-1]
	}
	stack = endCompactList(stack, s)
	if len(stack) == 0 {
		return 0, "", false
	}
	top := stack[len(stack)-1]
	switch {
	case top.col == s.col && top.seq && !s.seq:
		want := top.col + 2
		if deeper != nil && !deeper.seq {
			want = deeper.col
		}
		return s.col + 1, fmt.Sprintf("bad indentation: a key at the column of the list on line %d: move it to column %d to belong to the item above, or start a new item with \"- \"", top.line, want+1), true
	case top.col == s.col && !top.seq && s.seq:
		return s.col + 1, fmt.Sprintf("bad indentation: a list item among the keys of line %d: indent it under a key that takes a list", top.line), true
	case top.col == s.col:
		return 0, "", false
	case deeper != nil:
		return s.col + 1, fmt.Sprintf("bad indentation: column %d is between the blocks at column %d (line %d) and column %d (line %d): use one of the two", s.col+1, top.col+1, top.line, deeper.col+1, deeper.line), true
	}
	return s.col + 1, fmt.Sprintf("bad indentation: deeper than line %d, whose key already has a value: align it with that key, at column %d", top.line, top.col+1), true
}

// place puts a list item or key begun at line into the open blocks.
func place(stack []level, s blockStart, line int) []level {
	for {
		for len(stack) > 0 && stack[len(stack)-1].col > s.col {
			stack = stack[:len(stack)-1]
		}
		n := len(stack)
		if n == 0 || stack[n-1].col != s.col {
			break
		}
		top := &stack[n-1]
		switch {
		case top.seq == s.seq:
			top.line = line
			return stack
		case !top.seq && s.seq:
			// A list under a key may sit at the key's column.
			return append(stack, level{col: s.col, line: line, seq: true})
		}
		stack = stack[:n-1] // a key after such a list ends it
	}
	return append(stack, level{col: s.col, line: line, seq: s.seq})
}

// endCompactList drops a list that sits at the column of the key holding
// it, when the next key at that column ends it.
func endCompactList(stack []level, s blockStart) []level {
	if n := len(stack); n >= 2 && !s.seq && stack[n-1].seq && !stack[n-2].seq && stack[n-2].col == stack[n-1].col {
		return stack[:n-1]
	}
	return stack
}
