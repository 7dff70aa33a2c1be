package pycode

import (
	"strings"
)

// Program is a parsed block.
type Program struct {
	Stmts []Stmt
}

type stmtKind uint8

const (
	sExpr stmtKind = iota
	sAssert
	sAssign
	sAugAssign
	sPass
)

// Stmt is one simple statement.
type Stmt struct {
	kind stmtKind
	Line int    // 1-based line of the block where it starts
	Text string // its source, blanks and continuations folded to one space
	name string // assignment target
	op   string // augmented assignment operator, without '='
	x    expr   // the value, the asserted condition or the expression
	msg  expr   // assert message, nil if none
}

// maxDepth bounds expression nesting so hostile input cannot exhaust the
// stack (CPython stops near the same depth).
const maxDepth = 100

// Python keywords that start statements or expressions outside the subset.
var keywords = map[string]string{
	"if": "if statement", "elif": "elif", "else": "else", "for": "for loop", "while": "while loop",
	"def": "function definition", "class": "class definition", "return": "return statement",
	"import": "import statement", "from": "from-import statement", "as": "as", "with": "with statement",
	"try": "try statement", "except": "except", "finally": "finally", "raise": "raise statement",
	"del": "del statement", "global": "global statement", "nonlocal": "nonlocal statement",
	"lambda": "lambda", "yield": "yield", "break": "break statement", "continue": "continue statement",
	"async": "async", "await": "await", "in": "'in' operator", "is": "'is' operator",
	"match": "", "case": "", "type": "", // soft keywords: plain names unless used as such
}

// reserved reports Python's hard keywords.
func reserved(name string) bool {
	switch name {
	case "True", "False", "None", "and", "or", "not", "assert", "pass":
		return true
	}
	return keywords[name] != ""
}

var augOps = map[string]string{
	"+=": "+", "-=": "-", "*=": "*", "//=": "//", "%=": "%", "**=": "**",
	"<<=": "<<", ">>=": ">>", "&=": "&", "|=": "|", "^=": "^",
}

type parser struct {
	src   string
	toks  []token
	i     int
	depth int
}

