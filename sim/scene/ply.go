package scene

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/cctrack/cctrack/sim/geom"
)

// Limits that keep a hostile or broken PLY file from making the reader allocate without bound.
const (
	plyMaxHeader = 1 << 20  // bytes of header; real headers are well under 1 KiB
	plyMaxLine   = 4 << 20  // bytes of one ASCII data line (a 255-gon is about 3 KiB)
	plyBufSize   = 64 << 10 // largest read buffer; binary records and list chunks are read through it
	plyCapHint   = 1 << 16  // records preallocated when the input size is unknown
)

// LoadPLY reads an ASCII, binary_little_endian or binary_big_endian PLY mesh. Polygon faces are
// triangulated as fans (v0, v_k, v_k+1) and every face gets surface surf. The scene is named path.
func LoadPLY(path string, surf Surface) (*Scene, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load PLY: %w", err)
	}
	defer f.Close()
	return ReadPLY(f, path, surf)
}

// ReadPLY reads a PLY mesh from r as LoadPLY does; name is used in errors and as the scene's name.
//
// When r reveals how many bytes remain (a Len method as bytes.Reader has, or a regular file), element
// counts in the header are checked against that size before anything is allocated, so a header that
// claims billions of vertices fails at once; otherwise memory grows only with the data actually read.
func ReadPLY(r io.Reader, name string, surf Surface) (*Scene, error) {
	verts, tris, err := readPLYMesh(r, name, remainingSize(r))
	if err != nil {
		return nil, err
	}
	sc := &Scene{Name: name, Vertices: verts, Triangles: tris, FaceSurface: make([]int32, len(tris))}
	sc.AddSurface(surf) // index 0, which FaceSurface already holds
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("read PLY: %w", err)
	}
	return sc, nil
}

// remainingSize returns how many bytes r has left, or -1 when r does not say.
func remainingSize(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len())
	case interface{ Stat() (fs.FileInfo, error) }:
		s, ok := r.(io.Seeker)
		if !ok {
			return -1
		}
		fi, err := v.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		cur, err := s.Seek(0, io.SeekCurrent)
		if err != nil || cur > fi.Size() {
			return -1
		}
		return fi.Size() - cur
	}
	return -1
}

// plyType is a PLY scalar type.
type plyType uint8

const (
	plyNone plyType = iota
	plyInt8
	plyUint8
	plyInt16
	plyUint16
	plyInt32
	plyUint32
	plyFloat32
	plyFloat64
)

// parsePLYType accepts both the original names (char, uchar, ...) and the sized ones (int8, ...).
func parsePLYType(s string) plyType {
	switch s {
	case "char", "int8":
		return plyInt8
	case "uchar", "uint8":
		return plyUint8
	case "short", "int16":
		return plyInt16
	case "ushort", "uint16":
		return plyUint16
	case "int", "int32":
		return plyInt32
	case "uint", "uint32":
		return plyUint32
	case "float", "float32":
		return plyFloat32
	case "double", "float64":
		return plyFloat64
	}
	return plyNone
}

func (t plyType) size() int {
	switch t {
	case plyInt8, plyUint8:
		return 1
	case plyInt16, plyUint16:
		return 2
	case plyInt32, plyUint32, plyFloat32:
		return 4
	case plyFloat64:
		return 8
	}
	return 0
}

func (t plyType) isInt() bool { return t >= plyInt8 && t <= plyUint32 }

// intRange is the range of an integer type.
func (t plyType) intRange() (lo, hi int64) {
	switch t {
	case plyInt8:
		return math.MinInt8, math.MaxInt8
	case plyUint8:
		return 0, math.MaxUint8
	case plyInt16:
		return math.MinInt16, math.MaxInt16
	case plyUint16:
		return 0, math.MaxUint16
	case plyInt32:
		return math.MinInt32, math.MaxInt32
	case plyUint32:
		return 0, math.MaxUint32
	}
	return 0, 0
}

