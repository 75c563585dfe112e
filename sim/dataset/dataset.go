// Package dataset generates training and evaluation data from the simulator: channels over a grid of
// user positions and along trajectories, written as a numpy .npz archive:
//
//	H         complex64 [K, N_B, N_U]     channels at the K static positions with at least one path
//	pos       float64   [K, 3]            their positions (m)
//	traj_H    complex64 [N, T, N_B, N_U]  N seeded random trajectories of T coherence intervals
//	traj_pos  float64   [N, T, 3]
//	eval_H    complex64 [1, T, N_B, N_U]  the evaluation trajectory (when configured)
//	eval_pos  float64   [1, T, 3]
//	freq_hz   float64   [1]               absolute frequency of the stored subcarrier
//	config    str                         the generating configuration (JSON)
//	shard     int64     [2]               (i, n) for shard i of n; absent from whole datasets
//
// When more subcarriers are asked for (Spec.Subcarriers), the wideband channels come too:
//
//	subcarriers int64   [S]                      their indices in the OFDM grid
//	H_f         complex64 [K, S, N_B, N_U]
//	traj_H_f    complex64 [N, T, S, N_B, N_U]
//	eval_H_f    complex64 [1, T, S, N_B, N_U]
//
// Static positions without any path (inside buildings, fully shadowed) are dropped and counted,
// since an all-zero H has no meaningful normalisation. Trajectory samples are kept as they are.
//
// Large datasets shard: shard i of n traces the i-th contiguous n-th of the static positions and of
// the random trajectories (every shard draws all trajectories from the one seeded stream, so each
// keeps its place), and shard 0 the evaluation trajectory. Merge puts the shards back together;
// since every receiver is traced independently, the merged file is byte-identical to a single run.
package dataset

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/cctrack/cctrack/internal/npz"
	"github.com/cctrack/cctrack/sim"
	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/users"
)

// Spec says which positions and trajectories to generate.
type Spec struct {
	Grid   users.Grid
	Points []geom.Vec3
	Traj   users.TrajectoryParams
	// Count random trajectories drawn with Seed on a street lattice of LatticeStep metres, confined
	// to the xy box [RegionLo, RegionHi] (the whole scene when they are equal).
	Count              int
	Seed               uint64
	LatticeStep        float64
	RegionLo, RegionHi geom.Vec3
	// Evaluation waypoints (z = user height); none means no evaluation trajectory.
	Evaluation []geom.Vec3
	// Shard of Shards (0 <= Shard < Shards); Shards 0 or 1 means the whole dataset.
	Shard, Shards int
	// Subcarriers, when not empty, adds the channels at these OFDM subcarrier indices (H_f ...).
	Subcarriers []int
}

// part is the contiguous share of n items that shard i of m gets.
func part(n, i, m int) (lo, hi int) { return i * n / m, (i + 1) * n / m }

// Dataset is generated data, flat in numpy's C order.
type Dataset struct {
	NB, NU  int
	K, N, T int
	H       []complex64
	Pos     []float64
	TrajH   []complex64
	TrajPos []float64
	EvalH   []complex64
	EvalPos []float64
	FreqHz  float64
	// Subcarriers and the wideband channels at them (empty unless asked for).
	Subcarriers        []int
	HF, TrajHF, EvalHF []complex64
	DroppedNoPath      int
	// TrajNoPath counts trajectory samples (random and evaluation) without any path: their H is 0.
	TrajNoPath int
	// Shard and Shards are set for a shard of a larger dataset (Shards > 1).
	Shard, Shards int
}

// Trajectories draws the seeded random trajectories and the evaluation trajectory of spec.
func Trajectories(ctx context.Context, s *sim.Simulator, spec Spec) (random [][]geom.Vec3, eval []geom.Vec3, err error) {
	if len(spec.Evaluation) > 0 {
		if eval, err = users.FromWaypoints(spec.Evaluation, spec.Traj); err != nil {
			return nil, nil, fmt.Errorf("evaluation trajectory: %w", err)
		}
	}
	if spec.Count == 0 {
		return nil, eval, nil
	}
	height := spec.Grid.Origin.Z
	w, err := s.Walkable(ctx, spec.RegionLo, spec.RegionHi, spec.LatticeStep, height)
	if err != nil {
		return nil, nil, err
	}
	rng := rand.New(rand.NewPCG(spec.Seed, 0x63637472))
	for i := 0; i < spec.Count; i++ {
		tr, err := w.Random(rng, spec.Traj)
		if err != nil {
			return nil, nil, fmt.Errorf("random trajectory %d: %w", i, err)
		}
		random = append(random, tr)
	}
	return random, eval, nil
}

