// Package npz writes and reads numpy .npz archives: a zip file with one .npy member per array.
//
// Each member is written in npy format version 1.0: the magic "\x93NUMPY", version bytes 1 0, a
// little-endian uint16 header length, and an ASCII Python dict literal
//
//	{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }
//
// padded with spaces and a final newline so that the data starts on a 64-byte boundary (as numpy
// itself pads), followed by the elements little-endian in C (row-major) order. np.load reads the
// archives this package writes (stored, as np.savez writes them, or deflated, as
// np.savez_compressed does), and Read reads what np.savez/np.savez_compressed write.
//
// Members are streamed: Writer encodes an array in fixed-size chunks straight into the zip stream,
// so writing an array needs no second copy of it, and Read decodes into the result slices chunk by
// chunk.
package npz

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// chunkBytes is the size of the encode/decode buffer: large enough to amortise the per-write cost
// of the zip stream, small enough to be irrelevant next to the arrays.
const chunkBytes = 64 << 10

// modTime is the timestamp of every member: a fixed one keeps archives byte-identical between runs
// (and between shards and a single-machine run). 1980-01-01 is the earliest valid zip (DOS) date.
var modTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// Writer writes arrays as members of an .npz archive. Errors are sticky: after a failed write every
// further call returns the same error, since the archive can no longer be completed correctly.
type Writer struct {
	zw     *zip.Writer
	method uint16
	names  map[string]bool
	buf    []byte
	err    error
}

// NewWriter returns a Writer that stores members uncompressed, as np.savez does.
func NewWriter(w io.Writer) *Writer { return newWriter(w, zip.Store) }

// NewCompressedWriter returns a Writer that deflates members, as np.savez_compressed does.
func NewCompressedWriter(w io.Writer) *Writer { return newWriter(w, zip.Deflate) }

func newWriter(w io.Writer, method uint16) *Writer {
	return &Writer{zw: zip.NewWriter(w), method: method, names: map[string]bool{}}
}

// Float64 writes data as an array of dtype '<f8' with the given shape.
func (w *Writer) Float64(name string, shape []int, data []float64) error {
	return writeArray(w, name, "<f8", shape, data, 8, func(b []byte, v float64) {
		binary.LittleEndian.PutUint64(b, math.Float64bits(v))
	})
}

// Float32 writes data as an array of dtype '<f4'.
func (w *Writer) Float32(name string, shape []int, data []float32) error {
	return writeArray(w, name, "<f4", shape, data, 4, func(b []byte, v float32) {
		binary.LittleEndian.PutUint32(b, math.Float32bits(v))
	})
}

// Complex64 writes data as an array of dtype '<c8' (real then imaginary float32).
func (w *Writer) Complex64(name string, shape []int, data []complex64) error {
	return writeArray(w, name, "<c8", shape, data, 8, func(b []byte, v complex64) {
		binary.LittleEndian.PutUint32(b, math.Float32bits(real(v)))
		binary.LittleEndian.PutUint32(b[4:], math.Float32bits(imag(v)))
	})
}

// Complex128 writes data as an array of dtype '<c16' (real then imaginary float64).
func (w *Writer) Complex128(name string, shape []int, data []complex128) error {
	return writeArray(w, name, "<c16", shape, data, 16, func(b []byte, v complex128) {
		binary.LittleEndian.PutUint64(b, math.Float64bits(real(v)))
		binary.LittleEndian.PutUint64(b[8:], math.Float64bits(imag(v)))
	})
}

// Int64 writes data as an array of dtype '<i8'.
func (w *Writer) Int64(name string, shape []int, data []int64) error {
	return writeArray(w, name, "<i8", shape, data, 8, func(b []byte, v int64) {
		binary.LittleEndian.PutUint64(b, uint64(v))
	})
}

