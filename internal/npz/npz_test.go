package npz

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sample holds one of each array type the Writer writes, in shapes that cover 0-d, empty, 1-d,
// multi-d and one array larger than the 64 KiB encode chunk.
type sample struct {
	f64, scalar, empty []float64
	f32                []float32
	c64                []complex64
	c128, big          []complex128
	i64                []int64
	text               string
}

func newSample() sample {
	s := sample{
		f64:    []float64{-1, 0.5, math.Inf(1), math.NaN(), math.SmallestNonzeroFloat64, math.MaxFloat64},
		scalar: []float64{math.Pi},
		empty:  []float64{},
		f32:    []float32{1.5, -2, float32(math.Inf(-1)), 3.25},
		c64:    []complex64{1 + 2i, -3 - 4i, 0.5i, 7},
		c128:   []complex128{complex(math.Pi, -math.E), 1e-300 + 1e300i},
		i64:    []int64{math.MinInt64, -1, 0, 1, math.MaxInt64},
		text:   "héllo → ✓ 𝄞 (non-BMP)",
	}
	s.big = make([]complex128, 10000) // 160 kB: several chunks
	for i := range s.big {
		s.big[i] = complex(float64(i), -float64(i)/3)
	}
	return s
}

func (s sample) write(t testing.TB, w *Writer) {
	t.Helper()
	for _, err := range []error{
		w.Float64("f64", []int{2, 3}, s.f64),
		w.Float64("scalar", nil, s.scalar),
		w.Float64("empty", []int{0, 3}, s.empty),
		w.Float32("f32", []int{4}, s.f32),
		w.Complex64("c64", []int{2, 2}, s.c64),
		w.Complex128("c128", []int{1, 2, 1}, s.c128),
		w.Complex128("big", []int{100, 100}, s.big),
		w.Int64("i64", []int{5}, s.i64),
		w.String("config", s.text),
		w.String("blank", ""),
		w.Close(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// sameBits compares slices bit for bit, so NaNs compare equal to themselves.
func sameBits(a, b any) bool { return reflect.DeepEqual(bitsOf(a), bitsOf(b)) }

func bitsOf(v any) any {
	switch v := v.(type) {
	case []float64:
		out := make([]uint64, len(v))
		for i, x := range v {
			out[i] = math.Float64bits(x)
		}
		return out
	case []float32:
		out := make([]uint32, len(v))
		for i, x := range v {
			out[i] = math.Float32bits(x)
		}
		return out
	}
	return v
}

func TestRoundTrip(t *testing.T) {
	s := newSample()
	for _, tc := range []struct {
		name string
		new  func(io.Writer) *Writer
	}{{"stored", NewWriter}, {"deflated", NewCompressedWriter}} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			s.write(t, tc.new(&buf))
			m, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]Array{
				"f64":    {"f64", "<f8", []int{2, 3}, s.f64},
				"scalar": {"scalar", "<f8", []int{}, s.scalar},
				"empty":  {"empty", "<f8", []int{0, 3}, s.empty},
				"f32":    {"f32", "<f4", []int{4}, s.f32},
				"c64":    {"c64", "<c8", []int{2, 2}, s.c64},
				"c128":   {"c128", "<c16", []int{1, 2, 1}, s.c128},
				"big":    {"big", "<c16", []int{100, 100}, s.big},
				"i64":    {"i64", "<i8", []int{5}, s.i64},
				"config": {"config", "<U21", []int{}, s.text},
				"blank":  {"blank", "<U1", []int{}, ""},
			}
			if len(m) != len(want) {
				t.Errorf("read %d arrays, want %d", len(m), len(want))
			}
			for k, w := range want {
				g, ok := m[k]
				if !ok {
					t.Errorf("missing %q", k)
					continue
				}
				if g.Name != w.Name || g.Dtype != w.Dtype || !reflect.DeepEqual(g.Shape, w.Shape) || !sameBits(g.Data, w.Data) {
					t.Errorf("%q: got %s %s %v, want %s %s %v", k, g.Name, g.Dtype, g.Shape, w.Name, w.Dtype, w.Shape)
				}
			}
		})
	}
}

