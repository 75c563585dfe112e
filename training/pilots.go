package training

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/cctrack/cctrack/beamforming"
)

// norm is the fixed normalisation of a tracker's inputs and targets, computed once on the training
// data and stored in the checkpoint, so that training and inference use the same one.
//
// Input (both trackers): with y the interval's Y (M_B x M_U, row-major) and r = ||Y||_F,
//
//	x = [Re y_0 .. Re y_{M-1}, Im y_0 .. Im y_{M-1}] · sqrt(M)/r,  x_{2M} = (ln r - LogGainMean)/LogGainStd
//
// (M = M_B M_U): the pilots' shape on a unit scale plus one feature for the received level, since
// channel gains span orders of magnitude over a scene and a fixed scale would leave most inputs at
// 1e-3 or 1e3. sqrt(P_tx) needs no separate division: it scales r.
//
// Targets: the latent tracker predicts (ln alpha - LogAlphaMean)/LogAlphaStd and likewise ln beta
// (alpha, beta of eq. 5 are positive and span orders of magnitude); the end-to-end tracker predicts
// [Re h; Im h]·HScale/r (h row-major), HScale making those targets unit-RMS on the training data.
type norm struct {
	LogGainMean  float64 `json:"log_gain_mean"`
	LogGainStd   float64 `json:"log_gain_std"`
	LogAlphaMean float64 `json:"log_alpha_mean,omitempty"`
	LogAlphaStd  float64 `json:"log_alpha_std,omitempty"`
	LogBetaMean  float64 `json:"log_beta_mean,omitempty"`
	LogBetaStd   float64 `json:"log_beta_std,omitempty"`
	HScale       float64 `json:"h_scale,omitempty"`
	// LatentMean (per dimension) and LatentScale (the RMS over dimensions of the per-dimension
	// standard deviations) of the tracker's latent targets: g2's output u becomes
	// ŝ = LatentMean + LatentScale·u, so that an output layer that starts near zero with unit-size
	// steps reaches latents of any size (the memorising autoencoders' are ~100 apart) in a few
	// Adam steps; the loss stays eq. 12 in the latent's own units. Absent (checkpoints written
	// before it): ŝ = u.
	LatentMean  []float64 `json:"latent_mean,omitempty"`
	LatentScale float64   `json:"latent_scale,omitempty"`
}

// check rejects a normalisation that would make inputs or outputs non-finite (a corrupt checkpoint).
func (n *norm) check(kind string) error {
	ok := func(mean, std float64) bool {
		return !math.IsNaN(mean) && !math.IsInf(mean, 0) && std > 0 && !math.IsInf(std, 0)
	}
	good := ok(n.LogGainMean, n.LogGainStd)
	switch kind {
	case kindTracker:
		good = good && ok(n.LogAlphaMean, n.LogAlphaStd) && ok(n.LogBetaMean, n.LogBetaStd)
		for _, m := range n.LatentMean { // absent in checkpoints written before it
			good = good && ok(m, n.LatentScale)
		}
	case kindE2E:
		good = good && n.HScale > 0 && !math.IsInf(n.HScale, 0)
	}
	if !good {
		return fmt.Errorf("normalisation %+v is not finite with positive spreads", *n)
	}
	return nil
}

// pilotModel forms Y = W^H H G + N (G = F S) for a design, as radio/simradio does with nominal weights.
type pilotModel struct {
	d     beamforming.Design
	wH    []complex128 // conj(W), N_B x M_B
	g     []complex128 // F S, N_U x M_U
	hg    []complex128 // scratch H G, N_B x M_U
	noise float64
}

func newPilotModel(s Setup) *pilotModel {
	d := s.Design
	d.Validate()
	wH := make([]complex128, len(d.W))
	for i, w := range d.W {
		wH[i] = complex(real(w), -imag(w))
	}
	return &pilotModel{d: d, wH: wH, g: d.G(), hg: make([]complex128, d.NB*d.MU), noise: s.Noise}
}

// obs is M_B M_U, the number of complex observations per interval.
func (p *pilotModel) obs() int { return p.d.MB * p.d.MU }

// clean writes W^H H G (M_B x M_U, row-major) into y.
func (p *pilotModel) clean(h, y []complex128) {
	nb, nu, mb, mu := p.d.NB, p.d.NU, p.d.MB, p.d.MU
	for i := range nb {
		out := p.hg[i*mu : (i+1)*mu]
		clear(out)
		for k, x := range h[i*nu : (i+1)*nu] {
			for j, gk := range p.g[k*mu : (k+1)*mu] {
				out[j] += x * gk
			}
		}
	}
	clear(y)
	for i := range nb {
		hgi := p.hg[i*mu : (i+1)*mu]
		for b, w := range p.wH[i*mb : (i+1)*mb] {
			yb := y[b*mu : (b+1)*mu]
			for j, x := range hgi {
				yb[j] += w * x
			}
		}
	}
}

// addNoise writes y0 + N into y, N i.i.d. CN(0, sigma^2).
func (p *pilotModel) addNoise(rng *rand.Rand, y0, y []complex128) {
	sd := math.Sqrt(p.noise / 2)
	for i, x := range y0 {
		y[i] = x + complex(sd*rng.NormFloat64(), sd*rng.NormFloat64())
	}
}

// features writes the normalised input x (2 len(y) + 1 entries, see norm) and returns r = ||y||.
func (n *norm) features(y []complex128, x []float32) float64 {
	var r2 float64
	for _, v := range y {
		r2 += real(v)*real(v) + imag(v)*imag(v)
	}
	r := math.Sqrt(r2)
	m := len(y)
	s := 0.0
	if r > 0 {
		s = math.Sqrt(float64(m)) / r
	}
	for i, v := range y {
		x[i], x[m+i] = float32(real(v)*s), float32(imag(v)*s)
	}
	x[2*m] = float32((math.Log(math.Max(r, math.SmallestNonzeroFloat64)) - n.LogGainMean) / n.LogGainStd)
	return r
}

// meanStd is the mean and the (population) standard deviation of xs, the latter floored at 1e-6 so
// that a constant feature still normalises to finite values.
func meanStd(xs []float64) (mean, std float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		std += (x - mean) * (x - mean)
	}
	return mean, math.Max(math.Sqrt(std/float64(len(xs))), 1e-6)
}
