package beamforming_test

import (
	"fmt"
	"math"
	"math/cmplx"
	"slices"
	"strings"
	"testing"

	"github.com/cctrack/cctrack/beamforming"
)

func mustCodebook(t testing.TB, kind string, nh, nv, m int, ps beamforming.PhaseShifter, seed uint64) beamforming.Codes {
	t.Helper()
	c, err := beamforming.Codebook(kind, nh, nv, m, ps, seed)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func weights(c beamforming.Codes, ps beamforming.PhaseShifter, im *beamforming.Impairments) []complex128 {
	w := make([]complex128, c.N*c.M)
	c.Weights(ps, im, w)
	return w
}

// gramDeviation is max_ab |(W^H W)_ab - δ_ab| for an n x m row-major W.
func gramDeviation(w []complex128, n, m int) float64 {
	var worst float64
	for a := range m {
		for b := range m {
			var g complex128
			for i := range n {
				g += cmplx.Conj(w[i*m+a]) * w[i*m+b]
			}
			if a == b {
				g--
			}
			worst = max(worst, cmplx.Abs(g))
		}
	}
	return worst
}

// TestWeights covers both phasor paths: the table (<= 8 bits) and direct Sincos (12 bits).
func TestWeights(t *testing.T) {
	for _, tc := range []struct {
		kind      string
		nh, nv, m int
		bits      int
	}{{"random", 10, 10, 24, 6}, {"random", 2, 2, 4, 1}, {"dft", 20, 20, 24, 3}, {"hadamard", 4, 4, 16, 2}, {"dft", 8, 2, 16, 12}} {
		ps := beamforming.PhaseShifter{Bits: tc.bits}
		c := mustCodebook(t, tc.kind, tc.nh, tc.nv, tc.m, ps, 1)
		n := c.N
		nominal := weights(c, ps, nil)
		for k, w := range nominal {
			// e^{jφ}/√N to a few ulps: one Sincos, a quarter-turn rotation and a product.
			want := cmplx.Rect(1/math.Sqrt(float64(n)), ps.Phase(c.Code[k]))
			if d := cmplx.Abs(w - want); d > 1e-15 {
				t.Fatalf("%s %dx%d: w[%d] = %v, want %v", tc.kind, tc.nh, tc.nv, k, w, want)
			}
			// Quarter turns are exact: ±1/√N, ±j/√N.
			if 4*int(c.Code[k])%ps.Levels() == 0 && real(w)*imag(w) != 0 {
				t.Fatalf("%s: quarter-turn code %d gives %v, not an exact axis point", tc.kind, c.Code[k], w)
			}
		}
		im := beamforming.NewImpairments(n, 0.7, 8, 2, 5)
		physical := weights(c, ps, &im)
		for i := range n {
			e := im.Element(i)
			for j := range c.M {
				// Relative 1e-15: the same product, but a compiler may fuse a multiply-add in one of them.
				want := nominal[i*c.M+j] * e
				if d := cmplx.Abs(physical[i*c.M+j] - want); d > 1e-15*cmplx.Abs(want) {
					t.Fatalf("%s: physical w[%d,%d] = %v, want nominal·Element = %v", tc.kind, i, j, physical[i*c.M+j], want)
				}
			}
		}
		dst := make([]complex128, n*c.M)
		if a := testing.AllocsPerRun(10, func() { c.Weights(ps, &im, dst) }); a != 0 {
			t.Errorf("%s: Weights allocates %g times per call", tc.kind, a)
		}
	}
}

func TestWeightsPanicsOnShape(t *testing.T) {
	ps := beamforming.PhaseShifter{Bits: 4}
	c := mustCodebook(t, "dft", 2, 2, 4, ps, 0)
	short := beamforming.NewImpairments(3, 0, 0, 0, 0)
	for name, f := range map[string]func(){
		"dst":         func() { c.Weights(ps, nil, make([]complex128, 15)) },
		"impairments": func() { c.Weights(ps, &short, make([]complex128, 16)) },
		"shifter":     func() { c.Weights(beamforming.PhaseShifter{}, nil, make([]complex128, 16)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s mismatch did not panic", name)
				}
			}()
			f()
		}()
	}
}