// decodeInt decodes an integer type from the start of b (len(b) >= t.size()).
func (t plyType) decodeInt(b []byte, bo binary.ByteOrder) int64 {
	switch t {
	case plyInt8:
		return int64(int8(b[0]))
	case plyUint8:
		return int64(b[0])
	case plyInt16:
		return int64(int16(bo.Uint16(b)))
	case plyUint16:
		return int64(bo.Uint16(b))
	case plyInt32:
		return int64(int32(bo.Uint32(b)))
	case plyUint32:
		return int64(bo.Uint32(b))
	}
	panic("scene: decodeInt on a non-integer PLY type")
}

// decodeFloat decodes any type from the start of b as float64.
func (t plyType) decodeFloat(b []byte, bo binary.ByteOrder) float64 {
	switch t {
	case plyFloat32:
		return float64(math.Float32frombits(bo.Uint32(b)))
	case plyFloat64:
		return math.Float64frombits(bo.Uint64(b))
	}
	return float64(t.decodeInt(b, bo))
}

// parseASCII parses one ASCII token of type t. Integers must be integers within t's range; float
// is parsed with 32-bit range checking, double with 64-bit.
func (t plyType) parseASCII(tok string) (float64, int64, error) {
	if t.isInt() {
		n, err := strconv.ParseInt(tok, 10, 64)
		if lo, hi := t.intRange(); err != nil || n < lo || n > hi {
			return 0, 0, fmt.Errorf("%q is not a %s", tok, t)
		}
		return float64(n), n, nil
	}
	bits := 64
	if t == plyFloat32 {
		bits = 32
	}
	x, err := strconv.ParseFloat(tok, bits)
	if err != nil {
		return 0, 0, fmt.Errorf("%q is not a %s", tok, t)
	}
	return x, 0, nil
}

func (t plyType) String() string {
	return [...]string{"none", "char", "uchar", "short", "ushort", "int", "uint", "float", "double"}[t]
}

// plyProp is one property; countType is plyNone for scalars, else the list's count type (typ is
// then the item type).
type plyProp struct {
	name      string
	typ       plyType
	countType plyType
}

type plyElem struct {
	name  string
	count int64
	props []plyProp
}

type plyFormat uint8

const (
	plyASCII plyFormat = iota + 1
	plyBinary
)

type plyHeader struct {
	format  plyFormat
	order   binary.ByteOrder
	elems   []plyElem
	lines   int   // header lines: ASCII data starts on line lines+1
	bytes   int64 // header length: binary data starts at this offset
	vertex  int   // index of the vertex element
	face    int   // index of the face element
	xyz     [3]int
	indices int // index of the vertex index list within the face element
}

// plyReader holds the state of one read; errors are prefixed with the file name.
type plyReader struct {
	name string
	h    *plyHeader
	nv   int64 // declared vertex count
	// size is the number of bytes left after the header, or -1 when unknown.
	size  int64
	verts []geom.Vec3
	tris  [][3]int32
	poly  []int64 // the current face's indices, reused
}

// errAt formats an error at a position: "line N" in ASCII data, "byte N" (offset) in binary data.
func (p *plyReader) errAt(pos int64, format string, args ...any) error {
	unit := "byte"
	if p.h.format == plyASCII {
		unit = "line"
	}
	return fmt.Errorf("%s: %s %d: %s", p.name, unit, pos, fmt.Sprintf(format, args...))
}

// readPLYMesh reads a whole PLY file. size is the number of bytes r holds, or -1 if unknown.
func readPLYMesh(r io.Reader, name string, size int64) ([]geom.Vec3, [][3]int32, error) {
	// Small files (a Sionna scene has thousands) get a small buffer.
	bufSize := plyBufSize
	if size >= 0 {
		bufSize = int(min(max(size, 256), plyBufSize))
	}
	br := bufio.NewReaderSize(r, bufSize)
	h, err := readPLYHeader(br, name)
	if err != nil {
		return nil, nil, err
	}
	p := &plyReader{name: name, h: h, nv: h.elems[h.vertex].count, size: -1}
	if size >= h.bytes {
		p.size = size - h.bytes
		if err := p.checkSize(); err != nil {
			return nil, nil, err
		}
	}
	nf := h.elems[h.face].count
	if p.size < 0 {
		// Without a size, counts are unchecked: preallocate a little and let append grow with the data.
		p.verts = make([]geom.Vec3, 0, min(p.nv, plyCapHint))
		p.tris = make([][3]int32, 0, min(nf, plyCapHint))
	} else {
		p.verts = make([]geom.Vec3, 0, p.nv)
		p.tris = make([][3]int32, 0, nf)
	}
	if h.format == plyASCII {
		err = p.readASCII(br)
	} else {
		err = p.readBinary(br)
	}
	if err != nil {
		return nil, nil, err
	}
	return p.verts, p.tris, nil
}

