package training

import (
	"fmt"
	"math"
	"path/filepath"

	"github.com/cctrack/cctrack/internal/npz"
	"github.com/cctrack/cctrack/sim/dataset"
)

// Data is what training reads: static channels with their positions (the autoencoder) and
// trajectories (the trackers). Every channel is N_B x N_U, row-major.
type Data struct {
	NB, NU  int
	H       [][]complex128 // K static channels
	Pos     [][3]float64   // their positions (m)
	Traj    [][][]complex128
	TrajPos [][][3]float64 // N trajectories x T steps
	Eval    [][]complex128 // the evaluation trajectory (may be empty)
	EvalPos [][3]float64
	// Source is the absolute path of the dataset file ("" for in-memory data); checkpoints record it.
	Source string
}

// ReadDataset reads a `cctrack sim dataset` archive (keys H, pos, traj_H, traj_pos and, when
// present, eval_H, eval_pos). Errors name the file and the key.
func ReadDataset(path string) (*Data, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("training: dataset %s: %w", path, err)
	}
	arrs, err := npz.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("training: dataset: %w", err)
	}
	c64 := func(key string, rank int) ([]complex64, []int, error) {
		a, ok := arrs[key]
		if !ok {
			return nil, nil, fmt.Errorf("training: dataset %s: no array %q", abs, key)
		}
		v, ok := a.Data.([]complex64)
		if !ok || len(a.Shape) != rank {
			return nil, nil, fmt.Errorf("training: dataset %s: %s is %T of shape %v, want complex64 of rank %d", abs, key, a.Data, a.Shape, rank)
		}
		return v, a.Shape, nil
	}
	f64 := func(key string, shape ...int) ([]float64, error) {
		a, ok := arrs[key]
		if !ok {
			return nil, fmt.Errorf("training: dataset %s: no array %q", abs, key)
		}
		v, ok := a.Data.([]float64)
		if !ok || !sameShape(a.Shape, shape) {
			return nil, fmt.Errorf("training: dataset %s: %s is %T of shape %v, want float64 %v", abs, key, a.Data, a.Shape, shape)
		}
		return v, nil
	}
	h, hs, err := c64("H", 3)
	if err != nil {
		return nil, err
	}
	d := &dataset.Dataset{K: hs[0], NB: hs[1], NU: hs[2], H: h}
	if d.Pos, err = f64("pos", d.K, 3); err != nil {
		return nil, err
	}
	th, ts, err := c64("traj_H", 4)
	if err != nil {
		return nil, err
	}
	if ts[2] != d.NB || ts[3] != d.NU {
		return nil, fmt.Errorf("training: dataset %s: traj_H has shape %v, want [N, T, %d, %d] as H", abs, ts, d.NB, d.NU)
	}
	d.N, d.T, d.TrajH = ts[0], ts[1], th
	if d.TrajPos, err = f64("traj_pos", d.N, d.T, 3); err != nil {
		return nil, err
	}
	if _, ok := arrs["eval_H"]; ok {
		eh, es, err := c64("eval_H", 4)
		if err != nil {
			return nil, err
		}
		if es[0] != 1 || es[2] != d.NB || es[3] != d.NU {
			return nil, fmt.Errorf("training: dataset %s: eval_H has shape %v, want [1, T, %d, %d]", abs, es, d.NB, d.NU)
		}
		d.EvalH = eh
		if d.EvalPos, err = f64("eval_pos", 1, es[1], 3); err != nil {
			return nil, err
		}
	}
	out := FromDataset(d)
	out.Source = abs
	return out, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FromDataset converts generated data (sim/dataset.Generate) for training.
func FromDataset(d *dataset.Dataset) *Data {
	n := d.NB * d.NU
	out := &Data{NB: d.NB, NU: d.NU}
	out.H = dataset.Matrices(d.H, n)
	out.Pos = positions(d.Pos)
	for i := range d.N {
		out.Traj = append(out.Traj, dataset.Matrices(d.TrajH[i*d.T*n:(i+1)*d.T*n], n))
		out.TrajPos = append(out.TrajPos, positions(d.TrajPos[i*d.T*3:(i+1)*d.T*3]))
	}
	out.Eval = dataset.Matrices(d.EvalH, n)
	out.EvalPos = positions(d.EvalPos)
	return out
}

func positions(flat []float64) [][3]float64 {
	out := make([][3]float64, len(flat)/3)
	for i := range out {
		copy(out[i][:], flat[3*i:])
	}
	return out
}

// minBetaRatio floors beta at this fraction of alpha, so that a channel whose entries all have the
// same magnitude (a single path on ideal arrays) still has a finite, invertible normalisation.
const minBetaRatio = 1e-6

// Preprocess is the paper's f (eq. 5): alpha = mean|h|, beta = std|h| (population) over all
// entries, and
//
//	v[i]        = (|h_i| - alpha) / beta
//	v[len(h)+i] = angle(h_i) / pi          (in (-1, 1])
//
// with h in its row-major order (the network only needs one fixed order). beta is floored at
// 1e-6·alpha (returned as used, so Postprocess inverts it); an all-zero h gives v = 0, alpha = beta = 0.
// It panics unless len(v) == 2 len(h).
func Preprocess(h []complex128, v []float32) (alpha, beta float64) {
	if len(v) != 2*len(h) {
		panic(fmt.Sprintf("training: Preprocess of %d entries into %d", len(h), len(v)))
	}
	for _, x := range h {
		alpha += cabs(x)
	}
	alpha /= float64(len(h))
	for _, x := range h {
		d := cabs(x) - alpha
		beta += d * d
	}
	beta = math.Sqrt(beta / float64(len(h)))
	beta = math.Max(beta, minBetaRatio*alpha)
	n := len(h)
	for i, x := range h {
		if beta > 0 {
			v[i] = float32((cabs(x) - alpha) / beta)
		} else {
			v[i] = 0
		}
		v[n+i] = float32(math.Atan2(imag(x), real(x)) / math.Pi)
	}
	return alpha, beta
}

// Postprocess is the paper's f^-1 (eq. 6): h_i = (beta·v[i] + alpha)·exp(j·pi·v[len(h)+i]). A
// negative amplitude (a decoder may output one) is kept as it is: it is a phase flip, not clamped.
// It panics unless len(v) == 2 len(h).
func Postprocess(v []float32, alpha, beta float64, h []complex128) {
	if len(v) != 2*len(h) {
		panic(fmt.Sprintf("training: Postprocess of %d values into %d entries", len(v), len(h)))
	}
	n := len(h)
	for i := range h {
		a := beta*float64(v[i]) + alpha
		s, c := math.Sincos(math.Pi * float64(v[n+i]))
		h[i] = complex(a*c, a*s)
	}
}

func cabs(x complex128) float64 { return math.Hypot(real(x), imag(x)) }
