package learned

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/training"
)

// Paper scales (DESIGN.md): P_tx = 45 dBm, σ² = -95 dBm.
const (
	paperPower = 31.622776601683793     // W
	paperNoise = 3.1622776601683794e-13 // W
)

// randomDesign has phase-shifter weights with random phases, e^{jθ}/sqrt(N), and pilots
// sqrt(P) e^{jθ}.
func randomDesign(rng *rand.Rand, nb, nu, mb, mu int, p float64) beamforming.Design {
	phase := func(scale float64) complex128 { return cmplx.Rect(scale, 2*math.Pi*rng.Float64()) }
	d := beamforming.Design{NB: nb, NU: nu, MB: mb, MU: mu,
		W: make([]complex128, nb*mb), F: make([]complex128, nu*mu), S: make([]complex128, mu)}
	for i := range d.W {
		d.W[i] = phase(1 / math.Sqrt(float64(nb)))
	}
	for i := range d.F {
		d.F[i] = phase(1 / math.Sqrt(float64(nu)))
	}
	for i := range d.S {
		d.S[i] = phase(math.Sqrt(p))
	}
	return d
}

// observe returns Y = W^H H G + N (M_B x M_U), N i.i.d. CN(0, noise), straight from the definition.
func observe(rng *rand.Rand, d beamforming.Design, h []complex128, noise float64) []complex128 {
	g := d.G()
	y := make([]complex128, d.MB*d.MU)
	sd := math.Sqrt(noise / 2)
	for b := range d.MB {
		for u := range d.MU {
			var s complex128
			for i := range d.NB {
				for k := range d.NU {
					s += cmplx.Conj(d.W[i*d.MB+b]) * h[i*d.NU+k] * g[k*d.MU+u]
				}
			}
			y[b*d.MU+u] = s + complex(sd*rng.NormFloat64(), sd*rng.NormFloat64())
		}
	}
	return y
}

// syntheticData is a user on a 10 m line: H(p) is two far-field paths between half-wavelength
// ULAs (N_B, N_U elements) whose angles turn with the position p, so that H changes smoothly
// along the line. k static positions; n trajectories of t steps walking at 0.1 m per interval and
// turning at the ends.
func syntheticData(rng *rand.Rand, nb, nu, k, n, t int) *training.Data {
	channel := func(p float64) []complex128 {
		h := make([]complex128, nb*nu)
		for _, path := range []struct{ gain, aoa, aod float64 }{
			{3e-6, 0.2 + 0.08*p, -0.4 + 0.05*p},
			{1e-6, -0.7 + 0.03*p, 0.6 - 0.04*p},
		} {
			for i := range nb {
				for j := range nu {
					h[i*nu+j] += complex(path.gain, 0) * cmplx.Exp(complex(0, math.Pi*(float64(i)*math.Sin(path.aoa)-float64(j)*math.Sin(path.aod))))
				}
			}
		}
		return h
	}
	d := &training.Data{NB: nb, NU: nu}
	for i := range k {
		p := 10 * float64(i) / float64(k-1)
		d.H = append(d.H, channel(p))
		d.Pos = append(d.Pos, [3]float64{p, 0, 1.5})
	}
	for range n {
		p, v := 10*rng.Float64(), 0.1
		var hs [][]complex128
		var ps [][3]float64
		for range t {
			if p+v < 0 || p+v > 10 {
				v = -v
			}
			p += v
			hs = append(hs, channel(p))
			ps = append(ps, [3]float64{p, 0, 1.5})
		}
		d.Traj, d.TrajPos = append(d.Traj, hs), append(d.TrajPos, ps)
	}
	return d
}

// tinyConfig trains in a second or two: every network a layer or two of a few units, few epochs.
func tinyConfig() training.Config {
	fit := func() (epochs, batch, patience int, lr, val float64) { return 3, 8, 2, 3e-3, 0.25 }
	var c training.Config
	c.Seed, c.Sequences, c.LRSchedule = 7, training.SequencesTrajectories, training.LRConstant
	c.AE = training.AEConfig{Hidden: []int{32}, Latent: 4, Lambda: 1, LatentNoise: 0.01}
	c.AE.Epochs, c.AE.Batch, c.AE.Patience, c.AE.LR, c.AE.ValFraction = fit()
	c.Tracker = training.TrackerConfig{G1: []int{16}, LSTMLayers: 1, LSTMHidden: 8, T: 8, LambdaAlpha: 1, LambdaBeta: 1}
	c.Tracker.Epochs, c.Tracker.Batch, c.Tracker.Patience, c.Tracker.LR, c.Tracker.ValFraction = fit()
	c.E2E = training.E2EConfig{LSTMLayers: 1, LSTMHidden: 8, Hidden: []int{16}, T: 8}
	c.E2E.Epochs, c.E2E.Batch, c.E2E.Patience, c.E2E.LR, c.E2E.ValFraction = fit()
	return c
}