// Generate traces every position of spec and forms the channels. progress receives the number of
// positions traced so far out of the total it returns first through total.
func Generate(ctx context.Context, s *sim.Simulator, spec Spec, total func(n int), progress func(done int)) (*Dataset, error) {
	if spec.Shards > 1 && (spec.Shard < 0 || spec.Shard >= spec.Shards) {
		return nil, fmt.Errorf("shard %d/%d: want 0 <= i < n", spec.Shard, spec.Shards)
	}
	random, eval, err := Trajectories(ctx, s, spec)
	if err != nil {
		return nil, err
	}
	static := append(spec.Grid.Points(), spec.Points...)
	if spec.Shards > 1 {
		lo, hi := part(len(static), spec.Shard, spec.Shards)
		static = static[lo:hi]
		lo, hi = part(len(random), spec.Shard, spec.Shards)
		random = random[lo:hi]
		if spec.Shard != 0 {
			eval = nil
		}
	}
	all := append([]geom.Vec3(nil), static...)
	for _, tr := range random {
		all = append(all, tr...)
	}
	all = append(all, eval...)
	if total != nil {
		total(len(all))
	}
	paths, err := s.Paths(ctx, all, progress)
	if err != nil {
		return nil, err
	}

	d := &Dataset{NB: s.BS.N(), NU: s.UE.N(), T: spec.Traj.Steps, N: len(random), FreqHz: s.Frequency()}
	if spec.Shards > 1 {
		d.Shard, d.Shards = spec.Shard, spec.Shards
	}
	for _, k := range spec.Subcarriers {
		if k < 0 || k >= s.OFDM.Subcarriers {
			return nil, fmt.Errorf("subcarrier %d: want an index in [0, %d)", k, s.OFDM.Subcarriers)
		}
	}
	d.Subcarriers = spec.Subcarriers
	size := d.NB * d.NU
	h := make([]complex128, size)
	hf := make([][]complex128, len(spec.Subcarriers))
	for k := range hf {
		hf[k] = make([]complex128, size)
	}
	// appendH appends position i's channel to dst and, with subcarriers, its wideband channels to
	// dstF.
	appendH := func(dst, dstF *[]complex64, i int) {
		if i >= len(static) && len(paths[i]) == 0 {
			d.TrajNoPath++
		}
		s.Channel(paths[i], all[i], h)
		*dst = appendC64(*dst, h)
		if len(hf) > 0 {
			s.ChannelsAt(paths[i], all[i], spec.Subcarriers, hf)
			for _, m := range hf {
				*dstF = appendC64(*dstF, m)
			}
		}
	}
	appendPos := func(dst []float64, p geom.Vec3) []float64 { return append(dst, p.X, p.Y, p.Z) }
	for i, p := range static {
		if len(paths[i]) == 0 {
			d.DroppedNoPath++
			continue
		}
		appendH(&d.H, &d.HF, i)
		d.Pos = appendPos(d.Pos, p)
		d.K++
	}
	i := len(static)
	for _, tr := range random {
		for _, p := range tr {
			appendH(&d.TrajH, &d.TrajHF, i)
			d.TrajPos = appendPos(d.TrajPos, p)
			i++
		}
	}
	for _, p := range eval {
		appendH(&d.EvalH, &d.EvalHF, i)
		d.EvalPos = appendPos(d.EvalPos, p)
		i++
	}
	return d, nil
}

// Matrices splits flat complex64 samples (a dataset's H, traj_H or eval_H) into matrices of n
// entries each, widened to complex128.
func Matrices(flat []complex64, n int) [][]complex128 {
	out := make([][]complex128, len(flat)/n)
	for i := range out {
		out[i] = make([]complex128, n)
		for j, x := range flat[i*n : (i+1)*n] {
			out[i][j] = complex128(x)
		}
	}
	return out
}

func appendC64(dst []complex64, src []complex128) []complex64 {
	for _, x := range src {
		dst = append(dst, complex64(x))
	}
	return dst
}

// WriteNPZ writes the dataset and the generating configuration text.
func (d *Dataset) WriteNPZ(w io.Writer, config string) error {
	z := npz.NewWriter(w)
	steps := []func() error{
		func() error { return z.Complex64("H", []int{d.K, d.NB, d.NU}, d.H) },
		func() error { return z.Float64("pos", []int{d.K, 3}, d.Pos) },
		func() error { return z.Complex64("traj_H", []int{d.N, d.T, d.NB, d.NU}, d.TrajH) },
		func() error { return z.Float64("traj_pos", []int{d.N, d.T, 3}, d.TrajPos) },
		func() error { return z.Float64("freq_hz", []int{1}, []float64{d.FreqHz}) },
		func() error { return z.String("config", config) },
	}
	if d.Shards > 1 {
		steps = append(steps, func() error { return z.Int64("shard", []int{2}, []int64{int64(d.Shard), int64(d.Shards)}) })
	}
	if d.EvalPos != nil {
		steps = append(steps,
			func() error { return z.Complex64("eval_H", []int{1, d.T, d.NB, d.NU}, d.EvalH) },
			func() error { return z.Float64("eval_pos", []int{1, d.T, 3}, d.EvalPos) })
	}
	if s := len(d.Subcarriers); s > 0 {
		ids := make([]int64, s)
		for i, k := range d.Subcarriers {
			ids[i] = int64(k)
		}
		steps = append(steps,
			func() error { return z.Int64("subcarriers", []int{s}, ids) },
			func() error { return z.Complex64("H_f", []int{d.K, s, d.NB, d.NU}, d.HF) },
			func() error { return z.Complex64("traj_H_f", []int{d.N, d.T, s, d.NB, d.NU}, d.TrajHF) })
		if d.EvalPos != nil {
			steps = append(steps, func() error { return z.Complex64("eval_H_f", []int{1, d.T, s, d.NB, d.NU}, d.EvalHF) })
		}
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("write dataset: %w", err)
		}
	}
	if err := z.Close(); err != nil {
		return fmt.Errorf("write dataset: %w", err)
	}
	return nil
}
