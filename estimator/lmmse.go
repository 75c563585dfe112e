package estimator

import (
	"errors"
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/internal/cmat"
)

// Covariance is the channel covariance R = E[h h^H] of h = vec(H), vec stacking the columns of H as
// in DESIGN.md and beamforming.Design.Measurement: entry i + N_B·k of h is H[i][k]. R is
// (N_B N_U) x (N_B N_U), row-major and Hermitian.
type Covariance struct {
	NB, NU int
	R      []complex128
}

// covChunk is how many samples EstimateCovariance stacks per Hermitian rank-k update: enough for
// the update to run as long dot products, few enough to bound the scratch (N_B N_U x covChunk).
const covChunk = 256

// EstimateCovariance returns the sample covariance R = (1/T) sum_t h_t h_t^H of T channel samples,
// h_t = vec(H_t), each H_t an nb x nu row-major matrix. The mean is not removed: channels are
// zero-mean (uniform carrier phase), and R is the second moment that LMMSE needs. With fewer
// samples than N_B N_U, R is singular; LMMSE still works because σ² I regularises its inverse.
func EstimateCovariance(nb, nu int, samples [][]complex128) (Covariance, error) {
	if nb <= 0 || nu <= 0 {
		return Covariance{}, fmt.Errorf("estimator: estimate covariance: sizes %d x %d, want positive", nb, nu)
	}
	if len(samples) == 0 {
		return Covariance{}, errors.New("estimator: estimate covariance: no samples")
	}
	n := nb * nu
	for t, s := range samples {
		if len(s) != n {
			return Covariance{}, fmt.Errorf("estimator: estimate covariance: sample %d has %d entries, want %d x %d = %d", t, len(s), nb, nu, n)
		}
	}
	// Stack a chunk of samples as the columns of A (n x c), A[i+nb*k][t] = H_t[i][k], and
	// accumulate the upper triangle of A A^H.
	r := make([]complex128, n*n)
	chunk := min(len(samples), covChunk)
	a := make([]complex128, n*chunk)
	var impl gonum.Implementation
	for start := 0; start < len(samples); start += chunk {
		c := min(chunk, len(samples)-start)
		for t, s := range samples[start : start+c] {
			for i := range nb {
				for k := range nu {
					a[(i+nb*k)*c+t] = s[i*nu+k]
				}
			}
		}
		impl.Zherk(blas.Upper, blas.NoTrans, n, c, 1, a[:n*c], c, 1, r, n)
	}
	inv := 1 / float64(len(samples))
	for i := range n {
		r[i*n+i] = complex(real(r[i*n+i])*inv, 0)
		for j := i + 1; j < n; j++ {
			v := r[i*n+j] * complex(inv, 0)
			r[i*n+j] = v
			r[j*n+i] = complex(real(v), -imag(v))
		}
	}
	return Covariance{NB: nb, NU: nu, R: r}, nil
}

// LMMSE is the linear minimum-mean-square-error estimator for a zero-mean channel with covariance R:
//
//	ĥ = K y,  K = R M^H (M R M^H + σ² I)^{-1},  M = G^T ⊗ W^H,
//
// with h = vec(H), y = vec(Y) (columns stacked). K is computed once in Prepare, through a Cholesky
// factorisation of the Hermitian positive-definite M R M^H + σ² I; its rows and columns are then
// permuted so that it maps Y as stored (row-major) to Ĥ as stored, and Estimate is one
// matrix-vector product of (N_B N_U) x (M_B M_U), bound by reading K from memory.
type LMMSE struct {
	cov    Covariance
	nh, ny int          // N_B N_U and M_B M_U
	k      []complex128 // K^T permuted to row-major Y and Ĥ, ny x nh: Ĥ is ny long vector updates
}

// NewLMMSE returns an LMMSE estimator for channels with covariance cov; call Prepare before
// Estimate. cov is kept, not copied.
func NewLMMSE(cov Covariance) *LMMSE { return &LMMSE{cov: cov} }

// Name is "lmmse".
func (*LMMSE) Name() string { return "lmmse" }

