package npz

import (
	"bytes"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

// python returns /usr/bin/python3 when it can import numpy. Without it the test is skipped, unless
// CI=true, where CI installs python3-numpy and a missing numpy is a failure.
func python(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import numpy").CombinedOutput(); err != nil {
		msg := "numpy is not available (apt-get install python3-numpy): " + err.Error() + ": " + string(out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

func runPython(t *testing.T, py, script string, args ...string) {
	t.Helper()
	out, err := exec.Command(py, append([]string{"-c", script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
}

// checkScript loads the archive written by sample.write and compares every array with the values
// newSample uses, exactly (the values are all representable, NaN compared as NaN).
const checkScript = `
import sys, numpy as np
z = np.load(sys.argv[1])
assert sorted(z.files) == sorted(["f64", "scalar", "empty", "f32", "c64", "c128", "big", "i64", "config", "blank"]), z.files
def same(name, dtype, shape, want):
    a = z[name]
    assert a.dtype == np.dtype(dtype), (name, a.dtype)
    assert a.shape == shape, (name, a.shape)
    np.testing.assert_array_equal(a, np.asarray(want, dtype=dtype).reshape(shape), err_msg=name)
f64 = [-1, 0.5, np.inf, np.nan, 5e-324, np.finfo(np.float64).max]
same("f64", "<f8", (2, 3), f64)
same("scalar", "<f8", (), np.pi)
same("empty", "<f8", (0, 3), [])
same("f32", "<f4", (4,), [1.5, -2, -np.inf, 3.25])
same("c64", "<c8", (2, 2), [1+2j, -3-4j, 0.5j, 7])
same("c128", "<c16", (1, 2, 1), [complex(np.pi, -np.e), 1e-300+1e300j])
i = np.arange(10000.0)
same("big", "<c16", (100, 100), i - 1j*(i/3))
same("i64", "<i8", (5,), [np.iinfo(np.int64).min, -1, 0, 1, np.iinfo(np.int64).max])
assert z["config"].item() == "héllo → ✓ 𝄞 (non-BMP)", z["config"].item()
assert z["config"].dtype == np.dtype("<U21"), z["config"].dtype
assert z["blank"].item() == "", repr(z["blank"].item())
`

func TestNumpyReadsOurs(t *testing.T) {
	py := python(t)
	for _, tc := range []struct {
		name string
		new  func(io.Writer) *Writer
	}{{"stored", NewWriter}, {"deflated", NewCompressedWriter}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "go.npz")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			newSample().write(t, tc.new(f))
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			runPython(t, py, checkScript, path)
		})
	}
}

const savezScript = `
import sys, numpy as np
arrays = dict(
    f8=np.arange(6, dtype="<f8").reshape(2, 3) / 4,
    f4=np.array([1.5, -2], dtype="<f4"),
    c8=np.array([[1+2j], [3-4j]], dtype="<c8"),
    c16=np.array(np.pi - 1j, dtype="<c16"),
    i8=np.array([-5, 7], dtype="<i8"),
    i4=np.array([-5, 7], dtype="<i4"),
    u1=np.array([0, 255], dtype="|u1"),
    b1=np.array([True, False]),
    big=np.array([1.0, -2.5], dtype=">f8"),
    s=np.array("héllo 𝄞"),
    strs=np.array(["a", "bcd"]),
    empty=np.zeros((0, 2)),
)
np.savez(sys.argv[1], **arrays)
np.savez_compressed(sys.argv[2], **arrays)
`

func TestWeReadNumpys(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	plain, packed := filepath.Join(dir, "plain.npz"), filepath.Join(dir, "packed.npz")
	runPython(t, py, savezScript, plain, packed)
	want := map[string]Array{
		"f8":    {"f8", "<f8", []int{2, 3}, []float64{0, 0.25, 0.5, 0.75, 1, 1.25}},
		"f4":    {"f4", "<f4", []int{2}, []float32{1.5, -2}},
		"c8":    {"c8", "<c8", []int{2, 1}, []complex64{1 + 2i, 3 - 4i}},
		"c16":   {"c16", "<c16", []int{}, []complex128{complex(math.Pi, -1)}},
		"i8":    {"i8", "<i8", []int{2}, []int64{-5, 7}},
		"i4":    {"i4", "<i4", []int{2}, []int32{-5, 7}},
		"u1":    {"u1", "|u1", []int{2}, []uint8{0, 255}},
		"b1":    {"b1", "|b1", []int{2}, []bool{true, false}},
		"big":   {"big", ">f8", []int{2}, []float64{1, -2.5}},
		"s":     {"s", "<U7", []int{}, "héllo 𝄞"},
		"strs":  {"strs", "<U3", []int{2}, []string{"a", "bcd"}},
		"empty": {"empty", "<f8", []int{0, 2}, []float64{}},
	}
	for _, path := range []string{plain, packed} {
		m, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != len(want) {
			t.Errorf("%s: %d arrays, want %d", filepath.Base(path), len(m), len(want))
		}
		for k, w := range want {
			if g := m[k]; !reflect.DeepEqual(g, w) {
				t.Errorf("%s: %q = %+v, want %+v", filepath.Base(path), k, g, w)
			}
		}
	}

	// Writing back what numpy wrote gives numpy's values again (our headers differ only in padding).
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.Float64("f8", []int{2, 3}, want["f8"].Data.([]float64)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(dir, "again.npz")
	if err := os.WriteFile(again, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	runPython(t, py, `
import sys, numpy as np
a, b = np.load(sys.argv[1])["f8"], np.load(sys.argv[2])["f8"]
assert a.dtype == b.dtype and a.shape == b.shape and (a == b).all(), (a, b)
`, plain, again)
}
