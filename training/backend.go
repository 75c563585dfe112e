package training

// This file owns every workaround for GoMLX v0.26.0's pure-Go backend (DESIGN.md, "training"):
//
//  1. Backend selection: GOMLX_BACKEND when set (one backend for everything); otherwise simplego,
//     one backend for inference and one for training steps (defaultBackendConfig and
//     defaultTrainingBackendConfig). The default backend package is never imported (it tries to
//     download XLA at run time). "ops_sequential": the backend's default parallel op scheduling
//     deadlocked in workersPool.WaitToStart on the second call of a small batch-1 graph at
//     GOMAXPROCS=2 (TestNoDeadlock guards it). "parallelism=0": every DotGeneral otherwise hands its
//     work to a new goroutine and waits for it, which cost ~15 % of a tracker training step and
//     ~25 % of a Session step (CPU time; on this shared 2-core machine the other core was never free
//     to make up for it). The backend prints one line ("SimpleGo backend: parallelism set to 0")
//     to stdout when it is created. "dotgeneral_large" (training only): the backend's kernel for
//     large products (blocked, 4 accumulators) instead of its dot-per-output one for products
//     of up to 128x128 outputs: ~15 % of a tracker step, ~8 % of an autoencoder step (CPU time);
//     batch-1 inference pads to 32x32 blocks and is 20x slower with it, hence two backends.
//  2. Gradients of Dot/DotGeneral: the stock VJP builds a broadcast multiply + reduce (a paper-size
//     autoencoder step took ~3.2 s); dotGeneralVJP expresses both adjoints as DotGeneral products
//     (~0.26 s). It is installed once, before any graph is built (TestDotGeneralVJP guards it).
//  3. Gradient of Slice: the stock VJP pads the adjoint with zeros (Pad), an op the pure-Go backend
//     lacks; sliceVJP concatenates zero blocks instead (TestSliceVJP guards it). The LSTM needs it
//     to slice its fused gates and its hoisted input projections (nets.go).
//  4. Dense weights are stored [out, in] and contracted on x's last axis with the weight's axis 1
//     (as PyTorch's Linear): the pure-Go DotGeneral copies/transposes an operand on every call
//     unless its axes are already in [batch, cross, contracting] order.
//  5. The large DotGeneral's float32 operand-to-block copy walks the axes per element and its
//     block kernel is scalar Go: installDotGeneral (dotkernel.go) replaces the copy by a gather
//     over offset tables and, on amd64 with AVX2 and FMA, the kernel by an assembly one (tracker
//     step 3.3x, autoencoder step 4.7x faster; TestDotKernel guards both).

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

const (
	// defaultBackendConfig is the inference backend when GOMLX_BACKEND is not set.
	defaultBackendConfig = simplego.BackendName + ":ops_sequential,parallelism=0"
	// defaultTrainingBackendConfig is the training backend when GOMLX_BACKEND is not set.
	defaultTrainingBackendConfig = defaultBackendConfig + ",dotgeneral_large"
)

// backend is the process-wide inference backend (a backend owns a worker pool and buffer pools, so
// models share it). The first call fixes it; the VJP overrides are installed before it is returned.
var backend = sync.OnceValues(func() (backends.Backend, error) { return openBackend(defaultBackendConfig) })

// trainingBackend is the process-wide backend of training steps: backend() itself when GOMLX_BACKEND
// is set.
var trainingBackend = sync.OnceValues(func() (backends.Backend, error) {
	if env, ok := os.LookupEnv(backends.ConfigEnvVar); ok && env != "" {
		return backend()
	}
	return openBackend(defaultTrainingBackendConfig)
})

// dotGeneral installs the DotGeneral overrides once; it reports whether the CPU took the kernel.
var dotGeneral = sync.OnceValues(installDotGeneral)

// openBackend installs the VJP and kernel overrides and opens GOMLX_BACKEND when set, otherwise def.
func openBackend(def string) (backends.Backend, error) {
	installVJPs()
	if _, err := dotGeneral(); err != nil {
		return nil, err
	}
	config := def
	if env, ok := os.LookupEnv(backends.ConfigEnvVar); ok && env != "" {
		config = env
	}
	b, err := newBackend(config)
	if err != nil {
		return nil, fmt.Errorf("training: backend %q (from %s, compiled in: %v): %w", config, backendSource(), backends.List(), err)
	}
	return b, nil
}

