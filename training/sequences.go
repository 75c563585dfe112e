package training

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// sequences are the T-step training windows of a dataset's trajectories with their clean pilot
// observations; noise is added per batch (fresh for training, fixed per window for validation).
type sequences struct {
	pm         *pilotModel
	t          int
	h, y0      [][][]complex128 // [trajectory][step] channel and W^H H G
	windows    [][2]int         // (trajectory, first step)
	train, val []int            // indices into windows
	seed       uint64
	skipped    int // windows dropped because a channel in them is all zero (no path)
}

// newSequences takes every window of t consecutive steps of every trajectory (stride 1) whose
// channels are all non-zero, and holds out whole trajectories (round(N·valFraction), at least one)
// for validation so that no validation window overlaps a training one.
func newSequences(d *Data, s Setup, t int, valFraction float64, rng *rand.Rand, seed uint64) (*sequences, error) {
	if s.Design.NB != d.NB || s.Design.NU != d.NU {
		return nil, fmt.Errorf("the design is for %d x %d arrays, the data has %d x %d", s.Design.NB, s.Design.NU, d.NB, d.NU)
	}
	if !(s.Noise >= 0) {
		return nil, fmt.Errorf("noise power %g W: want >= 0", s.Noise)
	}
	if len(d.Traj) < 2 {
		return nil, fmt.Errorf("want at least 2 trajectories (one is held out for validation), got %d", len(d.Traj))
	}
	q := &sequences{pm: newPilotModel(s), t: t, seed: seed}
	n := d.NB * d.NU
	for i, tr := range d.Traj {
		var hs, ys [][]complex128
		for k, h := range tr {
			if len(h) != n {
				return nil, fmt.Errorf("trajectory %d step %d has %d entries, want %d x %d", i, k, len(h), d.NB, d.NU)
			}
			y := make([]complex128, q.pm.obs())
			q.pm.clean(h, y)
			hs, ys = append(hs, h), append(ys, y)
		}
		q.h, q.y0 = append(q.h, hs), append(q.y0, ys)
	}
	perm := rng.Perm(len(d.Traj))
	nv := min(max(int(math.Round(float64(len(d.Traj))*valFraction)), 1), len(d.Traj)-1)
	isVal := make([]bool, len(d.Traj))
	for _, i := range perm[:nv] {
		isVal[i] = true
	}
	for i, tr := range q.h {
	start:
		for k := 0; k+t <= len(tr); k++ {
			for _, h := range tr[k : k+t] {
				if allZero(h) {
					q.skipped++
					continue start
				}
			}
			if isVal[i] {
				q.val = append(q.val, len(q.windows))
			} else {
				q.train = append(q.train, len(q.windows))
			}
			q.windows = append(q.windows, [2]int{i, k})
		}
	}
	if len(q.train) == 0 || len(q.val) == 0 {
		return nil, fmt.Errorf("no complete %d-step window with paths in the training or validation trajectories (%d train, %d val windows)", t, len(q.train), len(q.val))
	}
	return q, nil
}

func allZero(h []complex128) bool {
	for _, x := range h {
		if x != 0 {
			return false
		}
	}
	return true
}

// gainStats sets LogGainMean/Std of nm from one seeded noisy observation of every training step.
func (q *sequences) gainStats(nm *norm) {
	rng := rand.New(rand.NewPCG(q.seed, 0x6a1))
	y := make([]complex128, q.pm.obs())
	var logs []float64
	q.eachTrainStep(func(i, k int) {
		q.pm.addNoise(rng, q.y0[i][k], y)
		var r2 float64
		for _, v := range y {
			r2 += real(v)*real(v) + imag(v)*imag(v)
		}
		logs = append(logs, 0.5*math.Log(math.Max(r2, math.SmallestNonzeroFloat64)))
	})
	nm.LogGainMean, nm.LogGainStd = meanStd(logs)
}

// eachTrainStep calls fn once for every (trajectory, step) inside a training window.
func (q *sequences) eachTrainStep(fn func(i, k int)) {
	seen := map[[2]int]bool{}
	for _, w := range q.train {
		i, k0 := q.windows[w][0], q.windows[w][1]
		for k := k0; k < k0+q.t; k++ {
			if !seen[[2]int{i, k}] {
				seen[[2]int{i, k}] = true
				fn(i, k)
			}
		}
	}
}

// inputs writes the normalised noisy inputs of windows ws into x ([len(ws), T, 2M+1]) and calls
// target for every step with its window row, step, channel and ||y||. Training batches draw noise
// from rng; validation batches (rng nil) seed it from the window index, so the validation loss is
// the same every epoch.
func (q *sequences) inputs(nm *norm, rng *rand.Rand, ws []int, target func(row, step int, h []complex128, r float64)) []float32 {
	f := 2*q.pm.obs() + 1
	x := make([]float32, len(ws)*q.t*f)
	y := make([]complex128, q.pm.obs())
	for row, w := range ws {
		r := rng
		if r == nil {
			r = rand.New(rand.NewPCG(q.seed, 0x7a1+uint64(w)))
		}
		i, k0 := q.windows[w][0], q.windows[w][1]
		for s := range q.t {
			q.pm.addNoise(r, q.y0[i][k0+s], y)
			gain := nm.features(y, x[(row*q.t+s)*f:][:f])
			target(row, s, q.h[i][k0+s], gain)
		}
	}
	return x
}
