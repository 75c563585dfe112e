package npz

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Array is one array read from an archive.
//
// Dtype is the numpy type string as stored in the file, e.g. "<c8" or ">f8". Data holds the elements
// in C order, converted to native values, as one of []float32, []float64, []complex64,
// []complex128, []int8, []int16, []int32, []int64, []uint8, []uint16, []uint32, []uint64, []bool;
// unicode arrays ('<U{n}') come back as a string when 0-d and as []string otherwise, with trailing
// NULs stripped as numpy does.
type Array struct {
	Name  string
	Dtype string
	Shape []int
	Data  any
}

// FormatError reports a malformed member: the member's name in the archive, the byte offset within
// its (uncompressed) .npy stream where the problem was found, and what was wrong.
type FormatError struct {
	Member string
	Offset int64
	Msg    string
	Err    error // underlying error, if any
}

func (e *FormatError) Error() string {
	s := fmt.Sprintf("npz: member %q at byte %d: %s", e.Member, e.Offset, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *FormatError) Unwrap() error { return e.Err }

const (
	// maxHeader bounds the header dict of format versions 2 and 3 (version 1 is bounded by its
	// uint16 length); numpy itself refuses headers over 10000 bytes by default.
	maxHeader = 1 << 20
	// maxDeflateRatio is deflate's largest possible expansion (258-byte matches coded in under two
	// bits each gives about 1032:1). A member that claims more than this times its compressed size is
	// lying, and rejecting it bounds allocations by the archive's size.
	maxDeflateRatio = 1032
)

// Open reads every array of the .npz file at path.
func Open(path string) (map[string]Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("npz: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("npz: %w", err)
	}
	m, err := Read(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Read reads every member of an .npz archive of size bytes. Keys are member names without the
// ".npy" suffix, as np.load reports them. Malformed input yields an error (a *FormatError for a bad
// member), never a panic, and allocations are bounded by a fixed multiple of size.
func Read(r io.ReaderAt, size int64) (map[string]Array, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("npz: reading zip directory: %w", err)
	}
	out := make(map[string]Array, len(zr.File))
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		if _, dup := out[name]; dup {
			return nil, &FormatError{Member: f.Name, Msg: fmt.Sprintf("second member named %q", name)}
		}
		a, err := readMember(f, size)
		if err != nil {
			return nil, err
		}
		a.Name = name
		out[name] = a
	}
	return out, nil
}

// dtype is a parsed numpy type string.
type dtype struct {
	big  bool // '>' byte order
	kind byte // 'f', 'c', 'i', 'u', 'b', 'U'
	size int  // bytes per element
}

func readMember(f *zip.File, archiveSize int64) (Array, error) {
	fail := func(off int64, err error, format string, args ...any) (Array, error) {
		return Array{}, &FormatError{Member: f.Name, Offset: off, Msg: fmt.Sprintf(format, args...), Err: err}
	}
	total := f.UncompressedSize64
	switch f.Method {
	case zip.Store:
		if total > uint64(archiveSize) {
			return fail(0, nil, "stored member claims %d bytes in a %d-byte archive", total, archiveSize)
		}
	case zip.Deflate:
		if f.CompressedSize64 > uint64(archiveSize) || total/maxDeflateRatio > f.CompressedSize64 {
			return fail(0, nil, "member claims %d bytes from %d compressed bytes", total, f.CompressedSize64)
		}
	default:
		return fail(0, nil, "unsupported zip method %d (numpy writes stored or deflated members)", f.Method)
	}
	rc, err := f.Open()
	if err != nil {
		return fail(0, err, "opening")
	}
	defer rc.Close()
	return readNPY(f.Name, rc, total)
}

// readNPY reads one .npy stream of total bytes from rc, which must end there (for a zip member,
// reading to the end makes archive/zip verify the CRC).
func readNPY(member string, rc io.Reader, total uint64) (Array, error) {
	fail := func(off int64, err error, format string, args ...any) (Array, error) {
		return Array{}, &FormatError{Member: member, Offset: off, Msg: fmt.Sprintf(format, args...), Err: err}
	}
	var pre [12]byte
	if _, err := io.ReadFull(rc, pre[:8]); err != nil {
		return fail(0, err, "reading npy magic")
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return fail(0, nil, "not an npy array (magic %q)", pre[:6])
	}
	var hlen uint64
	off := int64(8)
	switch v := [2]byte{pre[6], pre[7]}; v {
	case [2]byte{1, 0}:
		if _, err := io.ReadFull(rc, pre[8:10]); err != nil {
			return fail(off, err, "reading header length")
		}
		hlen, off = uint64(binary.LittleEndian.Uint16(pre[8:])), 10
	case [2]byte{2, 0}, [2]byte{3, 0}:
		if _, err := io.ReadFull(rc, pre[8:12]); err != nil {
			return fail(off, err, "reading header length")
		}
		hlen, off = uint64(binary.LittleEndian.Uint32(pre[8:])), 12
	default:
		return fail(6, nil, "unsupported npy format version %d.%d", v[0], v[1])
	}
	if hlen > maxHeader || uint64(off)+hlen > total {
		return fail(off-2, nil, "header length %d exceeds the member's %d bytes (or the %d-byte limit)", hlen, total, maxHeader)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(rc, hdr); err != nil {
		return fail(off, err, "reading %d-byte header", hlen)
	}
	h, herr := parseHeader(hdr)
	if herr != nil {
		return fail(off+int64(herr.pos), nil, "header %q: %s", hdr, herr.msg)
	}
	dataOff := off + int64(hlen)
	dt, err := parseDescr(h.descr)
	if err != nil {
		return fail(off, nil, "descr %q: %v", h.descr, err)
	}
	if h.fortran {
		return fail(off, nil, "fortran_order arrays are not supported (write C order)")
	}
	n, err := elements(h.shape)
	if err != nil {
		return fail(off, nil, "%v", err)
	}
	// The data must fill the rest of the member exactly; this also bounds what is allocated below.
	left := total - uint64(dataOff)
	if dt.size == 0 || uint64(n) > left/uint64(dt.size) || uint64(n)*uint64(dt.size) != left {
		return fail(dataOff, nil, "shape %v of %d-byte %s elements does not match the %d data bytes", h.shape, dt.size, h.descr, left)
	}
	data, err := decode(rc, dt, n)
	if err != nil {
		var pe *decodeError
		if errors.As(err, &pe) {
			return fail(dataOff+pe.off, pe.err, "%s", pe.msg)
		}
		return fail(dataOff, err, "reading data")
	}
	// Reading to EOF makes the zip reader verify the CRC and the declared size.
	if extra, err := io.Copy(io.Discard, io.LimitReader(rc, 1)); extra != 0 || err != nil {
		return fail(int64(total), err, "member does not end where its size says")
	}
	if dt.kind == 'U' && len(h.shape) == 0 {
		data = data.([]string)[0]
	}
	return Array{Dtype: h.descr, Shape: h.shape, Data: data}, nil
}

// parseDescr parses a simple numpy type string: byte order '<', '>' or '|' (the last only for
// one-byte types), then f4 f8 c8 c16 i1 i2 i4 i8 u1 u2 u4 u8 b1 or U{n}.
func parseDescr(s string) (dtype, error) {
	if len(s) < 3 {
		return dtype{}, errors.New("too short")
	}
	var dt dtype
	switch s[0] {
	case '<':
	case '>':
		dt.big = true
	case '|':
	default:
		return dtype{}, fmt.Errorf("byte order %q not one of < > |", s[0])
	}
	dt.kind = s[1]
	n, err := strconv.Atoi(s[2:])
	if err != nil || n < 1 || s[2] == '+' {
		return dtype{}, fmt.Errorf("bad item size %q", s[2:])
	}
	switch dt.kind {
	case 'f':
		if n != 4 && n != 8 {
			return dtype{}, fmt.Errorf("unsupported float size %d", n)
		}
	case 'c':
		if n != 8 && n != 16 {
			return dtype{}, fmt.Errorf("unsupported complex size %d", n)
		}
	case 'i', 'u':
		if n != 1 && n != 2 && n != 4 && n != 8 {
			return dtype{}, fmt.Errorf("unsupported integer size %d", n)
		}
	case 'b':
		if n != 1 {
			return dtype{}, fmt.Errorf("unsupported bool size %d", n)
		}
	case 'U':
		if n > maxHeader {
			return dtype{}, fmt.Errorf("unicode length %d too large", n)
		}
		n *= 4
	default:
		return dtype{}, fmt.Errorf("unsupported kind %q", dt.kind)
	}
	if s[0] == '|' && n != 1 {
		return dtype{}, errors.New("'|' byte order on a multi-byte type")
	}
	dt.size = n
	return dt, nil
}

// decodeError locates a bad element value (an invalid code point) within the data.
type decodeError struct {
	off int64
	msg string
	err error
}

func (e *decodeError) Error() string { return e.msg }

// decode reads n elements of type dt from r in chunks.
func decode(r io.Reader, dt dtype, n int) (any, error) {
	var order binary.ByteOrder = binary.LittleEndian
	if dt.big {
		order = binary.BigEndian
	}
	switch dt.kind {
	case 'f':
		if dt.size == 4 {
			return decodeAs(r, n, 4, func(b []byte) (float32, error) { return math.Float32frombits(order.Uint32(b)), nil })
		}
		return decodeAs(r, n, 8, func(b []byte) (float64, error) { return math.Float64frombits(order.Uint64(b)), nil })
	case 'c':
		if dt.size == 8 {
			return decodeAs(r, n, 8, func(b []byte) (complex64, error) {
				return complex(math.Float32frombits(order.Uint32(b)), math.Float32frombits(order.Uint32(b[4:]))), nil
			})
		}
		return decodeAs(r, n, 16, func(b []byte) (complex128, error) {
			return complex(math.Float64frombits(order.Uint64(b)), math.Float64frombits(order.Uint64(b[8:]))), nil
		})
	case 'i':
		switch dt.size {
		case 1:
			return decodeAs(r, n, 1, func(b []byte) (int8, error) { return int8(b[0]), nil })
		case 2:
			return decodeAs(r, n, 2, func(b []byte) (int16, error) { return int16(order.Uint16(b)), nil })
		case 4:
			return decodeAs(r, n, 4, func(b []byte) (int32, error) { return int32(order.Uint32(b)), nil })
		}
		return decodeAs(r, n, 8, func(b []byte) (int64, error) { return int64(order.Uint64(b)), nil })
	case 'u':
		switch dt.size {
		case 1:
			return decodeAs(r, n, 1, func(b []byte) (uint8, error) { return b[0], nil })
		case 2:
			return decodeAs(r, n, 2, func(b []byte) (uint16, error) { return order.Uint16(b), nil })
		case 4:
			return decodeAs(r, n, 4, func(b []byte) (uint32, error) { return order.Uint32(b), nil })
		}
		return decodeAs(r, n, 8, func(b []byte) (uint64, error) { return order.Uint64(b), nil })
	case 'b':
		return decodeAs(r, n, 1, func(b []byte) (bool, error) { return b[0] != 0, nil })
	}
	// 'U': fixed-width UTF-32 items, NUL-padded.
	return decodeAs(r, n, dt.size, func(b []byte) (string, error) {
		runes := make([]rune, 0, len(b)/4)
		for i := 0; i < len(b); i += 4 {
			c := order.Uint32(b[i:])
			if c > utf8.MaxRune || !utf8.ValidRune(rune(c)) {
				return "", fmt.Errorf("code point %#x at byte %d of the item is not valid unicode", c, i)
			}
			runes = append(runes, rune(c))
		}
		for len(runes) > 0 && runes[len(runes)-1] == 0 {
			runes = runes[:len(runes)-1]
		}
		return string(runes), nil
	})
}

// decodeAs reads n items of size bytes and converts each with conv, one buffer of about chunkBytes
// at a time. The caller has checked n·size against the member's size, which the archive's size
// bounds.
func decodeAs[T any](r io.Reader, n, size int, conv func([]byte) (T, error)) ([]T, error) {
	out := make([]T, n)
	per := max(chunkBytes/size, 1)
	buf := make([]byte, min(per, max(n, 1))*size)
	for start := 0; start < n; start += per {
		end := min(start+per, n)
		b := buf[:(end-start)*size]
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, &decodeError{off: int64(start) * int64(size), msg: "reading data", err: err}
		}
		for i := range out[start:end] {
			v, err := conv(b[i*size : (i+1)*size])
			if err != nil {
				return nil, &decodeError{off: int64(start+i) * int64(size), msg: err.Error()}
			}
			out[start+i] = v
		}
	}
	return out, nil
}
