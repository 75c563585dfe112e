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
	pw             []complex128 // pinv(W^H), N_B x M_B
	pg             []complex128 // pinv(G), M_U x N_U
	yg             []complex128 // scratch Y pinv(G), M_B x N_U
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
	pw := make([]complex128, d.NB*d.MB)
	cmat.ConjTranspose(pw, pinvW, d.MB, d.NB)
	pg := make([]complex128, d.MU*d.NU)
	if err := cmat.Pinv(pg, d.G(), d.NU, d.MU); err != nil {
		return fmt.Errorf("estimator ls: prepare: pinv(G): %w", err)
	}
	*e = LS{nb: d.NB, nu: d.NU, mb: d.MB, mu: d.MU, pw: pw, pg: pg, yg: make([]complex128, d.MB*d.NU)}
	return nil
}

// Estimate writes Ĥ = pinv(W^H) (Y pinv(G)) into dst; the right product first is the cheaper order
// (M_B M_U N_U + N_B M_B N_U multiplications instead of N_B M_B M_U + N_B M_U N_U).
func (e *LS) Estimate(dst, y []complex128) error {
	if err := checkIO(e.Name(), e.pw != nil, dst, y, e.nb*e.nu, e.mb*e.mu); err != nil {
		return err
	}
	cmat.Mul(e.yg, blas.NoTrans, y, e.mb, e.mu, blas.NoTrans, e.pg, e.mu, e.nu)
	cmat.Mul(dst, blas.NoTrans, e.pw, e.nb, e.mb, blas.NoTrans, e.yg, e.mb, e.nu)
	return nil
}

var _ Estimator = (*LS)(nil)
