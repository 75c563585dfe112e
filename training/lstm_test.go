package training

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestSliceVJP checks the Slice gradient override: the loss sum(Slice(x)·c) is linear in x, so its
// gradient is exactly c where the slice came from and zero elsewhere (no rounding: the adjoint is
// only copied and concatenated with zeros).
func TestSliceVJP(t *testing.T) {
	b, err := backend()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		dims          []int
		starts, limit []int
	}{
		{"middle of one axis", []int{3, 8}, []int{0, 2}, []int{3, 5}},
		{"prefix", []int{3, 8}, []int{0, 0}, []int{3, 4}},
		{"suffix", []int{3, 8}, []int{0, 4}, []int{3, 8}},
		{"two axes, rank 3", []int{2, 5, 4}, []int{1, 1, 0}, []int{2, 4, 4}},
		{"whole", []int{2, 3}, []int{0, 0}, []int{2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 5))
			specs := make([]SliceAxisSpec, len(tc.dims))
			outDims := make([]int, len(tc.dims))
			for a := range specs {
				specs[a] = AxisRange(tc.starts[a], tc.limit[a])
				outDims[a] = tc.limit[a] - tc.starts[a]
			}
			c := randn(rng, outDims)
			exec, err := NewExec(b, func(x *Node) *Node {
				cn := Const(x.Graph(), tensors.FromFlatDataAndDimensions(c, outDims...))
				return Gradient(ReduceAllSum(Mul(Slice(x, specs...), cn)), x)[0]
			})
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Exec(tensors.FromFlatDataAndDimensions(randn(rng, tc.dims), tc.dims...))
			if err != nil {
				t.Fatal(err)
			}
			got := tensors.MustCopyFlatData[float64](out[0])
			// want[i] = c at the sliced position of flat index i, 0 elsewhere.
			idx, k := make([]int, len(tc.dims)), 0
			for i := range got {
				rem, in := i, true
				for a := len(tc.dims) - 1; a >= 0; a-- {
					idx[a] = rem % tc.dims[a]
					rem /= tc.dims[a]
					in = in && idx[a] >= tc.starts[a] && idx[a] < tc.limit[a]
				}
				want := 0.0
				if in {
					want, k = c[k], k+1 // slice positions come in row-major order too
				}
				if got[i] != want {
					t.Errorf("entry %v: gradient %g, want %g", idx, got[i], want)
				}
			}
		})
	}
}

// refLSTM is a plain-Go float64 LSTM with per-gate weights in newLSTM's order, written as the
// formula on lstm with no fusion or hoisting: it returns the last layer's outputs [B, T, H] and the
// final h, c per layer.
func refLSTM(w [][]float64, x []float64, b, tSteps, in, hidden, layers int, h0, c0 [][]float64) (out []float64, h, c [][]float64) {
	sigma := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	for l := range layers {
		hl, cl := append([]float64(nil), h0[l]...), append([]float64(nil), c0[l]...)
		next := make([]float64, b*tSteps*hidden)
		for t := range tSteps {
			hNew, cNew := make([]float64, b*hidden), make([]float64, b*hidden)
			for r := range b {
				u := append(append([]float64(nil), x[(r*tSteps+t)*in:(r*tSteps+t+1)*in]...), hl[r*hidden:(r+1)*hidden]...)
				var z [4][]float64
				for k := range 4 {
					wk, bk := w[8*l+2*k], w[8*l+2*k+1]
					z[k] = make([]float64, hidden)
					for j := range hidden {
						s := bk[j]
						for q, uq := range u {
							s += wk[j*len(u)+q] * uq
						}
						z[k][j] = s
					}
				}
				for j := range hidden {
					i, f, g, o := sigma(z[0][j]), sigma(z[1][j]), math.Tanh(z[2][j]), sigma(z[3][j])
					cNew[r*hidden+j] = f*cl[r*hidden+j] + i*g
					hNew[r*hidden+j] = o * math.Tanh(cNew[r*hidden+j])
					next[(r*tSteps+t)*hidden+j] = hNew[r*hidden+j]
				}
			}
			hl, cl = hNew, cNew
		}
		h, c = append(h, hl), append(c, cl)
		x, in = next, hidden
	}
	return x, h, c
}