// newBackend is backends.NewWithConfig with its panics (an unknown backend name) turned into errors.
func newBackend(config string) (b backends.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return backends.NewWithConfig(config)
}

func backendSource() string {
	if _, ok := os.LookupEnv(backends.ConfigEnvVar); ok {
		return backends.ConfigEnvVar
	}
	return "the default"
}

var installVJPsOnce sync.Once

// installVJPs replaces the VJPs of Dot and DotGeneral by dotGeneralVJP and that of Slice by
// sliceVJP. It is idempotent.
func installVJPs() {
	installVJPsOnce.Do(func() {
		VJPRegistration[NodeTypeSlice] = func(node *Node, v []*Node, _ shapes.Shape) []*Node {
			return []*Node{sliceVJP(node, v[0])}
		}
		VJPRegistration[NodeTypeDot] = func(node *Node, v []*Node, _ shapes.Shape) []*Node {
			return dotVJP(node, v[0])
		}
		VJPRegistration[NodeTypeDotGeneral] = func(node *Node, v []*Node, _ shapes.Shape) []*Node {
			lc, lb, rc, rb := dotGeneralAxes(node)
			in := node.Inputs()
			return dotGeneralVJP(in[0], lc, lb, in[1], rc, rb, v[0])
		}
	})
}

// dotVJP is the adjoint of Dot (vector·vector, matrix·vector, matrix·matrix) as DotGeneral products.
func dotVJP(node, v *Node) []*Node {
	in := node.Inputs()
	lhs, rhs := in[0], in[1]
	switch {
	case lhs.Rank() == 1 && rhs.Rank() == 1: // scalar v
		return []*Node{Mul(v, rhs), Mul(v, lhs)}
	case lhs.Rank() == 2 && rhs.Rank() == 1: // [m,k]·[k] -> [m]
		return dotGeneralVJP(lhs, []int{1}, nil, rhs, []int{0}, nil, v)
	case lhs.Rank() == 2 && rhs.Rank() == 2: // [m,k]·[k,n] -> [m,n]
		return dotGeneralVJP(lhs, []int{1}, nil, rhs, []int{0}, nil, v)
	}
	panic(fmt.Sprintf("training: Dot of ranks %d and %d has no gradient", lhs.Rank(), rhs.Rank()))
}

// sliceVJP is the adjoint of y = Slice(x) (unit strides): v placed where y came from, zeros
// elsewhere, built per sliced axis as Concatenate([0 (start), v, 0 (dim - limit)]) since the pure-Go
// backend has no Pad. Strided slices panic: no model uses them.
func sliceVJP(node, v *Node) *Node {
	starts, limits, strides := nodeInts(node, "Slice", "starts"), nodeInts(node, "Slice", "limits"), nodeInts(node, "Slice", "strides")
	x := node.Inputs()[0]
	dims := x.Shape().Dimensions
	for axis := range dims {
		if strides[axis] > 1 {
			panic(fmt.Sprintf("training: Slice with stride %d on axis %d has no gradient (no model uses strided slices)", strides[axis], axis))
		}
		if starts[axis] == 0 && limits[axis] == dims[axis] {
			continue
		}
		parts := make([]*Node, 0, 3)
		zeros := func(n int) *Node {
			s := v.Shape().Clone()
			s.Dimensions[axis] = n
			return Zeros(v.Graph(), s)
		}
		if starts[axis] > 0 {
			parts = append(parts, zeros(starts[axis]))
		}
		parts = append(parts, v)
		if limits[axis] < dims[axis] {
			parts = append(parts, zeros(dims[axis]-limits[axis]))
		}
		v = Concatenate(parts, axis)
	}
	return v
}

// dotGeneralAxes reads the contracting and batch axes of a DotGeneral node. GoMLX keeps them in
// unexported fields; reflection reads (never writes) them. A rename in GoMLX panics here, and
// TestDotGeneralVJP fails.
func dotGeneralAxes(node *Node) (lc, lb, rc, rb []int) {
	ints := func(name string) []int { return nodeInts(node, "DotGeneral", name) }
	return ints("lhsContractingAxes"), ints("lhsBatchAxes"), ints("rhsContractingAxes"), ints("rhsBatchAxes")
}

