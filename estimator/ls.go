package estimator

import (
	"fmt"

	"gonum.org/v1/gonum/blas"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/internal/cmat"
)

// LS is the minimum-norm least-squares estimator
//
//	vec(Ĥ) = pinv(M) vec(Y),  M = G^T ⊗ W^H,
//
// computed through the Kronecker structure, pinv(G^T ⊗ W^H) = pinv(G^T) ⊗ pinv(W^H), as
//
//	Ĥ = pinv(W^H) Y pinv(G)   ((N_B x M_B)(M_B x M_U)(M_U x N_U)).
//
// Both pseudo-inverses are computed once in Prepare (SVD, rank cut relative to the largest singular
// value). With M_B >= N_B, M_U >= N_U and W, G of full rank it is the unbiased LS solution
// (Ĥ = H + pinv(W^H) N pinv(G)); otherwise it is the minimum-norm H that fits Y in the LS sense,
// which drops the part of H that the design does not observe. It uses no noise or channel statistics.
type LS struct {
	nb, nu, mb, mu int
	pwt            []complex128 // pinv(W^H)^T, M_B x N_B
	pg             []complex128 // pinv(G), M_U x N_U
	gy             []complex128 // scratch (Y pinv(G))^T, N_U x M_B
	ht             []complex128 // scratch Ĥ^T, N_U x N_B
}

// NewLS returns an LS estimator; call Prepare before Estimate.
func NewLS() *LS { return &LS{} }

// Name is "ls".
func (*LS) Name() string { return "ls" }

// Prepare computes pinv(W^H) and pinv(G) for d; noise is only checked (LS does not use it).
func (e *LS) Prepare(d beamforming.Design, noise float64) error {
	*e = LS{} // a failed Prepare leaves the estimator unprepared, not on the previous design
	d.Validate()
	if err := checkNoise(e.Name(), noise); err != nil {
		return err
	}
	// pinv(W^H) = pinv(W)^H, so factorise W as stored.
	pinvW := make([]complex128, d.MB*d.NB)
	if err := cmat.Pinv(pinvW, d.W, d.NB, d.MB); err != nil {
		return fmt.Errorf("estimator ls: prepare: pinv(W): %w", err)
	}
	// pinv(W^H)^T = conj(pinv(W)).
	for i, v := range pinvW {
		pinvW[i] = complex(real(v), -imag(v))
	}
	pg := make([]complex128, d.MU*d.NU)
	if err := cmat.Pinv(pg, d.G(), d.NU, d.MU); err != nil {
		return fmt.Errorf("estimator ls: prepare: pinv(G): %w", err)
	}
	*e = LS{nb: d.NB, nu: d.NU, mb: d.MB, mu: d.MU, pwt: pinvW, pg: pg,
		gy: make([]complex128, d.NU*d.MB), ht: make([]complex128, d.NU*d.NB)}
	return nil
}

// Estimate writes Ĥ = pinv(W^H) (Y pinv(G)) into dst. The right product first is the cheaper
// order (M_B M_U N_U + N_B M_B N_U multiplications instead of N_B M_B M_U + N_B M_U N_U); the left
// one runs column by column of Ĥ, each an N_B-long vector update per observation row.
func (e *LS) Estimate(dst, y []complex128) error {
	if err := checkIO(e.Name(), e.pwt != nil, dst, y, e.nb*e.nu, e.mb*e.mu); err != nil {
		return err
	}
	cmat.Mul(e.gy, blas.Trans, e.pg, e.mu, e.nu, blas.Trans, y, e.mb, e.mu)
	for k := range e.nu {
		cmat.MulVec(e.ht[k*e.nb:(k+1)*e.nb], blas.Trans, e.pwt, e.mb, e.nb, e.gy[k*e.mb:(k+1)*e.mb])
	}
	for k := range e.nu {
		for i, v := range e.ht[k*e.nb : (k+1)*e.nb] {
			dst[i*e.nu+k] = v
		}
	}
	return nil
}

var _ Estimator = (*LS)(nil)
