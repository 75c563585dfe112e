package training

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Tracker is the latent LSTM tracker (paper V): x(t) (the normalised pilots, see norm) → g1 →
// LSTM → g2 → ŝ(t) and g3 → (ln α̂, ln β̂) normalised; Ĥ(t) = f^-1(d(ŝ(t)), α̂(t), β̂(t)) with the
// autoencoder's decoder d, frozen and stored in the tracker's own checkpoint (weights dec.*), so
// that a tracker directory is self-contained.
type Tracker struct {
	bound
	net params // g1, lstm, g2, g3
	dec params // the frozen decoder
	ae  string // the autoencoder checkpoint the decoder came from
}

func newTrackerNet(cfg Config, obs, latent int, rng *rand.Rand) params {
	c := cfg.Tracker
	g1 := append([]int{2*obs + 1}, c.G1...)
	ps := newMLP(rng, "g1", g1)
	ps = append(ps, newLSTM(rng, "lstm", g1[len(g1)-1], c.LSTMHidden, c.LSTMLayers)...)
	ps = append(ps, newMLP(rng, "g2", append(append([]int{c.LSTMHidden}, c.G2...), latent))...)
	return append(ps, newMLP(rng, "g3", append(append([]int{c.LSTMHidden}, c.G3...), 2))...)
}

// forward runs the tracker network on x [B, T, 2M+1] from the LSTM states h0, c0 and returns the
// latents [B, T, S], the normalised (ln α, ln β) [B, T, 2] and the final states.
func (m *Tracker) forward(w []*Node, x *Node, h0, c0 []*Node) (s, ab *Node, h, c []*Node) {
	cfg := m.cfg.Tracker
	cur := &cursor{w}
	out, h, c := lstm(cur, mlp(cur, x, len(cfg.G1)), h0, c0) // g1 on all steps at once
	s = mlp(cur, out, len(cfg.G2)+1)
	if nm := m.norm; len(nm.LatentMean) > 0 {
		mean := make([]float32, len(nm.LatentMean))
		for i, v := range nm.LatentMean {
			mean[i] = float32(v)
		}
		s = Add(MulScalar(s, nm.LatentScale), ExpandLeftToRank(Const(x.Graph(), mean), s.Rank()))
	}
	return s, mlp(cur, out, len(cfg.G3)+1), h, c
}

// latentStats is the per-dimension mean of the latents each yields and the RMS over dimensions of
// their per-dimension standard deviations (norm.LatentMean, LatentScale).
func latentStats(dim int, each func(fn func(s []float32))) (mean []float64, scale float64) {
	mean, sq := make([]float64, dim), make([]float64, dim)
	n := 0
	each(func(s []float32) {
		for i, v := range s {
			mean[i] += float64(v)
			sq[i] += float64(v) * float64(v)
		}
		n++
	})
	var variance float64
	for i := range mean {
		mean[i] /= float64(n)
		variance += max(sq[i]/float64(n)-mean[i]*mean[i], 0)
	}
	if scale = math.Sqrt(variance / float64(dim)); !(scale > 0) {
		scale = 1 // every target the same: nothing to scale
	}
	return mean, scale
}

// zeroStates are all-zero LSTM states for a batch.
func zeroStates(g *Graph, layers, batch, hidden int) []*Node {
	out := make([]*Node, layers)
	for i := range out {
		out[i] = Zeros(g, shapes.Make(dtypes.Float32, batch, hidden))
	}
	return out
}

// TrainTracker trains the latent tracker on T-step windows of d's trajectories: targets s(t), α(t),
// β(t) from ae's encoder and Preprocess, inputs simulated as Y = W^H H F S + N with s's design and
// noise (seeded CN noise, fresh every epoch). The checkpoint in out holds the network, the frozen
// decoder, s and the normalisation.
// When ctx is cancelled it returns the context's error together with the model holding the best
// weights so far (those of the checkpoint last written; the initial ones, and no checkpoint, if no
// epoch had finished).
func TrainTracker(ctx context.Context, d *Data, ae *Autoencoder, s Setup, cfg Config, out string, log *slog.Logger, progress io.Writer) (*Tracker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if ae.nb != d.NB || ae.nu != d.NU {
		return nil, fmt.Errorf("training tracker: the autoencoder is for %d x %d arrays, the data has %d x %d", ae.nb, ae.nu, d.NB, d.NU)
	}
	dir, err := prepareDir(out)
	if err != nil {
		return nil, err
	}
	m, fm, err := trackerProblem(d, ae, s, cfg, log)
	if err != nil {
		return nil, err
	}
	if err := initWeights(cfg.Init, dir, kindTracker, m.net); err != nil {
		return nil, err
	}
	meta := m.meta(d.Source)
	hist, err := fitModel(ctx, fm, cfg.Tracker.fit(cfg.LRSchedule), cfg.Seed, log, progress, func(hist []EpochLoss) error {
		meta.Losses = hist
		return saveCheckpoint(dir, meta, m.net, m.dec)
	})
	m.dir = dir
	if err != nil {
		return m, err
	}
	log.Info("tracker trained", "dir", dir, "epochs", len(hist), "val_loss", bestVal(hist))
	return m, nil
}

func (m *Tracker) meta(data string) checkpointFile {
	setup, nm := m.setup, m.norm
	return checkpointFile{Kind: kindTracker, Config: m.cfg, NB: m.nb, NU: m.nu, Setup: &setup, Norm: &nm, Data: data, AE: m.ae}
}

