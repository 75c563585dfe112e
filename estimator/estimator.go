// Package estimator turns one coherence interval's pilot observation Y into a channel estimate Ĥ.
//
// Y = W^H H G + N (M_B x M_U), G = F S, H is N_B x N_U; every matrix is row-major (see package
// beamforming). Estimators precompute everything that depends only on the design and statistics in
// Prepare, so that Estimate costs a few matrix-vector products.
package estimator

import (
	"math"

	"github.com/cctrack/cctrack/beamforming"
)

// Estimator estimates H from one interval's Y. An Estimator is used by one goroutine at a time.
type Estimator interface {
	// Name is the short name used in configs and telemetry ("ls", "lmmse", "omp").
	Name() string
	// Prepare precomputes for the design d and noise power sigma^2 (W per entry of N). It is called
	// before the first Estimate and whenever the design changes.
	Prepare(d beamforming.Design, noise float64) error
	// Estimate writes Ĥ (N_B x N_U) into dst from y (M_B x M_U).
	Estimate(dst, y []complex128) error
}

// Tracker is an Estimator that keeps state across consecutive intervals (the latent LSTM tracker).
// Reset forgets that state, at the start of a run or after a gap in the interval sequence.
type Tracker interface {
	Estimator
	Reset()
}

// NMSE is the normalised squared error of one interval, ||H - Ĥ||_F^2 / ||H||_F^2 (linear). It is the
// one definition used everywhere: logs, telemetry, tables and plots report 10·log10 of it per
// interval, and a run's mean as 10·log10 of the mean of the linear values (see Mean).
func NMSE(h, hhat []complex128) float64 {
	if len(h) != len(hhat) {
		panic("estimator: NMSE of different sizes")
	}
	var num, den float64
	for i, x := range h {
		d := x - hhat[i]
		num += real(d)*real(d) + imag(d)*imag(d)
		den += real(x)*real(x) + imag(x)*imag(x)
	}
	return num / den
}

// DB is 10·log10(x).
func DB(x float64) float64 { return 10 * math.Log10(x) }

// Mean accumulates per-interval linear NMSE values; its DB is the run's mean NMSE in dB.
type Mean struct {
	Sum float64
	N   int
}

// Add records one interval's linear NMSE.
func (m *Mean) Add(nmse float64) { m.Sum += nmse; m.N++ }

// DB is 10·log10(mean of the linear NMSE values); NaN before the first Add.
func (m Mean) DB() float64 {
	if m.N == 0 {
		return math.NaN()
	}
	return DB(m.Sum / float64(m.N))
}
