package training

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

const (
	kindAE      = "autoencoder"
	kindTracker = "tracker"
	kindE2E     = "e2e"
)

// Autoencoder is the channel-charting autoencoder (paper IV): encoder e: v → s (2 N_B N_U →
// Hidden... → Latent), decoder d: s → v (the mirror), v = f(H) (Preprocess).
type Autoencoder struct {
	cfg      Config
	nb, nu   int
	enc, dec params
	dir      string

	mu               sync.Mutex // guards the executables, their weights and scratch
	encExec, decExec *Exec
	encW, decW       []*tensors.Tensor
	v                []float32
}

func (c AEConfig) encoderSizes(nb, nu int) []int {
	return append(append([]int{2 * nb * nu}, c.Hidden...), c.Latent)
}

func (c AEConfig) decoderSizes(nb, nu int) []int {
	s := []int{c.Latent}
	for i := len(c.Hidden) - 1; i >= 0; i-- {
		s = append(s, c.Hidden[i])
	}
	return append(s, 2*nb*nu)
}

func newAutoencoder(cfg Config, nb, nu int, rng *rand.Rand) *Autoencoder {
	return &Autoencoder{cfg: cfg, nb: nb, nu: nu,
		enc: newMLP(rng, "enc", cfg.AE.encoderSizes(nb, nu)),
		dec: newMLP(rng, "dec", cfg.AE.decoderSizes(nb, nu))}
}

// Latent is the latent dimension S.
func (a *Autoencoder) Latent() int { return a.cfg.AE.Latent }

// Dir is the checkpoint directory the autoencoder was saved to or loaded from.
func (a *Autoencoder) Dir() string { return a.dir }

// aeLoss is L_CI + lambda·L_TC (eqs. 7–11) for one batch: data = v [B, 2N], the latent
// perturbation n [B, S] and the standardised squared position distances Bstd [B, B].
//
//	L_CI = mean_b ||v_b - d(e(v_b) + n_b)||²
//	L_TC = ||D - Bstd||_F²,  D = (D̄ - mean D̄)/std D̄,  D̄_ij = ||e(v_i) - e(v_j)||²
//
// (mean and population std over all B² entries).
func (a *Autoencoder) loss(lambda float64) lossFn {
	ne := len(a.enc)
	return func(w, data []*Node) *Node {
		v, noise, bstd := data[0], data[1], data[2]
		z := mlp(&cursor{w[:ne]}, v, len(a.enc)/2)
		if a.cfg.AE.NoiseRelative {
			noise = Mul(noise, StopGradient(Sqrt(ReduceAllMean(Square(z)))))
		}
		rec := mlp(&cursor{w[ne:]}, Add(z, noise), len(a.dec)/2)
		batch := float64(v.Shape().Dimensions[0])
		loss := DivScalar(ReduceAllSum(Square(Sub(v, rec))), batch)
		if lambda == 0 {
			return loss
		}
		sq := ReduceSum(Square(z), 1)                          // [B]
		dbar := Sub(Add(InsertAxes(sq, 1), InsertAxes(sq, 0)), // |z_i|² + |z_j|²
			MulScalar(DotGeneral(z, []int{1}, nil, z, []int{1}, nil), 2)) // - 2 z_i·z_j
		dc := Sub(dbar, ReduceAllMean(dbar))
		d := Div(dc, Sqrt(AddScalar(ReduceAllMean(Square(dc)), 1e-12)))
		return Add(loss, MulScalar(ReduceAllSum(Square(Sub(d, bstd))), lambda))
	}
}

// standardisedDistances is B of eq. 8 for the positions of idx: squared distances, minus their
// mean, over their population standard deviation (floored for a batch of one position).
func standardisedDistances(pos [][3]float64, idx []int) []float32 {
	n := len(idx)
	b := make([]float64, n*n)
	for i, p := range idx {
		for j, q := range idx {
			dx, dy, dz := pos[p][0]-pos[q][0], pos[p][1]-pos[q][1], pos[p][2]-pos[q][2]
			b[i*n+j] = dx*dx + dy*dy + dz*dz
		}
	}
	mean, std := meanStd(b)
	out := make([]float32, n*n)
	for i, x := range b {
		out[i] = float32((x - mean) / std)
	}
	return out
}

