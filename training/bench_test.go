package training

import (
	"fmt"
	"math/cmplx"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/cctrack/cctrack/beamforming"
)

// paperConfig is the paper's sizes (section VI; g1/g2/g3 as ../shared/peers/torch_reference.py).
func paperConfig() Config {
	return Config{
		Seed: 1, Sequences: SequencesTrajectories, LRSchedule: LRConstant,
		AE: AEConfig{Hidden: []int{1280, 256}, Latent: 64, Lambda: 0.1, LatentNoise: 0.01,
			Epochs: 1, Batch: 64, LR: 1e-3, Patience: 1, ValFraction: 0.1},
		Tracker: TrackerConfig{G1: []int{128, 64}, LSTMLayers: 3, LSTMHidden: 64, G2: []int{64}, G3: []int{32}, T: 20,
			LambdaAlpha: 1, LambdaBeta: 1, Epochs: 1, Batch: 32, LR: 1e-3, Patience: 1, ValFraction: 0.2},
		E2E: E2EConfig{LSTMLayers: 3, LSTMHidden: 64, Hidden: []int{256}, T: 20, Epochs: 1, Batch: 32, LR: 1e-3, Patience: 1, ValFraction: 0.2},
	}
}

// randomData has K random static channels and n random trajectories of steps steps (values do not
// matter for timing).
func randomData(nb, nu, k, n, steps int) *Data {
	rng := rand.New(rand.NewPCG(3, 4))
	ch := func() []complex128 {
		h := make([]complex128, nb*nu)
		for i := range h {
			h[i] = cmplx.Rect(1e-6*(0.5+rng.Float64()), 6*rng.Float64())
		}
		return h
	}
	d := &Data{NB: nb, NU: nu}
	for range k {
		d.H, d.Pos = append(d.H, ch()), append(d.Pos, [3]float64{100 * rng.Float64(), 100 * rng.Float64(), 1.5})
	}
	for range n {
		var hs [][]complex128
		var ps [][3]float64
		for range steps {
			hs, ps = append(hs, ch()), append(ps, [3]float64{})
		}
		d.Traj, d.TrajPos = append(d.Traj, hs), append(d.TrajPos, ps)
	}
	return d
}

// randomSetup is a random-phase combiner of mb beams and a DFT precoder of mu beams at 45 dBm /
// -95 dBm (the paper's powers).
func randomSetup(tb testing.TB, bh, bv, uh, uv, mb, mu int) Setup {
	ps := beamforming.PhaseShifter{Bits: 6}
	w, err := beamforming.Codebook("random", bh, bv, mb, ps, 1)
	if err != nil {
		tb.Fatal(err)
	}
	f, err := beamforming.Codebook("dft", uh, uv, mu, ps, 2)
	if err != nil {
		tb.Fatal(err)
	}
	nb, nu := bh*bv, uh*uv
	d := beamforming.Design{NB: nb, NU: nu, MB: mb, MU: mu, S: beamforming.Pilots(mu, 31.6),
		W: make([]complex128, nb*mb), F: make([]complex128, nu*mu)}
	w.Weights(ps, nil, d.W)
	f.Weights(ps, nil, d.F)
	return Setup{Design: d, Noise: 3.16e-13}
}

// BenchmarkAEStep is one autoencoder training step (batch 64, Adam, L_CI + lambda L_TC) at the
// paper's sizes, as torch_reference.py's ae_train_step_ms_batch64.
func BenchmarkAEStep(b *testing.B) {
	for _, nb := range []int{100, 400} {
		b.Run(fmt.Sprintf("NB=%d", nb), func(b *testing.B) {
			d := randomData(nb, 4, 128, 0, 0)
			rng := rand.New(rand.NewPCG(1, 2))
			a := newAutoencoder(paperConfig(), nb, 4, rng)
			m, err := a.model(d, rng)
			if err != nil {
				b.Fatal(err)
			}
			st, err := newStepper(m)
			if err != nil {
				b.Fatal(err)
			}
			defer st.finalize()
			idx := make([]int, 64)
			for i := range idx {
				idx[i] = i
			}
			if _, err := st.do(1e-3, m.trainBatch(rng, idx)); err != nil { // compile
				b.Fatal(err)
			}
			ct := startCPUTimer(b)
			for range b.N {
				if _, err := st.do(1e-3, m.trainBatch(rng, idx)); err != nil {
					b.Fatal(err)
				}
			}
			ct.stop()
		})
	}
}

// trackerBench is an untrained paper-size tracker on random data at a 10x10 BS, 2x2 UE,
// M_B = 24, M_U = 4.
func trackerBench(b *testing.B) (*Tracker, *model) {
	d := randomData(100, 4, 64, 4, 40)
	cfg := paperConfig()
	ae := newAutoencoder(cfg, 100, 4, rand.New(rand.NewPCG(1, 2)))
	tr, m, err := trackerProblem(d, ae, randomSetup(b, 10, 10, 2, 2, 24, 4), cfg, quietLog())
	if err != nil {
		b.Fatal(err)
	}
	return tr, m
}

// BenchmarkTrackerStep is one tracker training step (batch 32, T = 20, Adam), as
// torch_reference.py's tracker_train_step_ms_batch32_T20.
func BenchmarkTrackerStep(b *testing.B) {
	_, m := trackerBench(b)
	st, err := newStepper(m)
	if err != nil {
		b.Fatal(err)
	}
	defer st.finalize()
	rng := rand.New(rand.NewPCG(1, 2))
	idx := make([]int, 32)
	for i := range idx {
		idx[i] = i
	}
	if _, err := st.do(1e-3, m.trainBatch(rng, idx)); err != nil {
		b.Fatal(err)
	}
	ct := startCPUTimer(b)
	for range b.N {
		if _, err := st.do(1e-3, m.trainBatch(rng, idx)); err != nil {
			b.Fatal(err)
		}
	}
	ct.stop()
}

// BenchmarkSessionStep is live inference for one interval (features, LSTM step, g2/g3, decoder,
// f^-1; batch 1) at a 10x10 BS, as torch_reference.py's tracker_infer_interval_ms.
func BenchmarkSessionStep(b *testing.B) {
	tr, _ := trackerBench(b)
	s, err := tr.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	y := make([]complex128, 96)
	for i := range y {
		y[i] = complex(float64(i), 1)
	}
	hhat := make([]complex128, 400)
	b.ReportAllocs()
	ct := startCPUTimer(b)
	for range b.N {
		if err := s.Step(y, hhat); err != nil {
			b.Fatal(err)
		}
	}
	ct.stop()
}

// cpuTimer reports the process's CPU time (user + system) per op as the metric cpu-ms/op next to
// the wall time: on a machine shared with other builds the wall time mostly measures the load,
// the CPU time the work (it counts every core the backend uses, so a parallel op costs its sum).
type cpuTimer struct {
	b     *testing.B
	start time.Duration
}

func startCPUTimer(b *testing.B) *cpuTimer {
	b.ResetTimer()
	return &cpuTimer{b: b, start: processCPU(b)}
}

func (c *cpuTimer) stop() {
	c.b.StopTimer()
	c.b.ReportMetric(float64(processCPU(c.b)-c.start)/float64(time.Millisecond)/float64(c.b.N), "cpu-ms/op")
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
