package beamforming_test

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"github.com/cctrack/cctrack/beamforming"
)

func randComplex(rng *rand.Rand, n int) []complex128 {
	x := make([]complex128, n)
	for i := range x {
		x[i] = complex(rng.NormFloat64(), rng.NormFloat64())
	}
	return x
}

func randomDesign(rng *rand.Rand, nb, nu, mb, mu int) beamforming.Design {
	return beamforming.Design{NB: nb, NU: nu, MB: mb, MU: mu,
		W: randComplex(rng, nb*mb), F: randComplex(rng, nu*mu), S: randComplex(rng, mu)}
}

// TestMeasurement checks vec(W^H H G) = Measurement()·vec(H), vec stacking columns. Both sides sum
// N_B·N_U products of O(1) Gaussians in different orders; 1e-12 of ||vec Y|| is far above that
// rounding (~1e-15·N_B·N_U) and far below any misplaced entry.
func TestMeasurement(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sz := range []struct{ nb, nu, mb, mu int }{{1, 1, 1, 1}, {6, 3, 4, 2}, {16, 4, 5, 3}, {9, 2, 9, 2}} {
		d := randomDesign(rng, sz.nb, sz.nu, sz.mb, sz.mu)
		h := randComplex(rng, sz.nb*sz.nu)
		g := d.G()
		// Y = W^H H G directly (M_B x M_U).
		y := make([]complex128, sz.mb*sz.mu)
		for b := range sz.mb {
			for u := range sz.mu {
				var acc complex128
				for i := range sz.nb {
					for k := range sz.nu {
						acc += cmplx.Conj(d.W[i*sz.mb+b]) * h[i*sz.nu+k] * g[k*sz.mu+u]
					}
				}
				y[b*sz.mu+u] = acc
			}
		}
		vecH := make([]complex128, sz.nb*sz.nu)
		for i := range sz.nb {
			for k := range sz.nu {
				vecH[i+sz.nb*k] = h[i*sz.nu+k]
			}
		}
		m := d.Measurement()
		cols := sz.nb * sz.nu
		var num, den float64
		for b := range sz.mb {
			for u := range sz.mu {
				r := b + sz.mb*u
				var mh complex128
				for c, x := range vecH {
					mh += m[r*cols+c] * x
				}
				diff := mh - y[b*sz.mu+u]
				num += real(diff)*real(diff) + imag(diff)*imag(diff)
				den += real(mh)*real(mh) + imag(mh)*imag(mh)
			}
		}
		if rel := math.Sqrt(num / den); rel > 1e-12 {
			t.Errorf("%+v: ||M vec H - vec Y|| / ||vec Y|| = %g > 1e-12", sz, rel)
		}
	}
}

func BenchmarkMeasurement(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sz := range []struct{ nb, nu, mb, mu int }{{100, 4, 24, 4}, {400, 4, 24, 4}} {
		d := randomDesign(rng, sz.nb, sz.nu, sz.mb, sz.mu)
		b.Run(fmt.Sprintf("NB%d_NU%d_MB%d_MU%d", sz.nb, sz.nu, sz.mb, sz.mu), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d.Measurement()
			}
		})
	}
}
