package training

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// E2E is the end-to-end baseline: x(t) (the normalised pilots, see norm) → LSTM → MLP → the full
// channel [Re h; Im h]·HScale/||Y||_F (2 N_B N_U outputs: its size grows with the arrays).
type E2E struct {
	bound
	net params // lstm, out
}

func newE2ENet(cfg Config, obs, nb, nu int, rng *rand.Rand) params {
	c := cfg.E2E
	ps := newLSTM(rng, "lstm", 2*obs+1, c.LSTMHidden, c.LSTMLayers)
	return append(ps, newMLP(rng, "out", append(append([]int{c.LSTMHidden}, c.Hidden...), 2*nb*nu))...)
}

func (m *E2E) forward(w []*Node, x *Node, h0, c0 []*Node) (*Node, []*Node, []*Node) {
	cur := &cursor{w}
	out, h, c := lstm(cur, x, h0, c0)
	return mlp(cur, out, len(m.cfg.E2E.Hidden)+1), h, c
}

// TrainE2E trains the end-to-end baseline on T-step windows of d's trajectories with pilots
// simulated as for TrainTracker.
// When ctx is cancelled it returns the context's error together with the model holding the best
// weights so far (those of the checkpoint last written; the initial ones, and no checkpoint, if no
// epoch had finished).
func TrainE2E(ctx context.Context, d *Data, s Setup, cfg Config, out string, log *slog.Logger, progress io.Writer) (*E2E, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir, err := prepareDir(out)
	if err != nil {
		return nil, err
	}
	m, fm, err := e2eProblem(d, s, cfg, log)
	if err != nil {
		return nil, err
	}
	if err := initWeights(cfg.Init, dir, kindE2E, m.net); err != nil {
		return nil, err
	}
	setup, nm := m.setup, m.norm
	meta := checkpointFile{Kind: kindE2E, Config: cfg, NB: d.NB, NU: d.NU, Setup: &setup, Norm: &nm, Data: d.Source}
	hist, err := fitModel(ctx, fm, cfg.E2E.fit(cfg.LRSchedule), cfg.Seed, log, progress, func(hist []EpochLoss) error {
		meta.Losses = hist
		return saveCheckpoint(dir, meta, m.net)
	})
	m.dir = dir
	if err != nil {
		return m, err
	}
	log.Info("e2e trained", "dir", dir, "epochs", len(hist), "val_loss", bestVal(hist))
	return m, nil
}

// LoadE2E reads an end-to-end checkpoint directory.
func LoadE2E(dir string) (*E2E, error) {
	b, meta, err := loadBound(dir, kindE2E)
	if err != nil {
		return nil, err
	}
	m := &E2E{bound: b, net: newE2ENet(meta.Config, meta.Setup.MB*meta.Setup.MU, meta.NB, meta.NU, rand.New(rand.NewPCG(0, 0)))}
	if err := readWeights(b.dir, m.net); err != nil {
		return nil, err
	}
	return m, nil
}

// NewSession starts batch-1 inference with zero LSTM state.
func (m *E2E) NewSession() (*Session, error) {
	c := m.cfg.E2E
	return newSession(m.net, nil, c.LSTMLayers, c.LSTMHidden, m.norm, m.nb, m.nu, m.setup.MB*m.setup.MU, 0,
		func(w []*Node, x *Node, h0, c0 []*Node) ([]*Node, []*Node, []*Node) {
			out, h, cs := m.forward(w, x, h0, c0)
			return []*Node{Reshape(out, 1, 2*m.nb*m.nu)}, h, cs
		})
}

// e2eProblem builds the e2e and its training problem on d (windows, targets, normalisation).
func e2eProblem(d *Data, s Setup, cfg Config, log *slog.Logger) (*E2E, *model, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xe2e))
	src, err := sequenceData(d, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("training e2e: %w", err)
	}
	q, err := newSequences(src, s, cfg.E2E.T, cfg.E2E.ValFraction, rng, cfg.Seed)
	if err != nil {
		return nil, nil, fmt.Errorf("training e2e: %w", err)
	}
	if q.skipped > 0 {
		log.Warn("training e2e: windows with a no-path channel skipped", "windows", q.skipped)
	}
	m := &E2E{bound: bound{kind: kindE2E, cfg: cfg, setup: s.record(), nb: d.NB, nu: d.NU}, net: newE2ENet(cfg, q.pm.obs(), d.NB, d.NU, rng)}
	q.gainStats(&m.norm)
	// HScale: 1 / RMS over the training steps of the 2 N_B N_U real entries of h/||Y|| (one seeded
	// noise draw).
	{
		nrng := rand.New(rand.NewPCG(cfg.Seed, 0x5ca))
		y := make([]complex128, q.pm.obs())
		var sum float64
		var count int
		q.eachTrainStep(func(p int) {
			q.pm.addNoise(nrng, q.y0[p], y)
			var hh, yy float64
			for _, v := range q.h[p] {
				hh += real(v)*real(v) + imag(v)*imag(v)
			}
			for _, v := range y {
				yy += real(v)*real(v) + imag(v)*imag(v)
			}
			sum += hh / yy
			count += 2 * len(q.h[p])
		})
		m.norm.HScale = 1 / math.Sqrt(sum/float64(count))
	}
	t, n := cfg.E2E.T, 2*d.NB*d.NU
	f := 2*q.pm.obs() + 1
	batchOf := func(rng *rand.Rand, idx []int) []*tensors.Tensor {
		target := make([]float32, len(idx)*t*n)
		x := q.inputs(&m.norm, rng, idx, func(row, step, p int, r float64) {
			k := m.norm.HScale / r
			dst := target[(row*t+step)*n:][:n]
			for i, v := range q.h[p] {
				dst[i], dst[n/2+i] = float32(real(v)*k), float32(imag(v)*k)
			}
		})
		return []*tensors.Tensor{
			tensors.FromFlatDataAndDimensions(x, len(idx), t, f),
			tensors.FromFlatDataAndDimensions(target, len(idx), t, n),
		}
	}
	return m, &model{
		name: kindE2E, train: m.net, nTrain: len(q.train), nVal: len(q.val),
		// mean over batch and steps of ||target - out||²
		loss: func(w, data []*Node) *Node {
			x, tg := data[0], data[1]
			dims := x.Shape().Dimensions
			z := zeroStates(x.Graph(), cfg.E2E.LSTMLayers, dims[0], cfg.E2E.LSTMHidden)
			out, _, _ := m.forward(w, x, z, z)
			return DivScalar(ReduceAllSum(Square(Sub(tg, out))), float64(dims[0]*dims[1]))
		},
		trainBatch: batchOf,
		valBatch:   func(idx []int) []*tensors.Tensor { return batchOf(nil, idx) },
	}, nil
}