// Parse parses one %{ }% block. Errors are *Error of kind Unsupported: the
// subset is small, so anything it does not read (including what Python
// itself would reject) is reported by name rather than guessed at.
func Parse(src string) (*Program, error) {
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{src: src, toks: toks}
	prog := &Program{}
	for p.peek().kind != tEOF {
		if p.peek().kind == tNewline {
			p.i++
			continue
		}
		if t := p.peek(); t.kind == tIndent {
			return nil, unsupportedAt(t.line, "indented statement (blocks such as if/for/def are outside the subset)")
		}
		for {
			st, err := p.stmt()
			if err != nil {
				return nil, err
			}
			prog.Stmts = append(prog.Stmts, st)
			if !p.isOp(";") {
				break
			}
			p.i++
			if k := p.peek().kind; k == tNewline || k == tEOF {
				break
			}
		}
		if k := p.peek().kind; k != tNewline && k != tEOF {
			return nil, p.unexpected()
		}
	}
	return prog, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isOp(op string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == op
}

func (p *parser) isName(name string) bool {
	t := p.peek()
	return t.kind == tName && t.text == name
}

// unexpected names the construct a token most likely starts.
func (p *parser) unexpected() error {
	t := p.peek()
	line := t.line
	switch {
	case t.kind == tName:
		if what := keywords[t.text]; what != "" {
			return unsupportedAt(line, "%s", what)
		}
	case t.kind == tOp:
		switch t.text {
		case "[":
			return unsupportedAt(line, "list or subscript '['")
		case "{":
			return unsupportedAt(line, "dict or set '{'")
		case ".":
			return unsupportedAt(line, "attribute access '.'")
		case "...":
			return unsupportedAt(line, "Ellipsis '...'")
		case "/", "/=":
			return unsupportedAt(line, "true division '/' (its result is a float)")
		case ":", ":=", "->":
			return unsupportedAt(line, "'%s' (blocks, slices, annotations)", t.text)
		case "@", "@=":
			return unsupportedAt(line, "'@' operator or decorator")
		case "=":
			return unsupportedAt(line, "assignment to something other than a plain name")
		}
		if _, ok := augOps[t.text]; ok {
			return unsupportedAt(line, "augmented assignment to something other than a plain name")
		}
	}
	return unsupportedAt(line, "syntax: unexpected %s", t)
}

func (p *parser) expectOp(op string) error {
	if !p.isOp(op) {
		return p.unexpected()
	}
	p.i++
	return nil
}

// text is the source of the statement, with blanks, comments and line
// continuations folded to single spaces.
func (p *parser) text(from, to int) string {
	if to <= from {
		return ""
	}
	s := p.src[p.toks[from].pos:p.toks[to-1].end]
	s = strings.ReplaceAll(s, "\\\r\n", " ")
	s = strings.ReplaceAll(s, "\\\n", " ")
	return strings.Join(strings.Fields(s), " ")
}

func (p *parser) stmt() (Stmt, error) {
	start := p.i
	t := p.peek()
	st := Stmt{Line: t.line}
	var err error
	switch {
	case t.kind == tName && t.text == "assert":
		p.i++
		st.kind = sAssert
		if st.x, err = p.expr(); err != nil {
			return st, err
		}
		if p.isOp(",") {
			p.i++
			if st.msg, err = p.expr(); err != nil {
				return st, err
			}
		}
	case t.kind == tName && t.text == "pass":
		p.i++
		st.kind = sPass
	case t.kind == tName && t.text == "print" && !(p.peekAt(1).kind == tOp && p.peekAt(1).text == "("):
		return st, unsupportedAt(t.line, "2 print statement (print without parentheses)")
	case t.kind == tName && keywords[t.text] != "" && !(p.peekAt(1).kind == tOp && p.peekAt(1).text == "="):
		return st, p.unexpected()
	case t.kind == tName && p.peekAt(1).kind == tOp && p.peekAt(1).text == "=":
		if reserved(t.text) {
			return st, unsupportedAt(t.line, "assignment to keyword %s", t.text)
		}
		p.i += 2
		st.kind, st.name = sAssign, t.text
		if st.x, err = p.exprList(); err != nil {
			return st, err
		}
		if p.isOp("=") {
			return st, unsupportedAt(p.peek().line, "chained assignment")
		}
	case t.kind == tName && p.peekAt(1).kind == tOp && augOps[p.peekAt(1).text] != "":
		if reserved(t.text) {
			return st, unsupportedAt(t.line, "assignment to keyword %s", t.text)
		}
		st.kind, st.name, st.op = sAugAssign, t.text, augOps[p.peekAt(1).text]
		p.i += 2
		if st.x, err = p.exprList(); err != nil {
			return st, err
		}
	default:
		st.kind = sExpr
		if st.x, err = p.exprList(); err != nil {
			return st, err
		}
		if p.isOp("=") {
			return st, unsupportedAt(p.peek().line, "assignment to something other than a plain name (tuple unpacking, attributes, subscripts)")
		}
	}
	st.Text = p.text(start, p.i)
	return st, nil
}

// exprList is an expression or a tuple without parentheses (x = 1, 2).
func (p *parser) exprList() (expr, error) {
	x, err := p.expr()
	if err != nil || !p.isOp(",") {
		return x, err
	}
	elems := []expr{x}
	for p.isOp(",") {
		p.i++
		if p.endOfExprList() {
			break
		}
		y, err := p.expr()
		if err != nil {
			return nil, err
		}
		elems = append(elems, y)
	}
	return &tupleExpr{elems: elems}, nil
}

func (p *parser) endOfExprList() bool {
	t := p.peek()
	return t.kind == tNewline || t.kind == tEOF || t.kind == tOp && (t.text == ";" || t.text == "=" || t.text == ")")
}

func (p *parser) expr() (expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, unsupportedAt(p.peek().line, "expression nested deeper than %d", maxDepth)
	}
	x, err := p.orTest()
	if err != nil {
		return nil, err
	}
	if p.isName("if") {
		return nil, unsupportedAt(p.peek().line, "conditional expression (x if c else y)")
	}
	if p.isName("for") {
		return nil, unsupportedAt(p.peek().line, "generator expression")
	}
	return x, nil
}

func (p *parser) orTest() (expr, error) {
	x, err := p.andTest()
	for err == nil && p.isName("or") {
		p.i++
		var y expr
		if y, err = p.andTest(); err == nil {
			x = &boolExpr{or: true, x: x, y: y}
		}
	}
	return x, err
}

func (p *parser) andTest() (expr, error) {
	x, err := p.notTest()
	for err == nil && p.isName("and") {
		p.i++
		var y expr
		if y, err = p.notTest(); err == nil {
			x = &boolExpr{x: x, y: y}
		}
	}
	return x, err
}

