package estimator

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cctrack/cctrack/internal/cmat"
)

// Noiseless LS on a design with M_B >= N_B, M_U >= N_U recovers H up to round-off, at the paper's
// scales (channel entries ~1e-6, P = 31.6 W) as well as at unit scale.
func TestLSExactWithoutNoise(t *testing.T) {
	for _, tc := range []struct {
		name           string
		nb, nu, mb, mu int
		p, hv          float64
	}{
		{"square unit scale", 16, 4, 16, 4, 1, 1},
		{"tall paper scale", 16, 4, 24, 6, paperPower, 1e-12},
		{"10x10 2x2 full", 100, 4, 120, 4, paperPower, 1e-11},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, uint64(tc.nb*tc.mb)))
			d := randomDesign(rng, tc.nb, tc.nu, tc.mb, tc.mu, tc.p)
			e := NewLS()
			if err := e.Prepare(d, 0); err != nil {
				t.Fatal(err)
			}
			h := iidChannel(rng, tc.nb*tc.nu, tc.hv)
			hhat := make([]complex128, len(h))
			if err := e.Estimate(hhat, observe(rng, d, h, 0)); err != nil {
				t.Fatal(err)
			}
			// Relative error ≈ cond(W)·cond(G)·ε; random phase-shifter matrices of these sizes
			// have condition numbers below ~1e3, so the NMSE is below ~1e-24; 1e-20 leaves margin.
			if nmse := NMSE(h, hhat); nmse > 1e-20 {
				t.Errorf("NMSE %g > 1e-20", nmse)
			}
		})
	}
}

// With an orthogonal design (M^H M = P I) and i.i.d. unit-variance H, the LS error is
// pinv(M) n = M^H n / P, i.i.d. CN(0, σ²/P): the NMSE is σ²/P, i.e. -SNR in dB.
func TestLSNMSEIsMinusSNR(t *testing.T) {
	const nb, nu, trials = 16, 4, 500
	n := float64(nb * nu * trials)
	// Both pooled sums are Gamma sums of n unit-variance terms, relative std 1/sqrt(n) each and
	// independent here (the error depends on N only), so the ratio has a relative std of
	// sqrt(2/n) ≈ 0.8 %; 4 standard deviations.
	tol := 4 * math.Sqrt(2/n)
	for _, snrDB := range []float64{0, 10, 30} {
		rng := rand.New(rand.NewPCG(12, uint64(snrDB)))
		noise := paperNoise
		p := noise * math.Pow(10, snrDB/10)
		d := orthogonalDesign(nb, nu, p)
		acc := iidTrials(t, NewLS(), d, rng, trials, noise)
		want := noise / p
		got := acc.nmse()
		t.Logf("SNR %g dB: NMSE %.3f dB", snrDB, DB(got))
		if math.Abs(got/want-1) > tol {
			t.Errorf("SNR %g dB: NMSE %.2f dB, want %.2f dB (relative tolerance %.3f)", snrDB, DB(got), DB(want), tol)
		}
	}
}

// The Kronecker form pinv(W^H) Y pinv(G) equals the dense pinv(M) vec(Y), M = G^T ⊗ W^H, whether
// the design is over- or underdetermined (pinv(A ⊗ B) = pinv(A) ⊗ pinv(B) holds for any A, B).
func TestLSKroneckerEqualsDense(t *testing.T) {
	for _, tc := range []struct {
		name           string
		nb, nu, mb, mu int
	}{
		{"overdetermined", 6, 2, 8, 3},
		{"underdetermined", 9, 4, 5, 2},
		{"mixed", 4, 4, 7, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(13, uint64(tc.nb)))
			d := randomDesign(rng, tc.nb, tc.nu, tc.mb, tc.mu, paperPower)
			h := iidChannel(rng, tc.nb*tc.nu, 1e-11)
			y := observe(rng, d, h, paperNoise)
			e := NewLS()
			if err := e.Prepare(d, paperNoise); err != nil {
				t.Fatal(err)
			}
			got := make([]complex128, len(h))
			if err := e.Estimate(got, y); err != nil {
				t.Fatal(err)
			}
			ny, nh := tc.mb*tc.mu, tc.nb*tc.nu
			pm := make([]complex128, nh*ny)
			if err := cmat.Pinv(pm, d.Measurement(), ny, nh); err != nil {
				t.Fatal(err)
			}
			vy := make([]complex128, ny)
			for b := range tc.mb {
				for u := range tc.mu {
					vy[b+tc.mb*u] = y[b*tc.mu+u]
				}
			}
			want := make([]complex128, nh)
			for i := range tc.nb {
				for k := range tc.nu {
					var s complex128
					for q, v := range vy {
						s += pm[(i+tc.nb*k)*ny+q] * v
					}
					want[i*tc.nu+k] = s
				}
			}
			// Both are backward-stable pseudo-inverse products of well-conditioned factors; they
			// agree to ~1e-14 relative, 1e-10 (as NMSE 1e-20) leaves a wide margin.
			if diff := NMSE(want, got); diff > 1e-20 {
				t.Errorf("||dense - Kronecker||^2 / ||dense||^2 = %g > 1e-20", diff)
			}
		})
	}
}