// lstmCase is a small random LSTM problem: weights in newLSTM's order, an input [B, T, in] and
// random initial states.
type lstmCase struct {
	b, t, in, hidden, layers int
	w                        [][]float64
	wDims                    [][]int
	x                        []float64
	h0, c0                   [][]float64
}

func newLSTMCase(seed uint64, b, t, in, hidden, layers int) *lstmCase {
	rng := rand.New(rand.NewPCG(seed, 1))
	lc := &lstmCase{b: b, t: t, in: in, hidden: hidden, layers: layers}
	for _, p := range newLSTM(rng, "lstm", in, hidden, layers) {
		v := make([]float64, len(p.data))
		for i, f := range p.data {
			v[i] = 3 * float64(f) // larger than the init so that the gates saturate somewhat
		}
		lc.w, lc.wDims = append(lc.w, v), append(lc.wDims, p.shape)
	}
	lc.x = randn(rng, []int{b, t, in})
	for range layers {
		lc.h0, lc.c0 = append(lc.h0, randn(rng, []int{b, hidden})), append(lc.c0, randn(rng, []int{b, hidden}))
	}
	return lc
}

// inputs are the case's arrays as tensors of dtype dt, in the order lstmExec takes them: weights,
// x, h0 per layer, c0 per layer.
func (lc *lstmCase) inputs(dt dtypes.DType) []any {
	conv := func(v []float64, dims ...int) *tensors.Tensor {
		if dt == dtypes.Float64 {
			return tensors.FromFlatDataAndDimensions(append([]float64(nil), v...), dims...)
		}
		f := make([]float32, len(v))
		for i, x := range v {
			f[i] = float32(x)
		}
		return tensors.FromFlatDataAndDimensions(f, dims...)
	}
	var out []any
	for i, w := range lc.w {
		out = append(out, conv(w, lc.wDims[i]...))
	}
	out = append(out, conv(lc.x, lc.b, lc.t, lc.in))
	for _, s := range append(append([][]float64(nil), lc.h0...), lc.c0...) {
		out = append(out, conv(s, lc.b, lc.hidden))
	}
	return out
}

// split cuts lstmExec's inputs into weights, x, h0 and c0.
func (lc *lstmCase) split(in []*Node) (w []*Node, x *Node, h0, c0 []*Node) {
	nw := len(lc.w)
	return in[:nw], in[nw], in[nw+1 : nw+1+lc.layers], in[nw+1+lc.layers:]
}

// TestLSTMMatchesReference: the fused lstm (hoisted over T = 5 steps; one product for T = 1, as in
// a Session) gives the outputs and final states of the per-gate formula (refLSTM). In float64 the
// two differ only by summation order: ~1e-16 per term over at most in+H+1 = 8 terms per gate,
// growing little through 5 steps, so 1e-12 is far above rounding and far below any algebraic
// mistake. In float32 (what the models run), against the same float64 reference, the error is
// float32 rounding: eps 6e-8 times the same short sums and O(1) activations, so 2e-5 leaves a
// margin of 10-20x.
func TestLSTMMatchesReference(t *testing.T) {
	b, err := backend()
	if err != nil {
		t.Fatal(err)
	}
	for _, steps := range []int{5, 1} {
		lc := newLSTMCase(7, 3, steps, 4, 3, 3)
		wantOut, wantH, wantC := refLSTM(lc.w, lc.x, lc.b, lc.t, lc.in, lc.hidden, lc.layers, lc.h0, lc.c0)
		want := append([][]float64{wantOut}, append(wantH, wantC...)...)
		for _, tc := range []struct {
			dt  dtypes.DType
			tol float64
		}{{dtypes.Float64, 1e-12}, {dtypes.Float32, 2e-5}} {
			t.Run(fmt.Sprintf("T=%d/%s", steps, tc.dt), func(t *testing.T) {
				exec, err := NewExec(b, func(in []*Node) []*Node {
					w, x, h0, c0 := lc.split(in)
					out, h, c := lstm(&cursor{w}, x, h0, c0)
					return append(append([]*Node{out}, h...), c...)
				})
				if err != nil {
					t.Fatal(err)
				}
				got, err := exec.Exec(lc.inputs(tc.dt)...)
				if err != nil {
					t.Fatal(err)
				}
				for k, g := range got {
					var v []float64
					if tc.dt == dtypes.Float64 {
						v = tensors.MustCopyFlatData[float64](g)
					} else {
						for _, f := range tensors.MustCopyFlatData[float32](g) {
							v = append(v, float64(f))
						}
					}
					for i := range v {
						if math.Abs(v[i]-want[k][i]) > tc.tol {
							t.Fatalf("output %d entry %d: %g, reference %g", k, i, v[i], want[k][i])
						}
					}
				}
			})
		}
	}
}