// nodeInts reads the []int parameter field of an op's node (op names the op in the panic). GoMLX
// keeps node parameters in unexported fields; reflection reads (never writes) them. A rename in
// GoMLX panics here, and the VJP tests (TestDotGeneralVJP, TestSliceVJP) fail.
func nodeInts(node *Node, op, field string) []int {
	in := reflect.ValueOf(node).Elem().FieldByName("inputs")
	if !in.IsValid() || in.IsNil() {
		panic("training: GoMLX Node has no inputs field: the " + op + " VJP override needs updating")
	}
	p := in.Elem()
	if p.Kind() == reflect.Pointer {
		p = p.Elem()
	}
	f := p.FieldByName(field)
	if !f.IsValid() || f.Kind() != reflect.Slice {
		panic("training: GoMLX " + op + " inputs lack " + field + ": the VJP override needs updating")
	}
	out := make([]int, f.Len())
	for i := range out {
		out[i] = int(f.Index(i).Int())
	}
	return out
}

// dotGeneralVJP returns the adjoints of O = DotGeneral(L, lc, lb, R, rc, rb) for the output adjoint
// V, whose axes are [batch..., L's cross..., R's cross...], as DotGeneral products:
//
//	dL = DotGeneral(V, R) contracting V's R-cross axes with R's cross axes, batch with batch,
//	dR = DotGeneral(V, L) contracting V's L-cross axes with L's cross axes, batch with batch,
//
// each then permuted into its operand's axis order (a no-op for the [out, in] weights of dense).
func dotGeneralVJP(lhs *Node, lc, lb []int, rhs *Node, rc, rb []int, v *Node) []*Node {
	nb := len(lb)
	lCross, rCross := crossAxes(lhs.Rank(), lc, lb), crossAxes(rhs.Rank(), rc, rb)
	vBatch := axesFrom(0, nb)
	vL := axesFrom(nb, len(lCross))             // V's axes holding L's cross axes
	vR := axesFrom(nb+len(lCross), len(rCross)) // V's axes holding R's cross axes
	return []*Node{
		adjoint(lhs, lc, lb, lCross, rhs, rc, rb, rCross, v, vBatch, vR),
		adjoint(rhs, rc, rb, rCross, lhs, lc, lb, lCross, v, vBatch, vL),
	}
}

// adjoint is the VJP for operand "this" of a DotGeneral with "other": V contracted with other over
// V's other-cross axes vOther, giving axes [batch, this-cross, other's contracting axes ascending],
// transposed into this's axis order.
func adjoint(this *Node, tc, tb, tCross []int, other *Node, oc, ob, oCross []int, v *Node, vBatch, vOther []int) *Node {
	g := DotGeneral(v, vOther, vBatch, other, oCross, ob)
	nb := len(tb)
	rem := crossAxes(other.Rank(), oCross, ob) // other's contracting axes, ascending
	perm := make([]int, this.Rank())           // perm[this axis] = g's axis
	for i, a := range tb {
		perm[a] = i
	}
	for i, a := range tCross {
		perm[a] = nb + i
	}
	for k, a := range tc {
		perm[a] = nb + len(tCross) + slices.Index(rem, oc[k])
	}
	identity := true
	for i, p := range perm {
		identity = identity && i == p
	}
	if identity {
		return g
	}
	return TransposeAllAxes(g, perm...)
}

// crossAxes are the axes of a rank-r operand that are neither contracting nor batch, ascending.
func crossAxes(r int, contracting, batch []int) []int {
	var out []int
	for a := range r {
		if !slices.Contains(contracting, a) && !slices.Contains(batch, a) {
			out = append(out, a)
		}
	}
	return out
}

// axesFrom is [start, start+n).
func axesFrom(start, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = start + i
	}
	return out
}

// dense is x·Wᵀ + b for x [..., in], w [out, in], b [out]: x's last axis contracts with w's axis 1,
// so the pure-Go backend needs no operand transpose (fact 3 above). Leading axes of x are crossed.
func dense(x, w, b *Node) *Node {
	y := DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{1}, nil)
	return Add(y, ExpandLeftToRank(b, y.Rank()))
}
