package npz

import (
	"fmt"
	"strconv"
)

// header is the content of an npy header dict.
type header struct {
	descr   string
	fortran bool
	shape   []int
}

// headerError locates a syntax error at byte pos of the header dict.
type headerError struct {
	pos int
	msg string
}

// parseHeader parses the Python dict literal of an npy header:
//
//	{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }
//
// in any key order and spacing, with an optional trailing comma, Python 2 'L' suffixes on the shape
// integers (numpy accepts those too), and only whitespace after the closing brace. Exactly the three
// keys must be present. Structured dtypes (a list as descr) are not supported.
func parseHeader(b []byte) (header, *headerError) {
	p := hparser{s: b}
	var h header
	seen := map[string]bool{}
	p.space()
	if !p.eat('{') {
		return h, p.errorf("expected '{'")
	}
	closing := 0 // position of the closing brace, where a missing key is reported
	for {
		p.space()
		closing = p.pos
		if p.eat('}') {
			break
		}
		keyPos := p.pos
		key, err := p.str()
		if err != nil {
			return h, err
		}
		if seen[key] {
			return h, &headerError{keyPos, fmt.Sprintf("duplicate key %q", key)}
		}
		seen[key] = true
		p.space()
		if !p.eat(':') {
			return h, p.errorf("expected ':' after key %q", key)
		}
		p.space()
		switch key {
		case "descr":
			if p.peek() == '[' {
				return h, p.errorf("structured dtypes are not supported")
			}
			h.descr, err = p.str()
		case "fortran_order":
			h.fortran, err = p.boolean()
		case "shape":
			h.shape, err = p.tuple()
		default:
			return h, &headerError{keyPos, fmt.Sprintf("unexpected key %q", key)}
		}
		if err != nil {
			return h, err
		}
		p.space()
		closing = p.pos
		if p.eat('}') {
			break
		}
		if !p.eat(',') {
			return h, p.errorf("expected ',' or '}'")
		}
	}
	p.space()
	if p.pos != len(p.s) {
		return h, p.errorf("unexpected text after the header dict")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return h, &headerError{closing, fmt.Sprintf("missing key %q", k)}
		}
	}
	return h, nil
}

type hparser struct {
	s   []byte
	pos int
}

func (p *hparser) errorf(format string, args ...any) *headerError {
	return &headerError{p.pos, fmt.Sprintf(format, args...)}
}

func (p *hparser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *hparser) eat(c byte) bool {
	if p.peek() == c && p.pos < len(p.s) {
		p.pos++
		return true
	}
	return false
}

func (p *hparser) space() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// str parses a quoted string without escapes (numpy's keys and type strings need none).
func (p *hparser) str() (string, *headerError) {
	q := p.peek()
	if q != '\'' && q != '"' {
		return "", p.errorf("expected a quoted string")
	}
	start := p.pos + 1
	for i := start; i < len(p.s); i++ {
		switch p.s[i] {
		case q:
			p.pos = i + 1
			return string(p.s[start:i]), nil
		case '\\', '\n':
			return "", &headerError{i, "escapes and newlines in strings are not supported"}
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *hparser) boolean() (bool, *headerError) {
	for _, lit := range []struct {
		s string
		v bool
	}{{"True", true}, {"False", false}} {
		if len(p.s)-p.pos >= len(lit.s) && string(p.s[p.pos:p.pos+len(lit.s)]) == lit.s {
			p.pos += len(lit.s)
			return lit.v, nil
		}
	}
	return false, p.errorf("expected True or False")
}

// tuple parses a tuple of non-negative integers; a one-element tuple needs its trailing comma, as
// in Python ("(3)" is an int, which numpy rejects as a shape).
func (p *hparser) tuple() ([]int, *headerError) {
	if !p.eat('(') {
		return nil, p.errorf("expected '(' starting the shape tuple")
	}
	shape := []int{}
	comma := false
	for {
		p.space()
		if p.eat(')') {
			if len(shape) == 1 && !comma {
				return nil, p.errorf("one-element shape needs a trailing comma")
			}
			return shape, nil
		}
		if len(shape) > 0 && !comma {
			return nil, p.errorf("expected ',' or ')' in the shape tuple")
		}
		start := p.pos
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			p.pos++
		}
		if p.pos == start {
			return nil, p.errorf("expected a non-negative integer in the shape tuple")
		}
		d, err := strconv.Atoi(string(p.s[start:p.pos]))
		if err != nil {
			return nil, &headerError{start, fmt.Sprintf("dimension %s out of range", p.s[start:p.pos])}
		}
		if !p.eat('L') {
			p.eat('l')
		}
		shape = append(shape, d)
		p.space()
		comma = p.eat(',')
	}
}