// TrainAutoencoder trains the autoencoder on d's static channels (d.H, d.Pos) and writes its
// checkpoint to out (made absolute, created): weights.npz and config.json, after every epoch that
// improves the validation loss. The model returned holds the best weights.
// When ctx is cancelled it returns the context's error together with the model holding the best
// weights so far (those of the checkpoint last written; the initial ones, and no checkpoint, if no
// epoch had finished).
func TrainAutoencoder(ctx context.Context, d *Data, cfg Config, out string, log *slog.Logger, progress io.Writer) (*Autoencoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(d.H) < 2 || len(d.Pos) != len(d.H) || len(d.EvalPos) != len(d.Eval) {
		return nil, fmt.Errorf("training autoencoder: want at least 2 static channels with positions (got %d channels, %d positions; %d evaluation channels, %d positions)", len(d.H), len(d.Pos), len(d.Eval), len(d.EvalPos))
	}
	dir, err := prepareDir(out)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xae))
	a := newAutoencoder(cfg, d.NB, d.NU, rng)
	a.dir = dir
	m, err := a.model(d, rng)
	if err != nil {
		return nil, err
	}
	if err := initWeights(cfg.Init, dir, kindAE, a.enc, a.dec); err != nil {
		return nil, err
	}
	meta := checkpointFile{Kind: kindAE, Config: cfg, NB: d.NB, NU: d.NU, Data: d.Source}
	hist, err := fitModel(ctx, m, cfg.AE.fit(cfg.LRSchedule), cfg.Seed, log, progress, func(hist []EpochLoss) error {
		meta.Losses = hist
		return saveCheckpoint(dir, meta, a.enc, a.dec)
	})
	if err != nil {
		return a, err
	}
	log.Info("autoencoder trained", "dir", dir, "epochs", len(hist), "best_loss", bestVal(hist))
	return a, nil
}

// model is the autoencoder's training problem on d: preprocessed static channels split into
// training and validation with rng.
func (a *Autoencoder) model(d *Data, rng *rand.Rand) (*model, error) {
	n := 2 * d.NB * d.NU
	hs, pos := d.H, d.Pos
	if a.cfg.AE.IncludeEval {
		for i, h := range d.Eval {
			if !allZero(h) { // no path: nothing to learn, and no normalisation
				hs, pos = append(hs[:len(hs):len(hs)], h), append(pos[:len(pos):len(pos)], d.EvalPos[i])
			}
		}
	}
	v := make([][]float32, len(hs))
	for i, h := range hs {
		if len(h) != d.NB*d.NU {
			return nil, fmt.Errorf("training autoencoder: channel %d has %d entries, want %d x %d", i, len(h), d.NB, d.NU)
		}
		v[i] = make([]float32, n)
		Preprocess(h, v[i])
	}
	trainIdx, valIdx := splitIndices(rng, len(v), a.cfg.AE.ValFraction)
	latent := a.cfg.AE.Latent
	batchOf := func(idx []int, noise func(x []float32)) []*tensors.Tensor {
		x := make([]float32, 0, len(idx)*n)
		for _, i := range idx {
			x = append(x, v[i]...)
		}
		nz := make([]float32, len(idx)*latent)
		noise(nz)
		return []*tensors.Tensor{
			tensors.FromFlatDataAndDimensions(x, len(idx), n),
			tensors.FromFlatDataAndDimensions(nz, len(idx), latent),
			tensors.FromFlatDataAndDimensions(standardisedDistances(pos, idx), len(idx), len(idx)),
		}
	}
	return &model{
		name: kindAE, train: append(a.enc, a.dec...), loss: a.loss(a.cfg.AE.Lambda),
		nTrain: len(trainIdx), nVal: len(valIdx),
		trainBatch: func(rng *rand.Rand, idx []int) []*tensors.Tensor {
			return batchOf(pick(trainIdx, idx), func(x []float32) {
				for i := range x {
					x[i] = float32(a.cfg.AE.LatentNoise * rng.NormFloat64())
				}
			})
		},
		valBatch: func(idx []int) []*tensors.Tensor { return batchOf(pick(valIdx, idx), func([]float32) {}) },
	}, nil
}

// LoadAutoencoder reads an autoencoder checkpoint directory.
func LoadAutoencoder(dir string) (*Autoencoder, error) {
	dir, err := absDir(dir)
	if err != nil {
		return nil, err
	}
	meta, err := readCheckpoint(dir, kindAE)
	if err != nil {
		return nil, err
	}
	a := newAutoencoder(meta.Config, meta.NB, meta.NU, rand.New(rand.NewPCG(0, 0)))
	a.dir = dir
	if err := readWeights(dir, a.enc, a.dec); err != nil {
		return nil, err
	}
	return a, nil
}

