package training

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/cctrack/cctrack/internal/npz"
)

// param is one weight array, kept on the host in float32, row-major.
type param struct {
	name  string
	shape []int
	data  []float32
}

// params is a model's weights in the fixed order its graphs take them as inputs.
type params []param

// initUniform fills p with U(-bound, bound), bound = 1/sqrt(fanIn): PyTorch's default for Linear
// and LSTM weights and biases.
func (p *param) initUniform(rng *rand.Rand, fanIn int) {
	bound := 1 / math.Sqrt(float64(fanIn))
	for i := range p.data {
		p.data[i] = float32((2*rng.Float64() - 1) * bound)
	}
}

func newParam(name string, shape ...int) param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return param{name: name, shape: shape, data: make([]float32, n)}
}

// newMLP returns the weights of an MLP sizes[0] → ... → sizes[len-1]: per layer i, NAME.wI
// [sizes[i+1], sizes[i]] (stored [out, in], see backend.go) and NAME.bI [sizes[i+1]].
func newMLP(rng *rand.Rand, name string, sizes []int) params {
	var ps params
	for i := 0; i+1 < len(sizes); i++ {
		w := newParam(fmt.Sprintf("%s.w%d", name, i), sizes[i+1], sizes[i])
		b := newParam(fmt.Sprintf("%s.b%d", name, i), sizes[i+1])
		w.initUniform(rng, sizes[i])
		b.initUniform(rng, sizes[i])
		ps = append(ps, w, b)
	}
	return ps
}

// newLSTM returns the weights of a layers-deep LSTM of hidden size h on in inputs: per layer l and
// gate k in PyTorch's order (i, f, g, o), NAME.lL.K.w [h, in_l + h] (acting on [x, h_prev]) and
// NAME.lL.K.b [h].
func newLSTM(rng *rand.Rand, name string, in, h, layers int) params {
	var ps params
	for l := range layers {
		for _, k := range []string{"i", "f", "g", "o"} {
			w := newParam(fmt.Sprintf("%s.l%d.%s.w", name, l, k), h, in+h)
			b := newParam(fmt.Sprintf("%s.l%d.%s.b", name, l, k), h)
			w.initUniform(rng, h)
			b.initUniform(rng, h)
			ps = append(ps, w, b)
		}
		in = h
	}
	return ps
}

// tensors copies the weights into new tensors, in order.
func (ps params) tensors() []*tensors.Tensor {
	out := make([]*tensors.Tensor, len(ps))
	for i, p := range ps {
		out[i] = tensors.FromFlatDataAndDimensions(p.data, p.shape...) // copies
	}
	return out
}

// load copies ts (same order and shapes) back into the host weights.
func (ps params) load(ts []*tensors.Tensor) error {
	for i := range ps {
		data, err := tensors.CopyFlatData[float32](ts[i])
		if err != nil {
			return fmt.Errorf("training: read %s: %w", ps[i].name, err)
		}
		if len(data) != len(ps[i].data) {
			panic("training: weight " + ps[i].name + " changed size")
		}
		copy(ps[i].data, data)
	}
	return nil
}

func (ps params) clone() params {
	out := make(params, len(ps))
	for i, p := range ps {
		out[i] = param{name: p.name, shape: p.shape, data: append([]float32(nil), p.data...)}
	}
	return out
}

// write adds every weight to an npz archive under its name.
func (ps params) write(w *npz.Writer) error {
	for _, p := range ps {
		if err := w.Float32(p.name, p.shape, p.data); err != nil {
			return err
		}
	}
	return nil
}

// read fills ps from arrays read from file, checking names, types and shapes.
func (ps params) read(file string, arrs map[string]npz.Array) error {
	for i := range ps {
		p := &ps[i]
		a, ok := arrs[p.name]
		if !ok {
			return fmt.Errorf("%s: no weight %q", file, p.name)
		}
		data, ok := a.Data.([]float32)
		if !ok || !sameShape(a.Shape, p.shape) {
			return fmt.Errorf("%s: weight %q is %T of shape %v, want float32 %v (the config and the weights disagree)", file, p.name, a.Data, a.Shape, p.shape)
		}
		for _, x := range data {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("%s: weight %q holds a non-finite value", file, p.name)
			}
		}
		copy(p.data, data)
	}
	return nil
}
