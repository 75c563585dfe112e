package npz

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// FuzzRead checks that Read never panics and that whatever it accepts is self-consistent. Seeds:
// archives from this package's Writer (below) and testdata/fuzz/FuzzRead, which holds archives
// written by numpy (np.savez, np.savez_compressed), a format 2.0 member and a big-endian one.
func FuzzRead(f *testing.F) {
	for _, compressed := range []bool{false, true} {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		if compressed {
			w = NewCompressedWriter(&buf)
		}
		for _, err := range []error{
			w.Float64("x", []int{2}, []float64{1, -2}),
			w.Complex64("h", []int{1, 2}, []complex64{1i, 2}),
			w.Int64("n", nil, []int64{7}),
			w.String("config", "a: 1"),
			w.Close(),
		} {
			if err != nil {
				f.Fatal(err)
			}
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for k, a := range m {
			if a.Name != k {
				t.Errorf("array %q named %q", k, a.Name)
			}
			checkArray(t, a)
		}
	})
}

// FuzzReadNPY fuzzes the .npy stream parser directly: most mutations of a whole archive only break
// its CRCs or directory, so this reaches the header parser and decoders far more often. Seeds: the
// members of the archives FuzzRead starts from, written by this package and by numpy.
func FuzzReadNPY(f *testing.F) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, err := range []error{
		w.Float64("x", []int{2, 1}, []float64{1, -2}),
		w.Complex128("h", []int{1}, []complex128{1i}),
		w.Float32("f", nil, []float32{3}),
		w.String("config", "a: 1"),
		w.Close(),
	} {
		if err != nil {
			f.Fatal(err)
		}
	}
	seeds := [][]byte{buf.Bytes()}
	for _, name := range []string{"numpy-savez", "format-2.0-big-endian"} {
		b, err := corpusBytes(filepath.Join("testdata", "fuzz", "FuzzRead", name))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for _, b := range seeds {
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			f.Fatal(err)
		}
		for _, m := range zr.File {
			rc, err := m.Open()
			if err != nil {
				f.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := readNPY("fuzz.npy", bytes.NewReader(b), uint64(len(b)))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || fe.Offset < 0 || fe.Offset > int64(len(b)) {
				t.Fatalf("error %v is not a FormatError within the input", err)
			}
			return
		}
		checkArray(t, a)
	})
}

// checkArray checks that an accepted array's data matches its shape.
func checkArray(t *testing.T, a Array) {
	n, err := elements(a.Shape)
	if err != nil {
		t.Fatalf("%q: accepted shape %v: %v", a.Name, a.Shape, err)
	}
	if _, ok := a.Data.(string); ok {
		if len(a.Shape) != 0 {
			t.Errorf("%q: string data with shape %v", a.Name, a.Shape)
		}
		return
	}
	if got := reflect.ValueOf(a.Data).Len(); got != n {
		t.Errorf("%q: %d elements for shape %v", a.Name, got, a.Shape)
	}
}

// corpusBytes reads the []byte value of a one-value Go fuzz corpus file.
func corpusBytes(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 || lines[0] != "go test fuzz v1" {
		return nil, fmt.Errorf("%s: not a fuzz corpus file", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return []byte(s), nil
}