// LoadTracker reads a tracker checkpoint directory (network, frozen decoder, setup, normalisation).
func LoadTracker(dir string) (*Tracker, error) {
	b, meta, err := loadBound(dir, kindTracker)
	if err != nil {
		return nil, err
	}
	if n := len(b.norm.LatentMean); n != 0 && n != meta.Config.AE.Latent {
		return nil, fmt.Errorf("training: checkpoint %s: latent_mean has %d entries, want the latent size %d", b.dir, n, meta.Config.AE.Latent)
	}
	rng := rand.New(rand.NewPCG(0, 0))
	m := &Tracker{bound: b, ae: meta.AE,
		net: newTrackerNet(meta.Config, meta.Setup.MB*meta.Setup.MU, meta.Config.AE.Latent, rng),
		dec: newMLP(rng, "dec", meta.Config.AE.decoderSizes(meta.NB, meta.NU))}
	if err := readWeights(b.dir, m.net, m.dec); err != nil {
		return nil, err
	}
	return m, nil
}

// trackerProblem builds the tracker and its training problem on d (windows, targets, normalisation).
func trackerProblem(d *Data, ae *Autoencoder, s Setup, cfg Config, log *slog.Logger) (*Tracker, *model, error) {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7ac))
	src, err := sequenceData(d, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("training tracker: %w", err)
	}
	q, err := newSequences(src, s, cfg.Tracker.T, cfg.Tracker.ValFraction, rng, cfg.Seed)
	if err != nil {
		return nil, nil, fmt.Errorf("training tracker: %w", err)
	}
	if q.skipped > 0 {
		log.Warn("training tracker: windows with a no-path channel skipped", "windows", q.skipped)
	}
	m := &Tracker{bound: bound{kind: kindTracker, cfg: cfg, setup: s.record(), nb: d.NB, nu: d.NU}, dec: ae.dec.clone(), ae: ae.dir,
		net: newTrackerNet(cfg, q.pm.obs(), ae.Latent(), rng)}
	m.cfg.AE = ae.cfg.AE // the decoder's shape comes from the autoencoder's config

	// Targets for every pool entry with a path: latent from the encoder, ln α, ln β.
	latent := ae.Latent()
	type target struct {
		s        []float32
		lnA, lnB float64
	}
	tg := make([]target, len(q.h))
	var vs [][]float32
	var at []int
	for p, h := range q.h {
		if allZero(h) {
			continue
		}
		v := make([]float32, 2*len(h))
		a, b := Preprocess(h, v)
		tg[p].lnA, tg[p].lnB = math.Log(a), math.Log(b)
		vs, at = append(vs, v), append(at, p)
	}
	zs, err := ae.encodeAll(vs)
	if err != nil {
		return nil, nil, fmt.Errorf("training tracker: %w", err)
	}
	for j, p := range at {
		tg[p].s = zs[j]
	}
	q.gainStats(&m.norm)
	var la, lb []float64
	q.eachTrainStep(func(p int) { la, lb = append(la, tg[p].lnA), append(lb, tg[p].lnB) })
	m.norm.LogAlphaMean, m.norm.LogAlphaStd = meanStd(la)
	m.norm.LogBetaMean, m.norm.LogBetaStd = meanStd(lb)
	m.norm.LatentMean, m.norm.LatentScale = latentStats(latent, func(fn func(s []float32)) {
		q.eachTrainStep(func(p int) { fn(tg[p].s) })
	})

	t := cfg.Tracker.T
	f := 2*q.pm.obs() + 1
	batchOf := func(rng *rand.Rand, idx []int) []*tensors.Tensor {
		n := len(idx)
		sOut := make([]float32, n*t*latent)
		abOut := make([]float32, n*t*2)
		x := q.inputs(&m.norm, rng, idx, func(row, step, p int, _ float64) {
			g := tg[p]
			j := row*t + step
			copy(sOut[j*latent:], g.s)
			abOut[2*j] = float32((g.lnA - m.norm.LogAlphaMean) / m.norm.LogAlphaStd)
			abOut[2*j+1] = float32((g.lnB - m.norm.LogBetaMean) / m.norm.LogBetaStd)
		})
		return []*tensors.Tensor{
			tensors.FromFlatDataAndDimensions(x, n, t, f),
			tensors.FromFlatDataAndDimensions(sOut, n, t, latent),
			tensors.FromFlatDataAndDimensions(abOut, n, t, 2),
		}
	}
	la2, lb2 := cfg.Tracker.LambdaAlpha, cfg.Tracker.LambdaBeta
	return m, &model{
		name: kindTracker, train: m.net, nTrain: len(q.train), nVal: len(q.val),
		// L_LSTM (eq. 12) averaged over the batch and the T steps.
		loss: func(w, data []*Node) *Node {
			x, sT, abT := data[0], data[1], data[2]
			dims := x.Shape().Dimensions
			z := zeroStates(x.Graph(), cfg.Tracker.LSTMLayers, dims[0], cfg.Tracker.LSTMHidden)
			sHat, abHat, _, _ := m.forward(w, x, z, z)
			weights := ExpandLeftToRank(Const(x.Graph(), []float32{float32(la2), float32(lb2)}), 3)
			l := Add(ReduceAllSum(Square(Sub(sT, sHat))), ReduceAllSum(Mul(Square(Sub(abT, abHat)), weights)))
			return DivScalar(l, float64(dims[0]*dims[1]))
		},
		trainBatch: batchOf,
		valBatch:   func(idx []int) []*tensors.Tensor { return batchOf(nil, idx) },
	}, nil
}