// Prepare computes K for d and noise power σ² = noise. It returns an error if the covariance does
// not match the design's array sizes or if M R M^H + σ² I is not numerically positive definite
// (σ² = 0 with a rank-deficient R, for instance).
func (e *LMMSE) Prepare(d beamforming.Design, noise float64) error {
	e.k = nil // a failed Prepare leaves the estimator unprepared, not on the previous design
	d.Validate()
	if err := checkNoise(e.Name(), noise); err != nil {
		return err
	}
	c := e.cov
	nh, ny := d.NB*d.NU, d.MB*d.MU
	if c.NB != d.NB || c.NU != d.NU || len(c.R) != nh*nh {
		return fmt.Errorf("estimator lmmse: prepare: covariance is for %d x %d antennas with %d entries, design has N_B x N_U = %d x %d (want %d entries)",
			c.NB, c.NU, len(c.R), d.NB, d.NU, nh*nh)
	}
	// M R and M R M^H = M (M R)^H through the Kronecker structure of M.
	wh := make([]complex128, d.MB*d.NB)
	cmat.ConjTranspose(wh, d.W, d.NB, d.MB)
	g := d.G()
	mr := mulM(d, wh, g, c.R, nh)
	rmh := make([]complex128, nh*ny)
	cmat.ConjTranspose(rmh, mr, ny, nh)
	a := mulM(d, wh, g, rmh, ny)
	for i := range ny {
		a[i*ny+i] += complex(noise, 0)
	}
	// K^H = (M R M^H + σ² I)^{-1} M R, both factors being Hermitian.
	kh := make([]complex128, ny*nh)
	if err := cmat.SolveHPD(kh, a, ny, mr, nh); err != nil {
		return fmt.Errorf("estimator lmmse: prepare: M R M^H + σ² I: %w", err)
	}
	// Row i*N_U+k of the stored K is vec index i+N_B*k; column b*M_U+u is vec index b+M_B*u.
	k := make([]complex128, ny*nh)
	for b := range d.MB {
		for u := range d.MU {
			row := k[(b*d.MU+u)*nh:][:nh]
			src := kh[(b+d.MB*u)*nh:][:nh]
			for i := range d.NB {
				for kk := range d.NU {
					v := src[i+d.NB*kk]
					row[i*d.NU+kk] = complex(real(v), -imag(v))
				}
			}
		}
	}
	e.nh, e.ny, e.k = nh, ny, k
	return nil
}

// mulM returns M X ((M_B M_U) x r) for X ((N_B N_U) x r, row-major), M = G^T ⊗ W^H, without
// forming M. Rows i + N_B k (i < N_B) of X form a contiguous block X_k, and
//
//	(M X)[b + M_B u] = sum_k G[k][u] (W^H X_k)[b],
//
// so the work is N_U products (M_B x N_B)(N_B x r) plus M_B M_U N_U row updates: N_B N_U M_B r
// multiplications instead of the dense N_B N_U M_B M_U r. wh is W^H (M_B x N_B).
func mulM(d beamforming.Design, wh, g, x []complex128, r int) []complex128 {
	out := make([]complex128, d.MB*d.MU*r)
	p := make([]complex128, d.MB*r)
	for k := range d.NU {
		cmat.Mul(p, blas.NoTrans, wh, d.MB, d.NB, blas.NoTrans, x[k*d.NB*r:(k+1)*d.NB*r], d.NB, r)
		for u := range d.MU {
			for b := range d.MB {
				cmat.Axpy(g[k*d.MU+u], p[b*r:(b+1)*r], out[(b+d.MB*u)*r:(b+d.MB*u+1)*r])
			}
		}
	}
	return out
}

// Estimate writes Ĥ = K y into dst.
func (e *LMMSE) Estimate(dst, y []complex128) error {
	if err := checkIO(e.Name(), e.k != nil, dst, y, e.nh, e.ny); err != nil {
		return err
	}
	cmat.MulVec(dst, blas.Trans, e.k, e.ny, e.nh, y)
	return nil
}

var _ Estimator = (*LMMSE)(nil)
