package estimator

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/cctrack/cctrack/beamforming"
)

// Paper scales (DESIGN.md): P_tx = 45 dBm, σ² = -95 dBm.
const (
	paperPower = 31.622776601683793     // W
	paperNoise = 3.1622776601683794e-13 // W
)

// cn returns a CN(0, v) sample.
func cn(rng *rand.Rand, v float64) complex128 {
	s := math.Sqrt(v / 2)
	return complex(rng.NormFloat64()*s, rng.NormFloat64()*s)
}

func unitPhase(rng *rand.Rand) complex128 { return cmplx.Rect(1, 2*math.Pi*rng.Float64()) }

// randomDesign has phase-shifter weights with random phases, e^{jθ}/sqrt(N), and pilots
// sqrt(P) e^{jθ}.
func randomDesign(rng *rand.Rand, nb, nu, mb, mu int, p float64) beamforming.Design {
	d := beamforming.Design{NB: nb, NU: nu, MB: mb, MU: mu,
		W: make([]complex128, nb*mb), F: make([]complex128, nu*mu), S: make([]complex128, mu)}
	for i := range d.W {
		d.W[i] = unitPhase(rng) / complex(math.Sqrt(float64(nb)), 0)
	}
	for i := range d.F {
		d.F[i] = unitPhase(rng) / complex(math.Sqrt(float64(nu)), 0)
	}
	for i := range d.S {
		d.S[i] = unitPhase(rng) * complex(math.Sqrt(p), 0)
	}
	return d
}

// dft returns the n x n unitary DFT matrix, entries e^{-j2π ik/n}/sqrt(n): unit modulus over sqrt(n),
// as phase shifters allow.
func dft(n int) []complex128 {
	m := make([]complex128, n*n)
	for i := range n {
		for k := range n {
			m[i*n+k] = cmplx.Rect(1/math.Sqrt(float64(n)), -2*math.Pi*float64(i*k%n)/float64(n))
		}
	}
	return m
}

// orthogonalDesign has W and F unitary DFT matrices (M_B = N_B, M_U = N_U) and pilots sqrt(P),
// so that M^H M = P I.
func orthogonalDesign(nb, nu int, p float64) beamforming.Design {
	d := beamforming.Design{NB: nb, NU: nu, MB: nb, MU: nu, W: dft(nb), F: dft(nu), S: make([]complex128, nu)}
	for i := range d.S {
		d.S[i] = complex(math.Sqrt(p), 0)
	}
	return d
}

// observe returns Y = W^H H G + N (M_B x M_U), N i.i.d. CN(0, noise), straight from the definition.
func observe(rng *rand.Rand, d beamforming.Design, h []complex128, noise float64) []complex128 {
	g := d.G()
	y := make([]complex128, d.MB*d.MU)
	for b := range d.MB {
		for u := range d.MU {
			var s complex128
			for i := range d.NB {
				for k := range d.NU {
					s += cmplx.Conj(d.W[i*d.MB+b]) * h[i*d.NU+k] * g[k*d.MU+u]
				}
			}
			if noise > 0 {
				s += cn(rng, noise)
			}
			y[b*d.MU+u] = s
		}
	}
	return y
}

func iidChannel(rng *rand.Rand, n int, v float64) []complex128 {
	h := make([]complex128, n)
	for i := range h {
		h[i] = cn(rng, v)
	}
	return h
}

// expCorr returns the n x n exponential correlation matrix ρ^|i-j| and a lower Cholesky factor L
// (R = L L^T) for drawing samples.
func expCorr(n int, rho float64) (r, l *mat.Dense) {
	sym := mat.NewSymDense(n, nil)
	for i := range n {
		for j := i; j < n; j++ {
			sym.SetSym(i, j, math.Pow(rho, float64(j-i)))
		}
	}
	var chol mat.Cholesky
	if !chol.Factorize(sym) {
		panic("exponential correlation not positive definite")
	}
	var lt mat.TriDense
	chol.LTo(&lt)
	return mat.DenseCopyOf(sym), mat.DenseCopyOf(&lt)
}

// kronModel is the Kronecker exponential-correlation channel H = L_B Z L_U^T (Z i.i.d. CN(0, v)),
// whose vec(H) (columns stacked) has covariance v·(R_U ⊗ R_B).
type kronModel struct {
	nb, nu int
	v      float64
	rb, ru *mat.Dense
	lb, lu *mat.Dense
}

func newKronModel(nb, nu int, rhoB, rhoU, v float64) kronModel {
	rb, lb := expCorr(nb, rhoB)
	ru, lu := expCorr(nu, rhoU)
	return kronModel{nb: nb, nu: nu, v: v, rb: rb, ru: ru, lb: lb, lu: lu}
}

// covariance returns v·(R_U ⊗ R_B) in the vec ordering of Covariance.
func (m kronModel) covariance() Covariance {
	n := m.nb * m.nu
	r := make([]complex128, n*n)
	for k := range m.nu {
		for k2 := range m.nu {
			for i := range m.nb {
				for i2 := range m.nb {
					r[(i+m.nb*k)*n+i2+m.nb*k2] = complex(m.v*m.ru.At(k, k2)*m.rb.At(i, i2), 0)
				}
			}
		}
	}
	return Covariance{NB: m.nb, NU: m.nu, R: r}
}

func (m kronModel) sample(rng *rand.Rand) []complex128 {
	z := iidChannel(rng, m.nb*m.nu, m.v)
	h := make([]complex128, m.nb*m.nu)
	for i := range m.nb {
		for k := range m.nu {
			var s complex128
			for a := 0; a <= i; a++ {
				for c := 0; c <= k; c++ {
					s += complex(m.lb.At(i, a)*m.lu.At(k, c), 0) * z[a*m.nu+c]
				}
			}
			h[i*m.nu+k] = s
		}
	}
	return h
}

// pooled accumulates sum ||H - Ĥ||^2 and sum ||H||^2 over trials. Its ratio is the quantity
// theory predicts (tr(error covariance) / tr(R)); the mean of per-interval ratios differs from it
// by a bias of order 1/(N_B N_U).
type pooled struct{ err, sig float64 }

func (p *pooled) add(h, hhat []complex128) {
	for i, x := range h {
		d := x - hhat[i]
		p.err += real(d)*real(d) + imag(d)*imag(d)
		p.sig += real(x)*real(x) + imag(x)*imag(x)
	}
}

func (p pooled) nmse() float64 { return p.err / p.sig }

// iidTrials prepares e for d and returns the pooled error over trials i.i.d. unit-variance channels
// observed with noise power noise.
func iidTrials(t *testing.T, e Estimator, d beamforming.Design, rng *rand.Rand, trials int, noise float64) pooled {
	t.Helper()
	if err := e.Prepare(d, noise); err != nil {
		t.Fatal(err)
	}
	var acc pooled
	hhat := make([]complex128, d.NB*d.NU)
	for range trials {
		h := iidChannel(rng, d.NB*d.NU, 1)
		if err := e.Estimate(hhat, observe(rng, d, h, noise)); err != nil {
			t.Fatal(err)
		}
		acc.add(h, hhat)
	}
	return acc
}