// TestDFTOrthogonal: with M = N, unquantised DFT beams satisfy W^H W = I. Quantising each phase moves it
// by ε with |ε| <= π/L, so each term of (W^H W)_ab = (1/N) Σ_i e^{j(Δφ_i + Δε_i)} moves by at most
// |e^{jΔε} - 1| <= |Δε| <= 2π/L, and so does their mean: tolerance 2π/L (plus 1e-12 for rounding).
func TestDFTOrthogonal(t *testing.T) {
	for _, tc := range []struct{ nh, nv, bits int }{{4, 4, 3}, {10, 10, 8}, {8, 2, 12}, {5, 3, 16}, {1, 7, 10}} {
		ps := beamforming.PhaseShifter{Bits: tc.bits}
		n := tc.nh * tc.nv
		c := mustCodebook(t, "dft", tc.nh, tc.nv, n, ps, 0)
		tol := 2*math.Pi/float64(ps.Levels()) + 1e-12
		if d := gramDeviation(weights(c, ps, nil), n, n); d > tol {
			t.Errorf("%dx%d, %d bits: max |W^H W - I| = %g > 2π/L = %g", tc.nh, tc.nv, tc.bits, d, tol)
		}
	}
}

// TestDFTOrder checks the documented order: beam 0 is broadside, beam 1 the opposite corner of the
// frequency torus, and a smaller M is a prefix of a larger one.
func TestDFTOrder(t *testing.T) {
	ps := beamforming.PhaseShifter{Bits: 8}
	full := mustCodebook(t, "dft", 10, 10, 100, ps, 0)
	for i := range 100 {
		h, v := i%10, i/10
		if full.Code[i*100] != 0 {
			t.Fatalf("beam 0, element %d: code %d, want 0 (broadside)", i, full.Code[i*100])
		}
		// (kh, kv) = (5, 5): phase 2π(h/2 + v/2) = π(h + v).
		if want := uint16((h + v) % 2 * 128); full.Code[i*100+1] != want {
			t.Fatalf("beam 1, element (%d,%d): code %d, want %d", h, v, full.Code[i*100+1], want)
		}
	}
	for _, m := range []int{1, 5, 24, 99} {
		c := mustCodebook(t, "dft", 10, 10, m, ps, 0)
		for i := range 100 {
			if !slices.Equal(c.Code[i*m:(i+1)*m], full.Code[i*100:i*100+m]) {
				t.Fatalf("M = %d is not a prefix of M = 100 (element %d)", m, i)
			}
		}
	}
}

