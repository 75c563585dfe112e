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

// steps splits x [B, T, F] into T nodes [B, F]. x must not depend on weights: the gradient of a
// slice needs Pad, which the pure-Go backend lacks, so graphs slice only their data inputs.
func steps(x *Node) []*Node {
	out := make([]*Node, x.Shape().Dimensions[1])
	for t := range out {
		out[t] = Squeeze(SliceAxis(x, 1, AxisElem(t)), 1)
	}
	return out
}

// stack is the inverse of steps: T nodes [B, F] into [B, T, F] (its gradient slices, which is fine).
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

// lstm runs a layers-deep LSTM over the steps xs ([B, in] each) from the states h0, c0 (one [B, H]
// per layer) and returns the last layer's outputs per step and the final states. Per layer and step
// (PyTorch's LSTM, one weight [H, in+H] and bias [H] per gate, so no weight-dependent slicing):
//
//	u = [x_t, h_{t-1}],  i = σ(W_i u + b_i),  f = σ(W_f u + b_f),  g = tanh(W_g u + b_g),  o = σ(W_o u + b_o)
//	c_t = f·c_{t-1} + i·g,  h_t = o·tanh(c_t)
func lstm(c *cursor, xs []*Node, h0, c0 []*Node) (outs []*Node, h, cs []*Node) {
	for l := range h0 {
		var w, b [4]*Node
		for k := range 4 {
			w[k], b[k] = c.next(), c.next()
		}
		hl, cl := h0[l], c0[l]
		outs = make([]*Node, len(xs))
		for t, x := range xs {
			u := Concatenate([]*Node{x, hl}, 1)
			i, f := Logistic(dense(u, w[0], b[0])), Logistic(dense(u, w[1], b[1]))
			g, o := Tanh(dense(u, w[2], b[2])), Logistic(dense(u, w[3], b[3]))
			cl = Add(Mul(f, cl), Mul(i, g))
			hl = Mul(o, Tanh(cl))
			outs[t] = hl
		}
		h, cs = append(h, hl), append(cs, cl)
		xs = outs
	}
	return outs, h, cs
}