// readPLYHeader parses everything up to and including the end_header line.
func readPLYHeader(br *bufio.Reader, name string) (*plyHeader, error) {
	h := &plyHeader{vertex: -1, face: -1}
	errf := func(format string, args ...any) error {
		return fmt.Errorf("%s: line %d: %s", name, h.lines, fmt.Sprintf(format, args...))
	}
	var line []byte
	// next reads one header line; eof reports that the file ended before a newline.
	next := func() (s string, eof bool, err error) {
		line = line[:0]
		for {
			chunk, err := br.ReadSlice('\n')
			h.bytes += int64(len(chunk))
			if h.bytes > plyMaxHeader {
				h.lines++
				return "", false, errf("header longer than %d bytes (is end_header missing?)", plyMaxHeader)
			}
			line = append(line, chunk...)
			switch {
			case err == nil:
				h.lines++
				return strings.TrimRight(string(line), "\r\n"), false, nil
			case errors.Is(err, bufio.ErrBufferFull):
				continue
			case errors.Is(err, io.EOF):
				h.lines++
				return strings.TrimRight(string(line), "\r\n"), true, nil
			default:
				return "", false, fmt.Errorf("%s: read header: %w", name, err)
			}
		}
	}
	first, eof, err := next()
	if err != nil {
		return nil, err
	}
	if first != "ply" {
		if len(first) > 16 {
			first = first[:16] + "..."
		}
		return nil, errf("not a PLY file: first line is %q, want \"ply\"", first)
	}
	// Names seen so far: elements, and properties of the current element (maps, because a 1 MiB
	// header can declare ~60000 of them).
	seen, props := map[string]bool{}, map[string]bool{}
	for !eof {
		var s string
		if s, eof, err = next(); err != nil {
			return nil, err
		}
		f := strings.Fields(s)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "comment", "obj_info":
		case "format":
			if h.format != 0 {
				return nil, errf("second format line")
			}
			if len(f) != 3 || f[2] != "1.0" {
				return nil, errf("format line %q, want \"format <ascii|binary_little_endian|binary_big_endian> 1.0\"", s)
			}
			switch f[1] {
			case "ascii":
				h.format = plyASCII
			case "binary_little_endian":
				h.format, h.order = plyBinary, binary.LittleEndian
			case "binary_big_endian":
				h.format, h.order = plyBinary, binary.BigEndian
			default:
				return nil, errf("unknown format %q", f[1])
			}
		case "element":
			if len(f) != 3 {
				return nil, errf("element line %q, want \"element <name> <count>\"", s)
			}
			n, err := strconv.ParseInt(f[2], 10, 64)
			if err != nil || n < 0 {
				return nil, errf("element %s: bad count %q", f[1], f[2])
			}
			if seen[f[1]] {
				return nil, errf("element %s declared twice", f[1])
			}
			seen[f[1]] = true
			clear(props)
			h.elems = append(h.elems, plyElem{name: f[1], count: n})
		case "property":
			if len(h.elems) == 0 {
				return nil, errf("property before any element")
			}
			e := &h.elems[len(h.elems)-1]
			var pr plyProp
			if len(f) == 5 && f[1] == "list" {
				pr = plyProp{name: f[4], countType: parsePLYType(f[2]), typ: parsePLYType(f[3])}
				if !pr.countType.isInt() {
					return nil, errf("property %s: list count type %q is not an integer type", f[4], f[2])
				}
				if pr.typ == plyNone {
					return nil, errf("property %s: unknown type %q", f[4], f[3])
				}
			} else if len(f) == 3 && f[1] != "list" {
				pr = plyProp{name: f[2], typ: parsePLYType(f[1])}
				if pr.typ == plyNone {
					return nil, errf("property %s: unknown type %q", f[2], f[1])
				}
			} else {
				return nil, errf("property line %q, want \"property <type> <name>\" or \"property list <count type> <type> <name>\"", s)
			}
			if props[pr.name] {
				return nil, errf("element %s: property %s declared twice", e.name, pr.name)
			}
			props[pr.name] = true
			e.props = append(e.props, pr)
		case "end_header":
			if len(f) != 1 {
				return nil, errf("end_header line %q has extra words", s)
			}
			return h, h.check(errf)
		default:
			return nil, errf("unknown header keyword %q", f[0])
		}
	}
	return nil, errf("unexpected end of file in the header (no end_header)")
}

