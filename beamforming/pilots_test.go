package beamforming_test

import (
	"math"
	"math/cmplx"
	"testing"

	"github.com/cctrack/cctrack/beamforming"
)

func TestPilots(t *testing.T) {
	for _, tc := range []struct {
		m     int
		p     float64
		prime bool
	}{{1, 1, false}, {4, 0.5, false}, {3, 31.6, true}, {7, 1, true}, {13, 2, true}, {31, 1e-3, true}, {97, 10, true}} {
		s := beamforming.Pilots(tc.m, tc.p)
		if len(s) != tc.m {
			t.Fatalf("Pilots(%d): %d symbols", tc.m, len(s))
		}
		// Constant amplitude: |s_j|^2 = p to a few ulps (one Sqrt, one Sincos, products).
		for j, x := range s {
			if pw := real(x)*real(x) + imag(x)*imag(x); math.Abs(pw-tc.p) > 1e-14*tc.p {
				t.Errorf("m %d: |s_%d|^2 = %g, want %g", tc.m, j, pw, tc.p)
			}
		}
		if !tc.prime {
			continue
		}
		// Zero cyclic autocorrelation for an odd prime length: r(τ) = Σ_j s_j conj(s_{j+τ mod m}) is m·p at
		// τ = 0 and 0 elsewhere. The m terms have size p, each rounded to ~1e-16 relative, so 1e-13·m·p
		// is a generous bound on the sum's error and still ~1e-13 of the peak.
		for tau := range tc.m {
			var r complex128
			for j := range tc.m {
				r += s[j] * cmplx.Conj(s[(j+tau)%tc.m])
			}
			want := 0.0
			if tau == 0 {
				want = float64(tc.m) * tc.p
			}
			if d := cmplx.Abs(r - complex(want, 0)); d > 1e-13*float64(tc.m)*tc.p {
				t.Errorf("m %d: r(%d) = %v, want %g", tc.m, tau, r, want)
			}
		}
	}
}
