package beamforming_test

import (
	"math"
	"math/cmplx"
	"strings"
	"testing"

	"github.com/cctrack/cctrack/beamforming"
)

func TestPhaseShifterValidate(t *testing.T) {
	for _, tc := range []struct {
		bits int
		ok   bool
	}{{-1, false}, {0, false}, {1, true}, {6, true}, {16, true}, {17, false}} {
		err := beamforming.PhaseShifter{Bits: tc.bits}.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("Bits %d: err = %v, want ok = %v", tc.bits, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "bits") {
			t.Errorf("Bits %d: error %q does not name bits", tc.bits, err)
		}
	}
}

// wrapDist is the distance between two phases on the circle, in [0, π].
func wrapDist(a, b float64) float64 { return math.Abs(cmplx.Phase(cmplx.Rect(1, a-b))) }

func TestPhaseShifterQuantisation(t *testing.T) {
	for _, bits := range []int{1, 2, 3, 6, 8, 12, 16} {
		ps := beamforming.PhaseShifter{Bits: bits}
		l := ps.Levels()
		if l != 1<<bits {
			t.Fatalf("Bits %d: Levels = %d", bits, l)
		}
		// Code(Phase(c)) == c for every level, and Phase takes the code mod L.
		for c := range l {
			if got := ps.Code(ps.Phase(uint16(c))); got != uint16(c) {
				t.Fatalf("Bits %d: Code(Phase(%d)) = %d", bits, c, got)
			}
		}
		if bits < 16 && ps.Phase(uint16(l+1)) != ps.Phase(1) {
			t.Errorf("Bits %d: Phase(L+1) = %g, want Phase(1) = %g", bits, ps.Phase(uint16(l+1)), ps.Phase(1))
		}
		// The error is at most half a step, π/L. The slack covers the rounding of wrapping |φ| <= 4π
		// (a few ulps of 4π, ~1e-15) and is far below the smallest half step π/2^16 ≈ 4.8e-5, so it
		// cannot hide a wrong level.
		tol := math.Pi/float64(l) + 1e-12
		step := 2 * math.Pi / float64(l)
		phases := []float64{0, math.Copysign(0, -1), 2 * math.Pi, -2 * math.Pi, 4 * math.Pi, math.Nextafter(2*math.Pi, 0),
			-1e-300, -1e-9, 2*math.Pi - step/2, 2*math.Pi - step/2 - 1e-9, -step / 2, step / 2, math.Pi}
		for k := range 4000 {
			phases = append(phases, -4*math.Pi+8*math.Pi*float64(k)/3999)
		}
		for _, phi := range phases {
			c := ps.Code(phi)
			if int(c) >= l {
				t.Fatalf("Bits %d: Code(%g) = %d >= L", bits, phi, c)
			}
			if e := wrapDist(phi, ps.Phase(c)); e > tol {
				t.Errorf("Bits %d: Code(%g) = %d, error %g > π/L = %g", bits, phi, c, e, math.Pi/float64(l))
			}
		}
		// Just below 2π wraps to code 0, not L.
		if c := ps.Code(2*math.Pi - step/4); c != 0 {
			t.Errorf("Bits %d: Code(2π - step/4) = %d, want 0", bits, c)
		}
	}
}

func TestNewImpairmentsStatistics(t *testing.T) {
	const n = 20000
	const gainStdDB, phaseStdDeg, lossDB = 0.5, 5.0, 1.5
	im := beamforming.NewImpairments(n, gainStdDB, phaseStdDeg, lossDB, 42)
	if len(im.Gain) != n || len(im.Phase) != n || im.InsertionLossDB != lossDB {
		t.Fatalf("NewImpairments: %d gains, %d phases, loss %g", len(im.Gain), len(im.Phase), im.InsertionLossDB)
	}
	gdb := make([]float64, n)
	for i, g := range im.Gain {
		gdb[i] = 20 * math.Log10(g)
	}
	phaseStd := phaseStdDeg * math.Pi / 180
	// With n samples of N(0, σ^2) the sample mean has std σ/√n and the sample variance has relative std
	// √(2/(n-1)); 4 of those (~6e-5 two-sided for a fixed seed) bound them.
	for _, tc := range []struct {
		name string
		x    []float64
		std  float64
	}{{"gain dB", gdb, gainStdDB}, {"phase", im.Phase, phaseStd}} {
		var mean, v float64
		for _, x := range tc.x {
			mean += x
		}
		mean /= n
		for _, x := range tc.x {
			v += (x - mean) * (x - mean)
		}
		v /= n - 1
		if math.Abs(mean) > 4*tc.std/math.Sqrt(n) {
			t.Errorf("%s: mean %g, want 0 ± %g", tc.name, mean, 4*tc.std/math.Sqrt(n))
		}
		if rel := math.Abs(v/(tc.std*tc.std) - 1); rel > 4*math.Sqrt(2.0/(n-1)) {
			t.Errorf("%s: variance %g, want %g within %g relative", tc.name, v, tc.std*tc.std, 4*math.Sqrt(2.0/(n-1)))
		}
	}
	// Element i is g_i e^{jδ_i} 10^{-IL/20}; a prefix of a larger draw with the same seed is the same.
	small := beamforming.NewImpairments(10, gainStdDB, phaseStdDeg, lossDB, 42)
	loss := math.Pow(10, -lossDB/20)
	for i := range 10 {
		e := im.Element(i)
		if small.Element(i) != e {
			t.Errorf("element %d: %v in a 10-element draw, %v in a %d-element one", i, small.Element(i), e, n)
		}
		// Relative 1e-14: a Pow, a Sincos and two products, each within an ulp or two.
		if d := cmplx.Abs(e - cmplx.Rect(im.Gain[i]*loss, im.Phase[i])); d > 1e-14*cmplx.Abs(e) {
			t.Errorf("element %d: %v, want %v", i, e, cmplx.Rect(im.Gain[i]*loss, im.Phase[i]))
		}
	}
	if other := beamforming.NewImpairments(10, gainStdDB, phaseStdDeg, lossDB, 43); other.Gain[0] == small.Gain[0] {
		t.Errorf("seeds 42 and 43 drew the same first gain %g", other.Gain[0])
	}
	// The zero value is ideal.
	var ideal beamforming.Impairments
	if e := ideal.Element(7); e != 1 {
		t.Errorf("zero Impairments: Element = %v, want 1", e)
	}
}
