package training

import (
	. "github.com/gomlx/gomlx/pkg/core/graph"
)

// cursor hands out a graph's weight nodes in the order newMLP/newLSTM created them.
type cursor struct{ nodes []*Node }

func (c *cursor) next() *Node {
	n := c.nodes[0]
	c.nodes = c.nodes[1:]
	return n
}

// mlp applies an MLP of layers dense layers to x [..., in]: ReLU after every layer but the last,
// which is linear (the paper's MLPs).
func mlp(c *cursor, x *Node, layers int) *Node {
	for i := range layers {
		x = dense(x, c.next(), c.next())
		if i < layers-1 {
			x = Max(x, ScalarZero(x.Graph(), x.DType()))
		}
	}
	return x
}

// steps splits x [B, T, F] into T nodes [B, F]. It halves the time axis recursively instead of
// slicing each step from x: the adjoint of a slice is as large as its input (the step's adjoint
// between zeros, see sliceVJP) and GoMLX adds up the adjoints of one node one by one, so T slices
// of x cost the gradient T x-sized concatenations and adds, the halving about log2(T) of them.
func steps(x *Node) []*Node {
	dims := x.Shape().Dimensions
	if dims[1] == 1 {
		return []*Node{Reshape(x, dims[0], dims[2])}
	}
	m := dims[1] / 2
	return append(steps(SliceAxis(x, 1, AxisRange(0, m))), steps(SliceAxis(x, 1, AxisRange(m)))...)
}

// stack is the inverse of steps: T nodes [B, F] into [B, T, F].
func stack(xs []*Node) *Node {
	if len(xs) == 1 {
		return InsertAxes(xs[0], 1)
	}
	ins := make([]*Node, len(xs))
	for i, x := range xs {
		ins[i] = InsertAxes(x, 1)
	}
	return Concatenate(ins, 1)
}

// lstm runs a layers-deep LSTM over x [B, T, in] from the states h0, c0 (one [B, H] per layer) and
// returns the last layer's outputs [B, T, H] and the final states. Per layer and step (PyTorch's
// LSTM; the weights are stored per gate, W_k [H, in+H] acting on [x_t, h_{t-1}] and b_k [H]):
//
//	i = σ(z_i),  f = σ(z_f),  g = tanh(z_g),  o = σ(z_o),  z_k = W_k [x_t, h_{t-1}] + b_k
//	c_t = f·c_{t-1} + i·g,  h_t = o·tanh(c_t)
//
// The pure-Go backend's cost is per op and per small DotGeneral, so the gates are fused: the four
// W_k are concatenated once per graph into W = [W_x | W_h] [4H, in+H] and the four gates sliced
// from one z = [z_i, z_f, z_g, z_o] [B, 4H]. Over T > 1 steps the input part of every step is one
// product over all steps (P = x W_xᵀ + b, [B, T, 4H]) and only z_t = P_t + h_{t-1} W_hᵀ stays in
// the time loop; a single step (a Session) is one product z = [x, h] Wᵀ + b, with no weight slices.
func lstm(c *cursor, x *Node, h0, c0 []*Node) (out *Node, h, cs []*Node) {
	for l := range h0 {
		var w, b [4]*Node
		for k := range 4 {
			w[k], b[k] = c.next(), c.next()
		}
		wAll, bAll := Concatenate(w[:], 0), Concatenate(b[:], 0)
		dims := x.Shape().Dimensions
		hl, cl := h0[l], c0[l]
		var outs []*Node
		if dims[1] == 1 {
			hl, cl = lstmCell(dense(Concatenate([]*Node{Reshape(x, dims[0], dims[2]), hl}, 1), wAll, bAll), cl)
			outs = []*Node{hl}
		} else {
			wx, wh := SliceAxis(wAll, 1, AxisRange(0, dims[2])), SliceAxis(wAll, 1, AxisRange(dims[2]))
			for _, p := range steps(dense(x, wx, bAll)) {
				hl, cl = lstmCell(Add(p, DotGeneral(hl, []int{1}, nil, wh, []int{1}, nil)), cl)
				outs = append(outs, hl)
			}
		}
		h, cs = append(h, hl), append(cs, cl)
		x = stack(outs)
	}
	return x, h, cs
}

// lstmCell is one LSTM update from the fused pre-activations z = [z_i, z_f, z_g, z_o] [B, 4H] and
// the cell state c [B, H]: it returns h_t and c_t (formula on lstm).
func lstmCell(z, c *Node) (h, cNew *Node) {
	hidden := c.Shape().Dimensions[1]
	gate := func(k int) *Node { return SliceAxis(z, 1, AxisRange(k*hidden, (k+1)*hidden)) }
	i, f, g, o := Logistic(gate(0)), Logistic(gate(1)), Tanh(gate(2)), Logistic(gate(3))
	cNew = Add(Mul(f, c), Mul(i, g))
	return Mul(o, Tanh(cNew)), cNew
}
