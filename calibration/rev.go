package calibration

import (
	"context"
	"fmt"
	"math"
	"math/cmplx"

	"github.com/cctrack/cctrack/beamforming"
)

// rev runs the rotating-element method (package documentation) and returns e (N).
func rev(ctx context.Context, p *prober) ([]complex128, error) {
	s := p.s
	n, ps := s.Array.N(), s.PhaseShifter
	l := ps.Levels()
	mask := uint16(l - 1)
	c0 := make([]uint16, n)
	for i, r := range p.rho {
		c0[i] = ps.Code(-cmplx.Phase(r))
	}
	// e^{-jΔ_k} for the fit.
	rot := make([]complex128, l)
	for k := range l {
		rot[k] = cmplx.Rect(1, -ps.Phase(uint16(k)))
	}
	codes := beamforming.Codes{N: n, M: l, Code: make([]uint16, n*l)}
	y := make([]complex128, l)
	pow := make([]float64, l)
	z := make([]complex128, n) // x_n / E₀
	var e0 float64             // Σ |E₀| over the fits
	var ref complex128         // Σ ỹ of the reference state (slot 0 of every capture)
	noise := s.Noise / s.TxPower
	for el := range n {
		for i := range n {
			row := codes.Code[i*l:][:l]
			for k := range row {
				row[k] = c0[i]
				if i == el {
					row[k] = (c0[i] + uint16(k)) & mask
				}
			}
		}
		if err := p.program(ctx, codes); err != nil {
			return nil, fmt.Errorf("element %d: %w", el, err)
		}
		clear(pow)
		for range s.Averages {
			if err := p.capture(ctx, y); err != nil {
				return nil, fmt.Errorf("element %d: %w", el, err)
			}
			ref += y[0]
			for k, v := range y {
				pow[k] += real(v)*real(v) + imag(v)*imag(v)
			}
		}
		var c float64
		var zf complex128
		for k := range pow {
			pk := pow[k]/float64(s.Averages) - noise
			c += pk
			zf += complex(pk, 0) * rot[k]
		}
		c /= float64(l)
		zf *= complex(2/float64(l), 0)
		ratio := cmplx.Abs(zf) / c
		if !(ratio > 0 && ratio < 1) {
			return nil, fmt.Errorf("element %d: sinusoid amplitude/mean %.3g outside (0, 1): %w", el, ratio, errWeak)
		}
		gamma := (1 - math.Sqrt(1-ratio*ratio)) / ratio
		g := cmplx.Rect(gamma, cmplx.Phase(zf))
		z[el] = g / (1 + g)
		a := 1 + g
		e0 += math.Sqrt(cmplx.Abs(zf) * (real(a)*real(a) + imag(a)*imag(a)) / (2 * gamma))
	}
	// E₀: the reference state's mean observation, or with powers alone its fitted magnitude.
	common := ref / complex(float64(n*s.Averages), 0)
	if s.PowerOnly {
		common = complex(e0/float64(n), 0)
	}
	e := make([]complex128, n)
	sqrtN := complex(math.Sqrt(float64(n)), 0)
	var mean complex128
	for i := range n {
		e[i] = z[i] * common * sqrtN / (cmplx.Rect(1, ps.Phase(c0[i])) * p.rho[i])
		mean += e[i] / complex(cmplx.Abs(e[i]), 0)
	}
	if s.PowerOnly {
		// The common phase is unobservable: choose it so that the phase errors' circular mean is 0.
		turn := cmplx.Conj(mean) / complex(cmplx.Abs(mean), 0)
		for i := range e {
			e[i] *= turn
		}
	}
	return e, nil
}