// String writes s as a 0-d numpy unicode array of dtype '<U{n}', n the number of code points
// (UTF-32LE), so that np.load(f)[name].item() returns s. Invalid UTF-8 is written as U+FFFD. The
// empty string is written as '<U1' holding one NUL, which numpy (and Read) read back as "", since
// numpy strips trailing NULs from unicode items and has no zero-length '<U' array.
func (w *Writer) String(name string, s string) error {
	runes := []rune(s)
	n := max(len(runes), 1)
	padded := make([]rune, n)
	copy(padded, runes)
	return writeArray(w, name, "<U"+strconv.Itoa(n), nil, []rune{0}, 4*n, func(b []byte, _ rune) {
		for i, r := range padded {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(r))
		}
	})
}

// Close writes the zip central directory. It does not close the underlying io.Writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if err := w.zw.Close(); err != nil {
		w.err = fmt.Errorf("npz: finishing archive: %w", err)
	}
	return w.err
}

// writeArray writes one member: header, then the elements encoded by put (size bytes each) in
// chunks of about chunkBytes.
func writeArray[T any](w *Writer, name, descr string, shape []int, data []T, size int, put func([]byte, T)) error {
	if w.err != nil {
		return w.err
	}
	// Argument errors leave the archive intact, so they are returned without becoming sticky.
	if name == "" {
		return errors.New("npz: empty array name")
	}
	if w.names[name] {
		return fmt.Errorf("npz: array %q written twice", name)
	}
	n, err := elements(shape)
	if err != nil {
		return fmt.Errorf("npz: array %q: %w", name, err)
	}
	if n != len(data) {
		return fmt.Errorf("npz: array %q: shape %v holds %d elements but %d were given", name, shape, n, len(data))
	}
	header, err := npyHeader(descr, shape)
	if err != nil {
		return fmt.Errorf("npz: array %q: %w", name, err)
	}
	w.names[name] = true

	out, err := w.zw.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: w.method, Modified: modTime})
	if err != nil {
		w.err = fmt.Errorf("npz: creating member %q: %w", name+".npy", err)
		return w.err
	}
	if _, err := out.Write(header); err != nil {
		w.err = fmt.Errorf("npz: writing header of %q: %w", name+".npy", err)
		return w.err
	}
	per := max(chunkBytes/size, 1)
	if cap(w.buf) < per*size {
		w.buf = make([]byte, per*size)
	}
	for start := 0; start < len(data); start += per {
		end := min(start+per, len(data))
		b := w.buf[:(end-start)*size]
		for i, v := range data[start:end] {
			put(b[i*size:], v)
		}
		if _, err := out.Write(b); err != nil {
			w.err = fmt.Errorf("npz: writing data of %q at element %d: %w", name+".npy", start, err)
			return w.err
		}
	}
	return nil
}

// elements is the product of the dimensions, with negative dimensions and overflow rejected.
func elements(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, fmt.Errorf("shape %v overflows int", shape)
		}
		n *= d
	}
	return n, nil
}

// npyHeader is the version 1.0 preamble and header dict for an array, padded to a multiple of 64
// bytes with spaces and a final newline (numpy's ARRAY_ALIGN), keys in numpy's (sorted) order.
func npyHeader(descr string, shape []int) ([]byte, error) {
	var dict strings.Builder
	fmt.Fprintf(&dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shapeTuple(shape))
	const prefix = 10 // magic (6) + version (2) + header length (2)
	hlen := dict.Len() + 1
	hlen += (64 - (prefix+hlen)%64) % 64
	if hlen > math.MaxUint16 {
		return nil, fmt.Errorf("npy header of %d bytes does not fit format version 1.0", hlen)
	}
	b := make([]byte, 0, prefix+hlen)
	b = append(b, "\x93NUMPY\x01\x00"...)
	b = binary.LittleEndian.AppendUint16(b, uint16(hlen))
	b = append(b, dict.String()...)
	for len(b) < prefix+hlen-1 {
		b = append(b, ' ')
	}
	return append(b, '\n'), nil
}

// shapeTuple formats a shape as a Python tuple: (), (3,), (2, 3).
func shapeTuple(shape []int) string {
	switch len(shape) {
	case 0:
		return "()"
	case 1:
		return "(" + strconv.Itoa(shape[0]) + ",)"
	}
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