// Encode writes e(f(h)) into latent (S entries) and returns f's alpha and beta; h is N_B x N_U,
// row-major. It runs batch 1 (e.g. the latent path of a trajectory, the paper's Fig. 4) and may be
// called from several goroutines (calls are serialised).
func (a *Autoencoder) Encode(h []complex128, latent []float32) (alpha, beta float64, err error) {
	if len(h) != a.nb*a.nu || len(latent) != a.cfg.AE.Latent {
		return 0, 0, fmt.Errorf("training: Encode of %d entries into %d latents, want %d x %d into %d", len(h), len(latent), a.nb, a.nu, a.cfg.AE.Latent)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.ensureEncoder(); err != nil {
		return 0, 0, err
	}
	if a.v == nil {
		a.v = make([]float32, 2*len(h))
	}
	alpha, beta = Preprocess(h, a.v)
	z, err := a.encode([][]float32{a.v})
	if err != nil {
		return 0, 0, err
	}
	copy(latent, z[0])
	return alpha, beta, nil
}

// encodeAll encodes preprocessed channels in batches.
func (a *Autoencoder) encodeAll(vs [][]float32) ([][]float32, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.ensureEncoder(); err != nil {
		return nil, err
	}
	const chunk = 512
	var out [][]float32
	for lo := 0; lo < len(vs); lo += chunk {
		z, err := a.encode(vs[lo:min(lo+chunk, len(vs))])
		if err != nil {
			return nil, err
		}
		out = append(out, z...)
	}
	return out, nil
}

// ensureEncoder compiles e and uploads its weights once; a.mu is held.
func (a *Autoencoder) ensureEncoder() (err error) {
	if a.encExec == nil {
		a.encExec, a.encW, err = mlpExec(a.enc, "encoder")
	}
	return err
}

// mlpExec compiles the MLP of ps as a function of its input batch and copies its weights.
func mlpExec(ps params, what string) (*Exec, []*tensors.Tensor, error) {
	b, err := backend()
	if err != nil {
		return nil, nil, err
	}
	n := len(ps)
	e, err := NewExec(b, func(in []*Node) *Node { return mlp(&cursor{in[:n]}, in[n], n/2) })
	if err != nil {
		return nil, nil, fmt.Errorf("training: %s: %w", what, err)
	}
	return e, ps.tensors(), nil
}

// Reconstruct writes f^-1(d(e(f(h))), alpha, beta) into hhat with f's true alpha and beta: the
// autoencoder alone, the ceiling of any tracker that drives its decoder. Calls are serialised.
func (a *Autoencoder) Reconstruct(h, hhat []complex128) error {
	n := a.nb * a.nu
	if len(h) != n || len(hhat) != n {
		return fmt.Errorf("training: Reconstruct of %d entries into %d, want %d x %d", len(h), len(hhat), a.nb, a.nu)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.ensureEncoder(); err != nil {
		return err
	}
	if a.decExec == nil {
		var err error
		if a.decExec, a.decW, err = mlpExec(a.dec, "decoder"); err != nil {
			return err
		}
	}
	v := make([]float32, 2*n)
	alpha, beta := Preprocess(h, v)
	z, err := a.encode([][]float32{v})
	if err != nil {
		return err
	}
	args := make([]any, 0, len(a.decW)+1)
	for _, t := range a.decW {
		args = append(args, t)
	}
	out, err := a.decExec.Exec(append(args, tensors.FromFlatDataAndDimensions(z[0], 1, len(z[0])))...)
	if err != nil {
		return fmt.Errorf("training: decode: %w", err)
	}
	if err := readInto(out[0], v); err != nil {
		return fmt.Errorf("training: decode: %w", err)
	}
	Postprocess(v, alpha, beta, hhat)
	return nil
}

// encode runs the encoder on a batch of preprocessed channels; a.mu is held.
func (a *Autoencoder) encode(vs [][]float32) ([][]float32, error) {
	n := 2 * a.nb * a.nu
	x := make([]float32, 0, len(vs)*n)
	for _, v := range vs {
		x = append(x, v...)
	}
	args := make([]any, 0, len(a.encW)+1)
	for _, t := range a.encW {
		args = append(args, t)
	}
	args = append(args, tensors.FromFlatDataAndDimensions(x, len(vs), n))
	out, err := a.encExec.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("training: encode: %w", err)
	}
	flat, err := tensors.CopyFlatData[float32](out[0])
	if err != nil {
		return nil, fmt.Errorf("training: encode: %w", err)
	}
	s := a.cfg.AE.Latent
	z := make([][]float32, len(vs))
	for i := range z {
		z[i] = flat[i*s : (i+1)*s]
	}
	return z, nil
}

// splitIndices shuffles 0..n-1 with rng and holds out round(n·frac) (at least 1, at most n-1;
// none for frac 0).
func splitIndices(rng *rand.Rand, n int, frac float64) (train, val []int) {
	perm := rng.Perm(n)
	if frac == 0 {
		return perm, nil
	}
	nv := min(max(int(math.Round(float64(n)*frac)), 1), n-1)
	return perm[nv:], perm[:nv]
}

func pick(from, idx []int) []int {
	out := make([]int, len(idx))
	for i, j := range idx {
		out[i] = from[j]
	}
	return out
}

// bestVal is the best epoch's selection criterion: its validation loss, or its training loss
// without a validation split.
func bestVal(hist []EpochLoss) float64 {
	best := math.Inf(1)
	for _, h := range hist {
		best = math.Min(best, h.criterion())
	}
	return best
}
