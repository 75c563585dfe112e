package npz

import (
	"bytes"
	"reflect"
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
			n, err := elements(a.Shape)
			if err != nil {
				t.Fatalf("%q: accepted shape %v: %v", k, a.Shape, err)
			}
			if _, ok := a.Data.(string); ok {
				if len(a.Shape) != 0 {
					t.Errorf("%q: string data with shape %v", k, a.Shape)
				}
				continue
			}
			if got := reflect.ValueOf(a.Data).Len(); got != n {
				t.Errorf("%q: %d elements for shape %v", k, got, a.Shape)
			}
		}
	})
}