func TestHeaderLayout(t *testing.T) {
	// Byte-for-byte what numpy 1.24 writes for these arrays (np.lib.format.write_array_header_1_0
	// without numpy's extra growth padding, which only shifts spaces before the newline).
	for _, tc := range []struct {
		descr string
		shape []int
		dict  string
	}{
		{"<f8", []int{2, 3}, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"},
		{"<c8", []int{7}, "{'descr': '<c8', 'fortran_order': False, 'shape': (7,), }"},
		{"<U5", nil, "{'descr': '<U5', 'fortran_order': False, 'shape': (), }"},
	} {
		h, err := npyHeader(tc.descr, tc.shape)
		if err != nil {
			t.Fatal(err)
		}
		if len(h)%64 != 0 {
			t.Errorf("%s: header is %d bytes, not a multiple of 64", tc.dict, len(h))
		}
		if string(h[:8]) != "\x93NUMPY\x01\x00" || int(h[8])|int(h[9])<<8 != len(h)-10 {
			t.Errorf("%s: bad preamble % x", tc.dict, h[:10])
		}
		body := string(h[10:])
		if !strings.HasPrefix(body, tc.dict) || strings.TrimLeft(body[len(tc.dict):], " ") != "\n" {
			t.Errorf("header %q, want %q padded with spaces and a newline", body, tc.dict)
		}
	}
}

func TestDeterministic(t *testing.T) {
	s := newSample()
	var a, b bytes.Buffer
	s.write(t, NewCompressedWriter(&a))
	s.write(t, NewCompressedWriter(&b))
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two writes of the same arrays differ")
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after < len(p) {
		return 0, errors.New("disk full")
	}
	f.after -= len(p)
	return len(p), nil
}

func TestWriterErrors(t *testing.T) {
	w := NewWriter(io.Discard)
	if err := w.Float64("a", []int{2}, []float64{1, 2}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"empty name", w.Float64("", []int{1}, []float64{1}), "empty array name"},
		{"duplicate", w.Float64("a", []int{1}, []float64{1}), `"a" written twice`},
		{"shape mismatch", w.Int64("b", []int{2, 2}, []int64{1, 2, 3}), "holds 4 elements but 3"},
		{"negative dim", w.Float32("c", []int{-1}, nil), "negative dimension"},
		{"overflow", w.Float32("d", []int{math.MaxInt / 2, 3}, nil), "overflows"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, tc.err, tc.want)
		}
	}
	// Argument errors do not poison the writer.
	if err := w.Float64("b", []int{1}, []float64{1}); err != nil {
		t.Errorf("after argument errors: %v", err)
	}

	// I/O errors are sticky.
	fw := NewWriter(&failWriter{after: 100})
	err := fw.Complex128("x", []int{1000}, make([]complex128, 1000))
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("write to a failing writer: %v", err)
	}
	if err2 := fw.Float64("y", nil, []float64{1}); err2 != err {
		t.Errorf("error not sticky: %v", err2)
	}
	if err2 := fw.Close(); err2 != err {
		t.Errorf("Close after failure: %v", err2)
	}
}

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.npz")
	var buf bytes.Buffer
	newSample().write(t, NewWriter(&buf))
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := m["config"].Data; got != newSample().text {
		t.Errorf("config = %q", got)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.npz")); err == nil {
		t.Error("Open of a missing file succeeded")
	}
}

// member is a raw zip entry for building malformed archives.
type member struct {
	name   string
	data   []byte
	method uint16
	// raw, when set, writes the entry with CreateRaw and these sizes and CRC (to lie about them).
	raw *zip.FileHeader
}

