package calibration

import (
	"context"
	"fmt"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/internal/cmat"
	"gonum.org/v1/gonum/blas"
)

// pilot runs the pilot-based method (package documentation) and returns e (N).
func pilot(ctx context.Context, p *prober) ([]complex128, error) {
	s := p.s
	n := s.Array.N()
	kind := beamforming.KindDFT
	if beamforming.MaxBeams(beamforming.KindHadamard, n) == n {
		kind = beamforming.KindHadamard
	}
	codes, err := beamforming.Codebook(kind, s.Array.Nh, s.Array.Nv, n, s.PhaseShifter, 0)
	if err != nil {
		return nil, err
	}
	if err := p.program(ctx, codes); err != nil {
		return nil, err
	}
	y := make([]complex128, n)
	sum := make([]complex128, n)
	for range s.Averages {
		if err := p.capture(ctx, y); err != nil {
			return nil, err
		}
		cmat.Axpy(1, y, sum)
	}
	for i := range sum {
		sum[i] /= complex(float64(s.Averages), 0)
	}
	// ỹ = V^T x: the normal equations (V^* V^T) x = V^* ỹ, V^* V^T Hermitian positive definite for a
	// full-rank probing set.
	v := make([]complex128, n*n)
	codes.Weights(s.PhaseShifter, nil, v)
	vc := make([]complex128, n*n)
	for i, x := range v {
		vc[i] = complex(real(x), -imag(x))
	}
	gram := make([]complex128, n*n)
	cmat.Mul(gram, blas.NoTrans, vc, n, n, blas.Trans, v, n, n)
	rhs := make([]complex128, n)
	cmat.MulVec(rhs, blas.NoTrans, vc, n, n, sum)
	x := make([]complex128, n)
	if err := cmat.SolveHPD(x, gram, n, rhs, 1); err != nil {
		return nil, fmt.Errorf("the %s probing beams at %d bits are not full rank: %w", kind, s.PhaseShifter.Bits, err)
	}
	for i := range x {
		x[i] /= p.rho[i]
	}
	return x, nil
}