// TestLSTMGradient checks the whole fused LSTM's gradient (through the Slice, Concatenate and
// DotGeneral VJPs) with respect to every weight, the input and the initial states against central
// finite differences in float64. The loss sum(out·c1) + sum(h_T·c2) + sum(c_T·c3) is smooth; with
// h = 1e-5 the truncation error is ~h²·|f⁽³⁾| ≈ 1e-10 and the rounding ~1e-16/h ≈ 1e-11, so 1e-7
// relative is loose enough for both and tight enough to catch any wrong adjoint.
func TestLSTMGradient(t *testing.T) {
	b, err := backend()
	if err != nil {
		t.Fatal(err)
	}
	lc := newLSTMCase(9, 2, 4, 3, 2, 2)
	rng := rand.New(rand.NewPCG(11, 0))
	var cs [][]float64
	loss := func(in []*Node) *Node {
		w, x, h0, c0 := lc.split(in)
		out, h, c := lstm(&cursor{w}, x, h0, c0)
		terms := append(append([]*Node{out}, h...), c...)
		if cs == nil {
			for _, n := range terms {
				cs = append(cs, randn(rng, n.Shape().Dimensions))
			}
		}
		var l *Node
		for k, n := range terms {
			s := ReduceAllSum(Mul(n, Const(n.Graph(), tensors.FromFlatDataAndDimensions(cs[k], n.Shape().Dimensions...))))
			if l == nil {
				l = s
			} else {
				l = Add(l, s)
			}
		}
		return l
	}
	gradExec, err := NewExec(b, func(in []*Node) []*Node { return Gradient(loss(in), in...) })
	if err != nil {
		t.Fatal(err)
	}
	lossExec, err := NewExec(b, func(in []*Node) *Node { return loss(in) })
	if err != nil {
		t.Fatal(err)
	}
	grads, err := gradExec.Exec(lc.inputs(dtypes.Float64)...)
	if err != nil {
		t.Fatal(err)
	}
	eval := func() float64 {
		out, err := lossExec.Exec(lc.inputs(dtypes.Float64)...)
		if err != nil {
			t.Fatal(err)
		}
		return tensors.MustCopyFlatData[float64](out[0])[0]
	}
	arrays := append(append(append(append([][]float64(nil), lc.w...), lc.x), lc.h0...), lc.c0...)
	for k, a := range arrays {
		g := tensors.MustCopyFlatData[float64](grads[k])
		for i := range a {
			const h = 1e-5
			old := a[i]
			a[i] = old + h
			up := eval()
			a[i] = old - h
			down := eval()
			a[i] = old
			if fd := (up - down) / (2 * h); math.Abs(fd-g[i]) > 1e-7*(1+math.Abs(fd)) {
				t.Errorf("input %d entry %d: gradient %g, finite difference %g", k, i, g[i], fd)
			}
		}
	}
}

// randn is a slice of standard normal values for an array of the given dimensions.
func randn(rng *rand.Rand, dims []int) []float64 {
	n := 1
	for _, d := range dims {
		n *= d
	}
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	return x
}
