package training

import (
	"io"
	"log/slog"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"github.com/cctrack/cctrack/estimator"

	"github.com/cctrack/cctrack/beamforming"
)

// A small synthetic testbed: a 4x2-element BS (N_B = 8) and a 2-element UE at the origin's
// neighbourhood, channels from three paths (line of sight and two wall reflections, image sources)
// whose angles, delays and gains change smoothly with the user's position.
const (
	tinyNB, tinyNU = 8, 2
	tinyLambda     = 20.0 // m: phases turn slowly enough over 0.2 m steps for tracking
	tinyPtx        = 1.0  // W
	tinyNoise      = 1e-9 // W: about 30 dB SNR at the scene's path gains
)

// tinyChannel is H (N_B x N_U, row-major) for a user at p.
func tinyChannel(p [3]float64) []complex128 {
	h := make([]complex128, tinyNB*tinyNU)
	bs := [2]float64{0, 0}
	images := [][2]float64{{p[0], p[1]}, {p[0], 2*12 - p[1]}, {2*(-8) - p[0], p[1]}} // LoS, wall y=12, wall x=-8
	gains := []complex128{1, 0.6i, -0.4}
	for l, q := range images {
		dx, dy := q[0]-bs[0], q[1]-bs[1]
		d := math.Hypot(dx, dy)
		aoa := math.Atan2(dy, dx)
		aod := aoa + 0.7*float64(l) // the UE sees each path from its own direction
		a := gains[l] * complex(0.01/d, 0) * cmplx.Exp(complex(0, -2*math.Pi*d/tinyLambda))
		for i := range tinyNB {
			// 4x2 UPA: 4 elements along one axis see the azimuth, 2 along the other a fixed elevation.
			ih, iv := i%4, i/4
			ab := cmplx.Exp(complex(0, math.Pi*(float64(ih)*math.Sin(aoa)+float64(iv)*0.3)))
			for k := range tinyNU {
				au := cmplx.Exp(complex(0, math.Pi*float64(k)*math.Sin(aod)))
				h[i*tinyNU+k] += a * ab * cmplx.Conj(au)
			}
		}
	}
	return h
}

// tinyData: static channels on a grid over the area and seeded random walks (0.2 m steps, smooth
// turns) through it, plus an evaluation walk.
func tinyData(nTraj, steps int, seed uint64) *Data {
	d := &Data{NB: tinyNB, NU: tinyNU}
	for x := 2.0; x <= 10; x += 0.5 {
		for y := 2.0; y <= 10; y += 0.5 {
			p := [3]float64{x, y, 0}
			d.H, d.Pos = append(d.H, tinyChannel(p)), append(d.Pos, p)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	walk := func() ([][]complex128, [][3]float64) {
		p := [3]float64{2 + 8*rng.Float64(), 2 + 8*rng.Float64(), 0}
		heading := 2 * math.Pi * rng.Float64()
		var hs [][]complex128
		var ps [][3]float64
		for range steps {
			heading += 0.15 * rng.NormFloat64()
			next := [3]float64{p[0] + 0.2*math.Cos(heading), p[1] + 0.2*math.Sin(heading), 0}
			if next[0] < 2 || next[0] > 10 || next[1] < 2 || next[1] > 10 {
				heading += math.Pi / 2 // turn away from the edge
				continue
			}
			p = next
			hs, ps = append(hs, tinyChannel(p)), append(ps, p)
		}
		return hs, ps
	}
	for len(d.Traj) < nTraj {
		hs, ps := walk()
		if len(hs) == steps { // walks that hit an edge are shorter: keep full-length ones
			d.Traj, d.TrajPos = append(d.Traj, hs), append(d.TrajPos, ps)
		}
	}
	for len(d.Eval) == 0 {
		if hs, ps := walk(); len(hs) == steps {
			d.Eval, d.EvalPos = hs, ps
		}
	}
	return d
}

// tinySetup: 4 random-phase combiner beams, 2 DFT precoder beams (M_B M_U = 8 < N_B N_U = 16).
func tinySetup() Setup {
	ps := beamforming.PhaseShifter{Bits: 6}
	w, err := beamforming.Codebook("random", 4, 2, 4, ps, 1)
	if err != nil {
		panic(err)
	}
	f, err := beamforming.Codebook("dft", 2, 1, 2, ps, 2)
	if err != nil {
		panic(err)
	}
	d := beamforming.Design{NB: tinyNB, NU: tinyNU, MB: 4, MU: 2, S: beamforming.Pilots(2, tinyPtx),
		W: make([]complex128, tinyNB*4), F: make([]complex128, tinyNU*2)}
	w.Weights(ps, nil, d.W)
	f.Weights(ps, nil, d.F)
	return Setup{Design: d, Noise: tinyNoise}
}

func tinyConfig() Config {
	return Config{
		Seed: 7, Sequences: SequencesTrajectories, LRSchedule: LRConstant,
		AE: AEConfig{Hidden: []int{128, 64}, Latent: 8, Lambda: 0.03, LatentNoise: 0.01,
			Epochs: 150, Batch: 16, LR: 3e-3, Patience: 20, ValFraction: 0.1},
		Tracker: TrackerConfig{G1: []int{32, 32}, LSTMLayers: 2, LSTMHidden: 32, G2: []int{32}, G3: []int{16}, T: 10,
			LambdaAlpha: 1, LambdaBeta: 1, Epochs: 30, Batch: 32, LR: 2e-3, Patience: 6, ValFraction: 0.2},
		E2E: E2EConfig{LSTMLayers: 2, LSTMHidden: 32, Hidden: []int{64}, T: 10,
			Epochs: 30, Batch: 32, LR: 2e-3, Patience: 6, ValFraction: 0.2},
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// aeNMSE is the mean NMSE (dB) of f^-1(d(e(f(h)))) over hs: the autoencoder alone, with the true
// alpha and beta.
func aeNMSE(t testing.TB, a *Autoencoder, hs [][]complex128) float64 {
	var m estimator.Mean
	hhat := make([]complex128, len(hs[0]))
	for _, h := range hs {
		if err := a.Reconstruct(h, hhat); err != nil {
			t.Fatal(err)
		}
		m.Add(estimator.NMSE(h, hhat))
	}
	return m.DB()
}