func (p *parser) notTest() (expr, error) {
	if p.isName("not") {
		p.i++
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.notTest()
		if err != nil {
			return nil, err
		}
		return &notExpr{x: x}, nil
	}
	return p.comparison()
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return unsupportedAt(p.peek().line, "expression nested deeper than %d", maxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

var compareOps = map[string]bool{"<": true, ">": true, "==": true, ">=": true, "<=": true, "!=": true}

func (p *parser) comparison() (expr, error) {
	x, err := p.binary(0)
	if err != nil {
		return nil, err
	}
	var c *compareExpr
	for {
		t := p.peek()
		if t.kind == tName && (t.text == "in" || t.text == "is" || t.text == "not") {
			return nil, unsupportedAt(t.line, "'%s' comparison", t.text)
		}
		if t.kind != tOp || !compareOps[t.text] {
			break
		}
		p.i++
		y, err := p.binary(0)
		if err != nil {
			return nil, err
		}
		if c == nil {
			c = &compareExpr{first: x}
		}
		c.ops = append(c.ops, t.text)
		c.rest = append(c.rest, y)
	}
	if c != nil {
		return c, nil
	}
	return x, nil
}

// Binary operator levels from loosest to tightest, as in Python's grammar.
var binLevels = [][]string{
	{"|"},
	{"^"},
	{"&"},
	{"<<", ">>"},
	{"+", "-"},
	{"*", "//", "%"},
}

func (p *parser) binary(level int) (expr, error) {
	if level == len(binLevels) {
		return p.factor()
	}
	x, err := p.binary(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tOp {
			return x, nil
		}
		if t.text == "/" || t.text == "@" {
			return nil, p.unexpected()
		}
		found := false
		for _, op := range binLevels[level] {
			if t.text == op {
				found = true
			}
		}
		if !found {
			return x, nil
		}
		p.i++
		y, err := p.binary(level + 1)
		if err != nil {
			return nil, err
		}
		x = &binExpr{op: t.text, x: x, y: y}
	}
}

func (p *parser) factor() (expr, error) {
	t := p.peek()
	if t.kind == tOp && (t.text == "-" || t.text == "+" || t.text == "~") {
		p.i++
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.factor()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{op: t.text, x: x}, nil
	}
	return p.power()
}

func (p *parser) power() (expr, error) {
	x, err := p.atom()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == tOp {
		switch t.text {
		case ".", "[":
			return nil, p.unexpected()
		case "(":
			return nil, unsupportedAt(t.line, "call of something other than a name")
		}
	}
	if p.isOp("**") {
		p.i++
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		y, err := p.factor() // right-associative, binds tighter than a unary minus on its left
		if err != nil {
			return nil, err
		}
		return &binExpr{op: "**", x: x, y: y}, nil
	}
	return x, nil
}

func (p *parser) atom() (expr, error) {
	t := p.peek()
	switch t.kind {
	case tInt:
		p.i++
		return &litExpr{v: Int(t.val)}, nil
	case tStr:
		var b strings.Builder
		for p.peek().kind == tStr {
			b.WriteString(p.next().text)
		}
		return &litExpr{v: Str(b.String())}, nil
	case tName:
		switch t.text {
		case "True", "False":
			p.i++
			return &litExpr{v: Bool(t.text == "True")}, nil
		case "None":
			p.i++
			return &litExpr{v: None()}, nil
		}
		if reserved(t.text) {
			return nil, p.unexpected()
		}
		p.i++
		if p.isOp("(") {
			return p.call(t)
		}
		return &nameExpr{name: t.text, line: t.line}, nil
	case tOp:
		if t.text == "(" {
			return p.parens()
		}
	}
	return nil, p.unexpected()
}

func (p *parser) parens() (expr, error) {
	p.i++ // (
	if p.isOp(")") {
		p.i++
		return &tupleExpr{}, nil
	}
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	if !p.isOp(",") {
		return x, p.expectOp(")")
	}
	elems := []expr{x}
	for p.isOp(",") {
		p.i++
		if p.isOp(")") {
			break
		}
		y, err := p.expr()
		if err != nil {
			return nil, err
		}
		elems = append(elems, y)
	}
	return &tupleExpr{elems: elems}, p.expectOp(")")
}

// call parses print(...), the one function of the subset.
func (p *parser) call(name token) (expr, error) {
	if name.text != "print" {
		return nil, unsupportedAt(name.line, "call of %s()", name.text)
	}
	p.i++ // (
	c := &printExpr{}
	for !p.isOp(")") {
		if t := p.peek(); t.kind == tOp && (t.text == "*" || t.text == "**") {
			return nil, unsupportedAt(t.line, "argument unpacking in a call")
		}
		if t := p.peek(); t.kind == tName && p.peekAt(1).kind == tOp && p.peekAt(1).text == "=" {
			return nil, unsupportedAt(t.line, "keyword argument %s= in print()", t.text)
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.args = append(c.args, x)
		if !p.isOp(",") {
			break
		}
		p.i++
	}
	return c, p.expectOp(")")
}

// Names returns the variables the program reads, in order of first use.
func (p *Program) Names() []string {
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, st := range p.Stmts {
		if st.kind == sAugAssign {
			add(st.name)
		}
		for _, x := range []expr{st.x, st.msg} {
			if x != nil {
				walkNames(x, add)
			}
		}
	}
	return out
}

func walkNames(x expr, add func(string)) {
	switch e := x.(type) {
	case *nameExpr:
		add(e.name)
	case *tupleExpr:
		for _, y := range e.elems {
			walkNames(y, add)
		}
	case *printExpr:
		for _, y := range e.args {
			walkNames(y, add)
		}
	case *unaryExpr:
		walkNames(e.x, add)
	case *notExpr:
		walkNames(e.x, add)
	case *boolExpr:
		walkNames(e.x, add)
		walkNames(e.y, add)
	case *binExpr:
		walkNames(e.x, add)
		walkNames(e.y, add)
	case *compareExpr:
		walkNames(e.first, add)
		for _, y := range e.rest {
			walkNames(y, add)
		}
	}
}