// tinyModels trains a tiny tracker and E2E model for a 8-element BS, 2-element UE and the design d.
func tinyModels(t *testing.T, d beamforming.Design) (*training.Tracker, *training.E2E) {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	data := syntheticData(rand.New(rand.NewPCG(5, 6)), d.NB, d.NU, 64, 8, 24)
	cfg := tinyConfig()
	s := training.Setup{Design: d, Noise: paperNoise}
	ae, err := training.TrainAutoencoder(ctx, data, cfg, t.TempDir(), log, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := training.TrainTracker(ctx, data, ae, s, cfg, t.TempDir(), log, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	e2e, err := training.TrainE2E(ctx, data, s, cfg, t.TempDir(), log, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return tr, e2e
}

// The learned estimators carry the LSTM state from one Estimate to the next (the same y gives
// another Ĥ the second time), and Reset or a new Prepare start the sequence over, bit for bit.
func TestLearnedStateAndReset(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	d := randomDesign(rng, 8, 2, 4, 2, paperPower)
	tr, e2e := tinyModels(t, d)
	data := syntheticData(rng, d.NB, d.NU, 2, 1, 3)
	var ys [][]complex128
	for _, h := range data.Traj[0] {
		ys = append(ys, observe(rng, d, h, paperNoise))
	}
	for _, e := range []*Estimator{New("tracker", tr), New("e2e", e2e)} {
		t.Run(e.Name(), func(t *testing.T) {
			dst := make([]complex128, d.NB*d.NU)
			if err := e.Estimate(dst, ys[0]); !errors.Is(err, ErrNotPrepared) {
				t.Fatalf("Estimate before Prepare: error %v, want %v", err, ErrNotPrepared)
			}
			if err := e.Prepare(d, paperNoise); err != nil {
				t.Fatal(err)
			}
			run := func() [][]complex128 {
				var out [][]complex128
				for _, y := range ys {
					if err := e.Estimate(dst, y); err != nil {
						t.Fatal(err)
					}
					for _, v := range dst {
						if cmplx.IsNaN(v) || cmplx.IsInf(v) {
							t.Fatalf("Ĥ has %v", v)
						}
					}
					out = append(out, slices.Clone(dst))
				}
				return out
			}
			first := run()
			// Carried state: the first y again, now after three intervals, gives another Ĥ.
			if err := e.Estimate(dst, ys[0]); err != nil {
				t.Fatal(err)
			}
			if slices.Equal(dst, first[0]) {
				t.Error("the same y after three intervals gave the same Ĥ: no state carried")
			}
			e.Reset()
			if again := run(); !equalAll(again, first) {
				t.Error("after Reset the sequence differs from the first run")
			}
			if err := e.Prepare(d, paperNoise); err != nil {
				t.Fatal(err)
			}
			if again := run(); !equalAll(again, first) {
				t.Error("after a new Prepare the sequence differs from the first run")
			}
		})
	}
}

func equalAll(a, b [][]complex128) bool {
	return slices.EqualFunc(a, b, func(x, y []complex128) bool { return slices.Equal(x, y) })
}

// A model trained for one testbed refuses another: other beams or other pilots (the noise power
// may differ: a model runs at any SNR).
func TestLearnedRejectsOtherTestbed(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	d := randomDesign(rng, 8, 2, 4, 2, paperPower)
	tr, e2e := tinyModels(t, d)
	otherPilots := d
	otherPilots.S = slices.Clone(d.S)
	otherPilots.S[0] *= -1
	for _, tc := range []struct {
		name  string
		d     beamforming.Design
		noise float64
	}{
		{"more beams", randomDesign(rng, 8, 2, 6, 2, paperPower), paperNoise},
		{"other pilots", otherPilots, paperNoise},
	} {
		for _, e := range []*Estimator{New("tracker", tr), New("e2e", e2e)} {
			err := e.Prepare(tc.d, tc.noise)
			if err == nil || !strings.Contains(err.Error(), "does not fit this testbed") {
				t.Errorf("%s, %s: Prepare error %v", e.Name(), tc.name, err)
			}
			if err := e.Estimate(make([]complex128, 16), make([]complex128, tc.d.MB*tc.d.MU)); !errors.Is(err, ErrNotPrepared) {
				t.Errorf("%s, %s: Estimate after a failed Prepare: error %v, want %v", e.Name(), tc.name, err, ErrNotPrepared)
			}
		}
	}
}
