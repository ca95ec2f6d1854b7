package kaconf

// builder makes the tree: a directive followed by "{" opens its block,
// "}" closes the innermost one.
type builder struct {
	root  []*Node
	open  []*Node // the directives whose blocks are open, innermost last
	last  *Node   // the directive just read, which a "{" would open
	stray int     // blocks opened without a directive: their content is kept flat
}

func (b *builder) add(piece, file string, line int, r *reader) {
	switch piece {
	case "{":
		if b.last == nil || b.last.HasBlock {
			r.problem(file, line, "unexpected '{' - ignoring")
			b.stray++
			return
		}
		b.last.HasBlock = true
		b.open = append(b.open, b.last)
		b.last = nil
	case "}":
		b.last = nil
		switch {
		case b.stray > 0:
			b.stray--
		case len(b.open) == 0:
			r.problem(file, line, "extra '}' found")
		default:
			b.open = b.open[:len(b.open)-1]
		}
	default:
		w := Words(piece)
		if len(w) == 0 {
			return
		}
		n := &Node{Keyword: w[0], Args: w[1:], Text: piece, File: file, Line: line}
		if len(b.open) == 0 {
			b.root = append(b.root, n)
		} else {
			p := b.open[len(b.open)-1]
			p.Block = append(p.Block, n)
		}
		b.last = n
	}
}

func (b *builder) finish(r *reader) {
	for _, n := range b.open {
		r.problem(n.File, n.Line, "%s: missing '}' at the end of the configuration", n.Keyword)
	}
}

// Walk calls fn for every node of the tree, parents before children.
func Walk(nodes []*Node, fn func(*Node)) {
	for _, n := range nodes {
		fn(n)
		Walk(n.Block, fn)
	}
}