func archive(t testing.TB, ms ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		var (
			w   io.Writer
			err error
		)
		if m.raw != nil {
			m.raw.Name = m.name
			w, err = zw.CreateRaw(m.raw)
		} else {
			w, err = zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: m.method})
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// npy builds a member with the given header dict (padded like numpy) and data.
func npy(dict string, data []byte) []byte {
	hlen := len(dict) + 1
	hlen += (64 - (10+hlen)%64) % 64
	b := []byte("\x93NUMPY\x01\x00")
	b = append(b, byte(hlen), byte(hlen>>8))
	b = append(b, dict...)
	for len(b) < 10+hlen-1 {
		b = append(b, ' ')
	}
	return append(append(b, '\n'), data...)
}

// v2 builds a format 2.0 member (uint32 header length, no padding).
func v2(dict string, data []byte) []byte {
	b := []byte("\x93NUMPY\x02\x00")
	b = binary.LittleEndian.AppendUint32(b, uint32(len(dict)))
	return append(append(b, dict...), data...)
}

func TestReadAccepts(t *testing.T) {
	le := []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x3f} // 1.0 little-endian
	be := []byte{0x3f, 0xf0, 0, 0, 0, 0, 0, 0}
	for _, tc := range []struct {
		name string
		npy  []byte
		want Array
	}{
		{"keys in any order, no trailing comma", npy("{'shape': (1,), 'fortran_order': False, 'descr': '<f8'}", le),
			Array{"a", "<f8", []int{1}, []float64{1}}},
		{"python 2 long suffix", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1L, 1L), }", le),
			Array{"a", "<f8", []int{1, 1}, []float64{1}}},
		{"big-endian", npy(`{"descr": ">f8", "fortran_order": False, "shape": (1,)}`, be),
			Array{"a", ">f8", []int{1}, []float64{1}}},
		{"bool", npy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", []byte{1, 0, 1}),
			Array{"a", "|b1", []int{3}, []bool{true, false, true}}},
		{"int16", npy("{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }", []byte{0xff, 0xff, 2, 0}),
			Array{"a", "<i2", []int{2}, []int16{-1, 2}}},
		{"unicode array", npy("{'descr': '<U2', 'fortran_order': False, 'shape': (2,), }",
			[]byte{'a', 0, 0, 0, 0, 0, 0, 0, 'b', 0, 0, 0, 'c', 0, 0, 0}),
			Array{"a", "<U2", []int{2}, []string{"a", "bc"}}},
		{"version 2.0", v2("{'descr': '<f8', 'fortran_order': False, 'shape': (1,)}\n", le),
			Array{"a", "<f8", []int{1}, []float64{1}}},
	} {
		b := archive(t, member{name: "a.npy", data: tc.npy})
		m, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := m["a"]; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestReadRejects(t *testing.T) {
	okDict := "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }"
	eight := make([]byte, 8)
	good := npy(okDict, eight)
	hdrEnd := int64(len(good) - 8)
	n := uint64(len(good))
	for _, tc := range []struct {
		name   string
		ms     []member
		offset int64  // -1: not a FormatError
		want   string // substring of the message
	}{
		{"not a zip", nil, -1, "reading zip directory"},
		{"bad magic", []member{{name: "a.npy", data: []byte("\x93NUMPX\x01\x00\x00\x00")}}, 0, "not an npy array"},
		{"short magic", []member{{name: "a.npy", data: []byte("\x93NU")}}, 0, "reading npy magic"},
		{"bad version", []member{{name: "a.npy", data: []byte("\x93NUMPY\x04\x00\x00\x00")}}, 6, "version 4.0"},
		{"header too long", []member{{name: "a.npy", data: []byte("\x93NUMPY\x01\x00\xff\x00{}")}}, 8, "header length 255"},
		{"dict syntax", []member{{name: "a.npy", data: npy("{'descr' '<f8'}", nil)}}, 10 + 9, "expected ':'"},
		{"missing key", []member{{name: "a.npy", data: npy("{'descr': '<f8', 'shape': (1,)}", eight)}}, 10 + 30, `missing key "fortran_order"`},
		{"extra key", []member{{name: "a.npy", data: npy("{'descr': '<f8', 'x': 1}", eight)}}, 10 + 17, `unexpected key "x"`},
		{"one-tuple without comma", []member{{name: "a.npy", data: npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1)}", eight)}}, 10 + 53, "trailing comma"},
		{"negative dim", []member{{name: "a.npy", data: npy("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}", eight)}}, 10 + 51, "non-negative integer"},
		{"trailing text", []member{{name: "a.npy", data: npy(okDict+" x", eight)}}, 10 + int64(len(okDict)) + 1, "after the header dict"},
		{"structured", []member{{name: "a.npy", data: npy("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,)}", eight)}}, 10 + 10, "structured"},
		{"unsupported descr", []member{{name: "a.npy", data: npy("{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }", eight)}}, 10, "unsupported float size 2"},
		{"object descr", []member{{name: "a.npy", data: npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", eight)}}, 10, "too short"},
		{"fortran", []member{{name: "a.npy", data: npy("{'descr': '<f8', 'fortran_order': True, 'shape': (1,), }", eight)}}, 10, "fortran_order"},
		{"data too short", []member{{name: "a.npy", data: good[:len(good)-1]}}, hdrEnd, "does not match the 7 data bytes"},
		{"data too long", []member{{name: "a.npy", data: append(good, 0)}}, hdrEnd, "does not match the 9 data bytes"},
		{"bad code point", []member{{name: "a.npy", data: npy("{'descr': '<U2', 'fortran_order': False, 'shape': (), }",
			[]byte{'a', 0, 0, 0, 0, 0xd8, 0, 0})}}, hdrEnd, "code point 0xd800 at byte 4"},
		{"duplicate name", []member{{name: "a.npy", data: good}, {name: "a", data: good}}, 0, `second member named "a"`},
		{"unsupported method", []member{{name: "a.npy", data: good, raw: &zip.FileHeader{Method: 99, CompressedSize64: n, UncompressedSize64: n}}}, 0, "zip method 99"},
		{"stored size lie", []member{{name: "a.npy", data: good, raw: &zip.FileHeader{Method: zip.Store, CompressedSize64: n, UncompressedSize64: 1 << 40}}}, 0, "claims"},
		{"deflate ratio lie", []member{{name: "a.npy", data: []byte{3, 0}, raw: &zip.FileHeader{Method: zip.Deflate, CompressedSize64: 2, UncompressedSize64: 1 << 40}}}, 0, "claims"},
		{"bad crc", []member{{name: "a.npy", data: good, raw: &zip.FileHeader{Method: zip.Store, CRC32: crc32.ChecksumIEEE(good) ^ 1, CompressedSize64: n, UncompressedSize64: n}}}, int64(n), "checksum"},
	} {
		var b []byte
		if tc.ms != nil {
			b = archive(t, tc.ms...)
		} else {
			b = []byte("PK not really")
		}
		_, err := Read(bytes.NewReader(b), int64(len(b)))
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not contain %q", tc.name, err, tc.want)
		}
		var fe *FormatError
		switch {
		case tc.offset < 0:
			if errors.As(err, &fe) {
				t.Errorf("%s: unexpected FormatError %v", tc.name, err)
			}
		case !errors.As(err, &fe):
			t.Errorf("%s: %v is not a FormatError", tc.name, err)
		case fe.Offset != tc.offset || !strings.HasPrefix(fe.Member, "a"):
			t.Errorf("%s: member %q offset %d, want offset %d (%v)", tc.name, fe.Member, fe.Offset, tc.offset, err)
		}
	}
}

func BenchmarkWriteComplex64(b *testing.B) {
	data := make([]complex64, 1<<20) // 8 MiB
	b.SetBytes(8 << 20)
	for b.Loop() {
		w := NewWriter(io.Discard)
		if err := w.Complex64("h", []int{len(data)}, data); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadComplex64(b *testing.B) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.Complex64("h", []int{1 << 20}, make([]complex64, 1<<20)); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(8 << 20)
	for b.Loop() {
		if _, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err != nil {
			b.Fatal(err)
		}
	}
}