// check validates the header as a whole and locates the vertex coordinates and face indices.
func (h *plyHeader) check(errf func(string, ...any) error) error {
	if h.format == 0 {
		return errf("header has no format line")
	}
	for i, e := range h.elems {
		if len(e.props) == 0 && e.count > 0 {
			return errf("element %s has %d records but no properties", e.name, e.count)
		}
		switch e.name {
		case "vertex":
			h.vertex = i
		case "face":
			h.face = i
		}
	}
	if h.vertex < 0 {
		return errf("header declares no vertex element")
	}
	if h.face < 0 {
		return errf("header declares no face element (a point cloud is not a mesh)")
	}
	v := h.elems[h.vertex]
	if v.count > math.MaxInt32 {
		return errf("%d vertices is more than the %d supported", v.count, math.MaxInt32)
	}
	for k, c := range [3]string{"x", "y", "z"} {
		h.xyz[k] = -1
		for j, pr := range v.props {
			if pr.name == c {
				if pr.countType != plyNone {
					return errf("vertex property %s is a list", c)
				}
				h.xyz[k] = j
			}
		}
		if h.xyz[k] < 0 {
			return errf("vertex element has no %s property", c)
		}
	}
	h.indices = -1
	for j, pr := range h.elems[h.face].props {
		if pr.name != "vertex_indices" && pr.name != "vertex_index" {
			continue
		}
		if h.indices >= 0 {
			return errf("face element has both vertex_indices and vertex_index")
		}
		if pr.countType == plyNone || !pr.typ.isInt() {
			return errf("face property %s must be a list of an integer type", pr.name)
		}
		h.indices = j
	}
	if h.indices < 0 {
		return errf("face element has no vertex_indices list")
	}
	return nil
}

// checkSize rejects headers whose element counts cannot fit in the bytes that follow, so that
// nothing is allocated for them. A binary record takes at least its scalars plus its list counts;
// an ASCII record at least one character and one separator per value (the last line may lack its
// newline, hence the +1). A face's index list counts as 3 items, since shorter faces are rejected.
func (p *plyReader) checkSize() error {
	left := p.size
	if p.h.format == plyASCII {
		left++
	}
	for ei, e := range p.h.elems {
		var rec int64
		for j, pr := range e.props {
			items := int64(0)
			if ei == p.h.face && j == p.h.indices {
				items = 3
			}
			switch {
			case p.h.format == plyASCII:
				rec += 2 * (1 + items)
			case pr.countType != plyNone:
				rec += int64(pr.countType.size()) + items*int64(pr.typ.size())
			default:
				rec += int64(pr.typ.size())
			}
		}
		if rec == 0 {
			continue
		}
		if e.count > left/rec {
			return fmt.Errorf("%s: header: element %s declares %d records of at least %d bytes each, but only %d bytes follow the header",
				p.name, e.name, e.count, rec, p.size)
		}
		left -= e.count * rec
	}
	return nil
}

// addVertex appends vertex i, read at pos, after checking that it is finite.
func (p *plyReader) addVertex(v geom.Vec3, i, pos int64) error {
	if !v.Finite() {
		return p.errAt(pos, "vertex %d: coordinates (%g, %g, %g) are not finite", i, v.X, v.Y, v.Z)
	}
	p.verts = append(p.verts, v)
	return nil
}

