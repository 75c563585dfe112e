package pilot

import (
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"testing"
)

func randomY(n int, seed uint64) []complex128 {
	rng := rand.New(rand.NewPCG(seed, 2))
	y := make([]complex128, n)
	for i := range y {
		y[i] = complex(rng.NormFloat64(), rng.NormFloat64()) * 1e-3
	}
	return y
}

// Without noise or offsets Estimate returns Synthesize's y: the only error is float32 rounding of
// the samples (relative 6e-8 per sample), which the phase/CFO estimates inherit at the same order;
// 1e-6 relative to |y_k| leaves a margin of ten.
func TestSynthesizeEstimateExact(t *testing.T) {
	for _, f := range []Frame{DefaultFrame(24, 4), {MB: 3, MU: 2, PilotLen: 7, Guard: 0, PreambleLen: 64}, {MB: 1, MU: 1, PilotLen: 2, Guard: 5, PreambleLen: 130}} {
		y := randomY(f.Slots(), 1)
		x := make([]complex64, f.Samples())
		Synthesize(x, f, y)
		got := make([]complex128, len(y))
		s, err := NewCorrelator(f).Estimate(x, got)
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		if s.Offset != 0 || math.Abs(s.CFO) > 1e-9 || math.Abs(s.Phase) > 1e-6 {
			t.Errorf("%+v: sync %+v", f, s)
		}
		for k := range y {
			if d := cmplx.Abs(got[k] - y[k]); d > 1e-6*cmplx.Abs(y[k]) {
				t.Errorf("%+v: y[%d] = %v, want %v", f, k, got[k], y[k])
			}
		}
	}
}

func TestNoiseOnlyIsNoSync(t *testing.T) {
	f := DefaultFrame(24, 4)
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]complex64, f.Samples()+2000)
	c := NewCorrelator(f)
	y := make([]complex128, f.Slots())
	for trial := range 20 {
		Impair(x, nil, 0, 0, 0, 1e-9, rng)
		if s, err := c.Estimate(x, y); !errors.Is(err, ErrNoSync) {
			t.Fatalf("trial %d: noise only gave %+v, %v", trial, s, err)
		}
	}
	if _, err := c.Estimate(x[:f.Samples()-1], y); !errors.Is(err, ErrNoSync) {
		t.Errorf("short window: %v", err)
	}
	clear(x)
	if _, err := c.Estimate(x, y); !errors.Is(err, ErrNoSync) {
		t.Errorf("zeros: %v", err)
	}
}

func TestEstimateDoesNotAllocate(t *testing.T) {
	f := DefaultFrame(24, 4)
	x := make([]complex64, f.Samples()+100)
	Synthesize(x[30:], f, randomY(f.Slots(), 5))
	c := NewCorrelator(f)
	y := make([]complex128, f.Slots())
	if _, err := c.Estimate(x, y); err != nil { // the first call sizes the scratch space
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(10, func() { c.Estimate(x, y) }); n != 0 {
		t.Errorf("Estimate allocates %v times per call", n)
	}
}

// BenchmarkEstimate correlates one 96-slot sweep of the DefaultFrame (8720 samples) found in windows
// with 0, 1000 and 4000 samples of timing uncertainty.
func BenchmarkEstimate(b *testing.B) {
	f := DefaultFrame(24, 4)
	for _, extra := range []int{0, 1000, 4000} {
		b.Run(fmt.Sprintf("slots=%d/search=%d", f.Slots(), extra), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			x := make([]complex64, f.Samples())
			y := randomY(f.Slots(), 3)
			Synthesize(x, f, y)
			rx := make([]complex64, f.Samples()+extra)
			Impair(rx, x, extra/2, 1e-3, 1, 1e-8, rng)
			c := NewCorrelator(f)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Estimate(rx, y); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSynthesize(b *testing.B) {
	f := DefaultFrame(24, 4)
	x := make([]complex64, f.Samples())
	y := randomY(f.Slots(), 3)
	b.ReportAllocs()
	for b.Loop() {
		Synthesize(x, f, y)
	}
}

// The FFT overlap-save correlation equals the direct sum C(d) = Σ conj(z[n]) r[d+n] to float64
// round-off (1e-12 relative to the block energy) at every lag, across block boundaries.
func TestTimingCorrelationIsDirect(t *testing.T) {
	f := Frame{MB: 2, MU: 2, PilotLen: 8, Guard: 2, PreambleLen: 64}
	x := randomY(f.Samples()+1000, 4)
	r := make([]complex64, len(x))
	for i, v := range x {
		r[i] = complex64(v)
	}
	c := NewCorrelator(f)
	c.timing(r)
	z := c.seq.half
	for d, got := range c.c {
		var want complex128
		var e float64
		for n, zn := range z {
			want += cmplx.Conj(zn) * complex128(r[d+n])
			e += sq(complex128(r[d+n]))
		}
		if cmplx.Abs(got-want) > 1e-12*math.Sqrt(e*float64(len(z))) {
			t.Fatalf("C(%d) = %v, want %v", d, got, want)
		}
	}
}

// A window holding two whole sweeps (a continuous stream) and the tail of a third: Estimate locks
// onto one of the whole sweeps and returns its Y, never a mixture (the postamble and the pilots do
// not trigger the preamble detector).
func TestEstimateTwoSweepsInWindow(t *testing.T) {
	f := DefaultFrame(4, 2)
	ys := [][]complex128{randomY(f.Slots(), 6), randomY(f.Slots(), 7), randomY(f.Slots(), 8)}
	starts := []int{-f.Samples() / 2, 300, 300 + f.Samples() + 40}
	x := make([]complex64, starts[2]+f.Samples()+100)
	sweep := make([]complex64, f.Samples())
	for i, y := range ys {
		Synthesize(sweep, f, y)
		for n, v := range sweep {
			if k := starts[i] + n; k >= 0 {
				x[k] = v
			}
		}
	}
	got := make([]complex128, f.Slots())
	s, err := NewCorrelator(f).Estimate(x, got)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.Index(starts, s.Offset)
	if i < 1 {
		t.Fatalf("locked at %d, sweeps start at %v", s.Offset, starts[1:])
	}
	for k, v := range ys[i] {
		if d := cmplx.Abs(got[k] - v); d > 1e-6*cmplx.Abs(v) {
			t.Fatalf("sweep %d: y[%d] = %v, want %v", i, k, got[k], v)
		}
	}
}
