package training

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// sequences are the T-step training windows over a source's pool of channels, with the clean
// pilot observation of every pool entry; noise is added per batch (fresh for training, fixed per
// window for validation). With a walker (SequencesPositions) every training batch is made of fresh
// walks, so that no epoch repeats one: on the fixed walks the trackers learned their training
// sequences by heart (validation loss twice the training loss).
type sequences struct {
	pm         *pilotModel
	t          int
	h, y0      [][]complex128 // per pool entry: channel and W^H H G
	windows    [][]int        // t pool indices each
	train, val []int          // indices into windows
	walk       func(rng *rand.Rand, n int) []int
	seed       uint64
	skipped    int // windows dropped because a channel in them is all zero (no path)
}

// newSequences takes every window of t consecutive steps of every trajectory of src (stride 1) whose
// channels are all non-zero, and holds out whole trajectories (round(N·valFraction), at least one)
// for validation so that no validation window overlaps a training one. With src's walker the
// training windows only set the normalisation statistics; training batches are fresh walks.
func newSequences(src *seqSource, s Setup, t int, valFraction float64, rng *rand.Rand, seed uint64) (*sequences, error) {
	if s.Design.NB != src.nb || s.Design.NU != src.nu {
		return nil, fmt.Errorf("the design is for %d x %d arrays, the data has %d x %d", s.Design.NB, s.Design.NU, src.nb, src.nu)
	}
	if !(s.Noise >= 0) {
		return nil, fmt.Errorf("noise power %g W: want >= 0", s.Noise)
	}
	if len(src.traj) < 2 {
		return nil, fmt.Errorf("want at least 2 trajectories (one is held out for validation), got %d", len(src.traj))
	}
	q := &sequences{pm: newPilotModel(s), t: t, h: src.h, walk: src.walk, seed: seed}
	n := src.nb * src.nu
	q.y0 = make([][]complex128, len(src.h))
	for i, h := range src.h {
		if len(h) != n {
			return nil, fmt.Errorf("channel %d has %d entries, want %d x %d", i, len(h), src.nb, src.nu)
		}
		q.y0[i] = make([]complex128, q.pm.obs())
		q.pm.clean(h, q.y0[i])
	}
	perm := rng.Perm(len(src.traj))
	nv := min(max(int(math.Round(float64(len(src.traj))*valFraction)), 1), len(src.traj)-1)
	isVal := make([]bool, len(src.traj))
	for _, i := range perm[:nv] {
		isVal[i] = true
	}
	for i, tr := range src.traj {
	start:
		for k := 0; k+t <= len(tr); k++ {
			for _, p := range tr[k : k+t] {
				if allZero(q.h[p]) {
					q.skipped++
					continue start
				}
			}
			if isVal[i] {
				q.val = append(q.val, len(q.windows))
			} else {
				q.train = append(q.train, len(q.windows))
			}
			q.windows = append(q.windows, tr[k:k+t])
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
	q.eachTrainStep(func(p int) {
		q.pm.addNoise(rng, q.y0[p], y)
		var r2 float64
		for _, v := range y {
			r2 += real(v)*real(v) + imag(v)*imag(v)
		}
		logs = append(logs, 0.5*math.Log(math.Max(r2, math.SmallestNonzeroFloat64)))
	})
	nm.LogGainMean, nm.LogGainStd = meanStd(logs)
}

// eachTrainStep calls fn with the pool index of every trajectory step inside a training window,
// once per step (a pool entry a walk visits twice counts twice).
func (q *sequences) eachTrainStep(fn func(p int)) {
	// windows are slices of their trajectory, so a step's address names it
	seen := map[*int]bool{}
	for _, w := range q.train {
		for k := range q.windows[w] {
			if at := &q.windows[w][k]; !seen[at] {
				seen[at] = true
				fn(*at)
			}
		}
	}
}

// inputs writes the normalised noisy inputs of the samples idx into x ([len(idx), T, 2M+1]) and
// calls target for every step with its sample row, step, pool index and ||y||. Training batches
// (rng non-nil) are the training windows idx picks, or with a walker as many fresh walks, with
// noise from rng; validation batches (rng nil) are the validation windows idx picks, each with
// noise seeded by its window index so that the validation loss is the same every epoch.
func (q *sequences) inputs(nm *norm, rng *rand.Rand, idx []int, target func(row, step, p int, r float64)) []float32 {
	f := 2*q.pm.obs() + 1
	x := make([]float32, len(idx)*q.t*f)
	y := make([]complex128, q.pm.obs())
	for row, i := range idx {
		r, w := rng, []int(nil)
		switch {
		case rng == nil:
			r, w = rand.New(rand.NewPCG(q.seed, 0x7a1+uint64(q.val[i]))), q.windows[q.val[i]]
		case q.walk != nil:
			w = q.walk(rng, q.t)
		default:
			w = q.windows[q.train[i]]
		}
		for s, p := range w {
			q.pm.addNoise(r, q.y0[p], y)
			gain := nm.features(y, x[(row*q.t+s)*f:][:f])
			target(row, s, p, gain)
		}
	}
	return x
}