// endRecord keeps record i, read at pos, when it is a vertex (v) or a face (p.poly).
func (p *plyReader) endRecord(isVertex, isFace bool, v geom.Vec3, i, pos int64) error {
	switch {
	case isVertex:
		return p.addVertex(v, i, pos)
	case isFace:
		return p.addFace(i, pos)
	}
	return nil
}

// addFace checks p.poly, face number face read at pos, and appends its fan triangulation
// (v0, v_k, v_k+1), k = 1..n-2.
func (p *plyReader) addFace(face, pos int64) error {
	if len(p.poly) < 3 {
		return p.errAt(pos, "face %d: %d vertices, need at least 3", face, len(p.poly))
	}
	for _, k := range p.poly {
		if k < 0 || k >= p.nv {
			return p.errAt(pos, "face %d: vertex index %d out of range (%d vertices)", face, k, p.nv)
		}
	}
	for k := 1; k+1 < len(p.poly); k++ {
		p.tris = append(p.tris, [3]int32{int32(p.poly[0]), int32(p.poly[k]), int32(p.poly[k+1])})
	}
	return nil
}

// readASCII reads the data section of an ASCII file: one record per non-blank line, exactly as many
// values as the header implies.
func (p *plyReader) readASCII(br *bufio.Reader) error {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, br.Size()), plyMaxLine)
	line := int64(p.h.lines)
	var toks []string
	for ei, e := range p.h.elems {
		isVertex, isFace := ei == p.h.vertex, ei == p.h.face
		for i := int64(0); i < e.count; i++ {
			var text string
			for text == "" {
				if !sc.Scan() {
					if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
						return p.errAt(line+1, "longer than %d bytes", plyMaxLine)
					} else if err != nil {
						return fmt.Errorf("%s: read line %d: %w", p.name, line+1, err)
					}
					return p.errAt(line+1, "unexpected end of file: want %s %d of %d", e.name, i, e.count)
				}
				line++
				text = strings.TrimSpace(sc.Text())
			}
			toks = appendFields(toks[:0], text)
			pos := int64(line)
			t := 0
			var v geom.Vec3
			p.poly = p.poly[:0]
			for j, pr := range e.props {
				if pr.countType == plyNone {
					if t >= len(toks) {
						return p.errAt(pos, "%s %d: too few values (%d)", e.name, i, len(toks))
					}
					x, _, err := pr.typ.parseASCII(toks[t])
					if err != nil {
						return p.errAt(pos, "%s %d: property %s: %v", e.name, i, pr.name, err)
					}
					t++
					if isVertex {
						setCoord(&v, p.h.xyz, j, x)
					}
					continue
				}
				if t >= len(toks) {
					return p.errAt(pos, "%s %d: too few values (%d)", e.name, i, len(toks))
				}
				_, n, err := pr.countType.parseASCII(toks[t])
				if err != nil {
					return p.errAt(pos, "%s %d: list %s count: %v", e.name, i, pr.name, err)
				}
				t++
				if n < 0 || n > int64(len(toks)-t) {
					return p.errAt(pos, "%s %d: list %s has count %d but %d values follow", e.name, i, pr.name, n, len(toks)-t)
				}
				collect := isFace && j == p.h.indices
				for _, tok := range toks[t : t+int(n)] {
					_, k, err := pr.typ.parseASCII(tok)
					if err != nil {
						return p.errAt(pos, "%s %d: list %s: %v", e.name, i, pr.name, err)
					}
					if collect {
						p.poly = append(p.poly, k)
					}
				}
				t += int(n)
			}
			if t != len(toks) {
				return p.errAt(pos, "%s %d: %d values, want %d", e.name, i, len(toks), t)
			}
			if err := p.endRecord(isVertex, isFace, v, i, pos); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendFields appends the space-separated words of s to dst.
func appendFields(dst []string, s string) []string {
	for {
		s = strings.TrimLeft(s, " \t\v\f\r")
		if s == "" {
			return dst
		}
		end := strings.IndexAny(s, " \t\v\f\r")
		if end < 0 {
			return append(dst, s)
		}
		dst = append(dst, s[:end])
		s = s[end:]
	}
}

// setCoord stores x into v if property j is one of the coordinates xyz.
func setCoord(v *geom.Vec3, xyz [3]int, j int, x float64) {
	switch j {
	case xyz[0]:
		v.X = x
	case xyz[1]:
		v.Y = x
	case xyz[2]:
		v.Z = x
	}
}

// binReader tracks the byte offset in the file while handing out slices of the bufio buffer.
type binReader struct {
	br  *bufio.Reader
	off int64
}

// next returns the next n <= br.Size() bytes, valid until the following call.
func (r *binReader) next(n int) ([]byte, error) {
	b, err := r.br.Peek(n)
	if len(b) < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	// Discarding what Peek buffered never reads, so b stays valid (bufio.Reader.Discard's contract).
	_, _ = r.br.Discard(n)
	r.off += int64(n)
	return b, nil
}

// readBinary reads the data section of a binary file.
func (p *plyReader) readBinary(br *bufio.Reader) error {
	r := &binReader{br: br, off: p.h.bytes}
	bufSize := br.Size()
	bo := p.h.order
	for ei, e := range p.h.elems {
		isVertex, isFace := ei == p.h.vertex, ei == p.h.face
		recSize, fixed := 0, true
		var offs [3]int // byte offsets of x, y, z within a fixed-size record
		for j, pr := range e.props {
			if pr.countType != plyNone {
				fixed = false
				break
			}
			for k := range offs {
				if p.h.xyz[k] == j {
					offs[k] = recSize
				}
			}
			recSize += pr.typ.size()
		}
		fixed = fixed && recSize <= bufSize
		for i := int64(0); i < e.count; i++ {
			start := r.off
			if fixed {
				// Fast path for the usual vertex record (and skipped scalar-only elements).
				b, err := r.next(recSize)
				if err != nil {
					return p.readErr(err, start, &e, i)
				}
				if isVertex {
					xyz := p.h.xyz
					props := e.props
					v := geom.Vec3{
						X: props[xyz[0]].typ.decodeFloat(b[offs[0]:], bo),
						Y: props[xyz[1]].typ.decodeFloat(b[offs[1]:], bo),
						Z: props[xyz[2]].typ.decodeFloat(b[offs[2]:], bo),
					}
					if err := p.addVertex(v, i, start); err != nil {
						return err
					}
				}
				continue
			}
			var v geom.Vec3
			p.poly = p.poly[:0]
			for j, pr := range e.props {
				if pr.countType == plyNone {
					b, err := r.next(pr.typ.size())
					if err != nil {
						return p.readErr(err, start, &e, i)
					}
					if isVertex {
						setCoord(&v, p.h.xyz, j, pr.typ.decodeFloat(b, bo))
					}
					continue
				}
				b, err := r.next(pr.countType.size())
				if err != nil {
					return p.readErr(err, start, &e, i)
				}
				n := pr.countType.decodeInt(b, bo)
				isz := int64(pr.typ.size())
				if n < 0 {
					return p.errAt(start, "%s %d: list %s has negative count %d", e.name, i, pr.name, n)
				}
				if p.size >= 0 && n > (p.h.bytes+p.size-r.off)/isz {
					return p.errAt(start, "%s %d: list %s has count %d, more than the file holds", e.name, i, pr.name, n)
				}
				collect := isFace && j == p.h.indices
				// Read the list in buffer-sized chunks so a huge count costs memory only for data present.
				for n > 0 {
					k := min(n, int64(bufSize)/isz)
					b, err := r.next(int(k * isz))
					if err != nil {
						return p.readErr(err, start, &e, i)
					}
					if collect {
						for q := int64(0); q < k; q++ {
							p.poly = append(p.poly, pr.typ.decodeInt(b[q*isz:], bo))
						}
					}
					n -= k
				}
			}
			if err := p.endRecord(isVertex, isFace, v, i, start); err != nil {
				return err
			}
		}
	}
	return nil
}

// readErr reports a failed read of record i of e that started at byte start.
func (p *plyReader) readErr(err error, start int64, e *plyElem, i int64) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return p.errAt(start, "unexpected end of file: want %s %d of %d", e.name, i, e.count)
	}
	return fmt.Errorf("%s: byte %d: read %s %d: %w", p.name, start, e.name, i, err)
}