// TestHadamardOrthogonal checks the ±1 matrix of the codes exactly (integers), and the weights to the
// rounding of summing N products of size 1/N (N·eps).
func TestHadamardOrthogonal(t *testing.T) {
	for _, tc := range []struct{ nh, nv, bits int }{{1, 1, 1}, {2, 1, 1}, {2, 2, 3}, {4, 2, 1}, {8, 8, 5}, {16, 8, 2}} {
		ps := beamforming.PhaseShifter{Bits: tc.bits}
		n := tc.nh * tc.nv
		c := mustCodebook(t, "hadamard", tc.nh, tc.nv, n, ps, 0)
		sign := make([]int, n*n)
		for k, code := range c.Code {
			switch int(code) {
			case 0:
				sign[k] = 1
			case ps.Levels() / 2:
				sign[k] = -1
			default:
				t.Fatalf("%dx%d: code %d is neither 0 nor π", tc.nh, tc.nv, code)
			}
		}
		for a := range n {
			for b := range n {
				dot := 0
				for i := range n {
					dot += sign[i*n+a] * sign[i*n+b]
				}
				if want := n * btoi(a == b); dot != want {
					t.Fatalf("%dx%d: column %d · column %d = %d, want %d", tc.nh, tc.nv, a, b, dot, want)
				}
			}
		}
		if d := gramDeviation(weights(c, ps, nil), n, n); d > float64(n)*0x1p-52 {
			t.Errorf("%dx%d: max |W^H W - I| = %g > N·eps", tc.nh, tc.nv, d)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestRandomSeeded(t *testing.T) {
	ps := beamforming.PhaseShifter{Bits: 5}
	a := mustCodebook(t, "random", 10, 10, 24, ps, 7)
	b := mustCodebook(t, "random", 10, 10, 24, ps, 7)
	c := mustCodebook(t, "random", 10, 10, 24, ps, 8)
	if !slices.Equal(a.Code, b.Code) {
		t.Error("the same seed gave different codes")
	}
	if slices.Equal(a.Code, c.Code) {
		t.Error("seeds 7 and 8 gave the same codes")
	}
	seen := make([]bool, ps.Levels())
	for _, x := range a.Code {
		if int(x) >= ps.Levels() {
			t.Fatalf("code %d >= L = %d", x, ps.Levels())
		}
		seen[x] = true
	}
	// 2400 uniform draws over 32 levels miss one with probability < 32·(31/32)^2400 ≈ 1e-32.
	if slices.Contains(seen, false) {
		t.Error("some level never drawn in 2400 codes")
	}
}

func TestCodebookErrors(t *testing.T) {
	ps := beamforming.PhaseShifter{Bits: 4}
	for _, tc := range []struct {
		kind      string
		nh, nv, m int
		ps        beamforming.PhaseShifter
		want      []string // substrings of the error
	}{
		{"fft", 4, 4, 4, ps, []string{`"fft"`, "unknown"}},
		{"dft", 4, 4, 4, beamforming.PhaseShifter{Bits: 0}, []string{`"dft"`, "bits = 0"}},
		{"dft", 0, 4, 4, ps, []string{"nh x nv = 0 x 4"}},
		{"dft", 10, 10, 0, ps, []string{`"dft"`, "M = 0", "N = 100"}},
		{"dft", 10, 10, 101, ps, []string{`"dft"`, "M = 101", "[1, 100]", "N = 100"}},
		{"hadamard", 3, 2, 4, ps, []string{`"hadamard"`, "N = nh·nv = 3·2 = 6", "power of two"}},
		{"hadamard", 4, 4, 17, ps, []string{`"hadamard"`, "M = 17", "N = 16"}},
		{"random", 2, 2, -1, ps, []string{`"random"`, "M = -1"}},
	} {
		_, err := beamforming.Codebook(tc.kind, tc.nh, tc.nv, tc.m, tc.ps, 0)
		if err == nil {
			t.Errorf("Codebook(%q, %d, %d, %d, %d bits): no error", tc.kind, tc.nh, tc.nv, tc.m, tc.ps.Bits)
			continue
		}
		for _, s := range tc.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("Codebook(%q, %d, %d, %d): error %q lacks %q", tc.kind, tc.nh, tc.nv, tc.m, err, s)
			}
		}
	}
}

func TestMaxBeams(t *testing.T) {
	for _, tc := range []struct {
		kind string
		n    int
		want int
	}{
		{"dft", 100, 100}, {"dft", 0, 0}, {"hadamard", 64, 64}, {"hadamard", 1, 1}, {"hadamard", 100, 0},
		{"random", 100, math.MaxInt / 100}, {"fft", 100, 0},
	} {
		if got := beamforming.MaxBeams(tc.kind, tc.n); got != tc.want {
			t.Errorf("MaxBeams(%q, %d) = %d, want %d", tc.kind, tc.n, got, tc.want)
		}
	}
	// Every listed kind builds at its largest M where that is small enough to allocate.
	for _, kind := range beamforming.Kinds() {
		m := min(beamforming.MaxBeams(kind, 16), 64)
		if _, err := beamforming.Codebook(kind, 4, 4, m, beamforming.PhaseShifter{Bits: 3}, 0); err != nil {
			t.Errorf("kind %q listed by Kinds: %v", kind, err)
		}
	}
}

func BenchmarkWeights(b *testing.B) {
	ps := beamforming.PhaseShifter{Bits: 6}
	for _, sz := range []struct{ nh, nv, m int }{{10, 10, 24}, {20, 20, 24}} {
		c := mustCodebook(b, "random", sz.nh, sz.nv, sz.m, ps, 1)
		im := beamforming.NewImpairments(c.N, 0.5, 5, 1, 2)
		dst := make([]complex128, c.N*c.M)
		for _, mode := range []struct {
			name string
			im   *beamforming.Impairments
		}{{"nominal", nil}, {"impaired", &im}} {
			b.Run(fmt.Sprintf("%dx%d/%s", c.N, c.M, mode.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					c.Weights(ps, mode.im, dst)
				}
			})
		}
	}
}

func BenchmarkCodebookDFT(b *testing.B) {
	ps := beamforming.PhaseShifter{Bits: 6}
	for _, sz := range []struct{ nh, nv, m int }{{10, 10, 24}, {20, 20, 24}} {
		b.Run(fmt.Sprintf("%dx%d/M%d", sz.nh, sz.nv, sz.m), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := beamforming.Codebook("dft", sz.nh, sz.nv, sz.m, ps, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
