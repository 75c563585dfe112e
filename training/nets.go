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

// steps splits x [B, T, F] into T nodes [B, F] (a reshape when T = 1, as in a Session step).
func steps(x *Node) []*Node {
	dims := x.Shape().Dimensions
	if dims[1] == 1 {
		return []*Node{Reshape(x, dims[0], dims[2])}
	}
	out := make([]*Node, dims[1])
	for t := range out {
		out[t] = Squeeze(SliceAxis(x, 1, AxisElem(t)), 1)
	}
	return out
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
// W_k are concatenated once per graph into W = [W_x | W_h] [4H, in+H], the input part of every step
// is one product over all T steps (P = x W_xᵀ + b, [B, T, 4H]) and only z_t = P_t + h_{t-1} W_hᵀ
// stays in the time loop, its four gates sliced from [B, 4H].
func lstm(c *cursor, x *Node, h0, c0 []*Node) (out *Node, h, cs []*Node) {
	for l := range h0 {
		var w, b [4]*Node
		for k := range 4 {
			w[k], b[k] = c.next(), c.next()
		}
		in, hidden := x.Shape().Dimensions[2], h0[l].Shape().Dimensions[1]
		wAll := Concatenate(w[:], 0)
		wx, wh := SliceAxis(wAll, 1, AxisRange(0, in)), SliceAxis(wAll, 1, AxisRange(in))
		gate := func(z *Node, k int) *Node { return SliceAxis(z, 1, AxisRange(k*hidden, (k+1)*hidden)) }
		hl, cl := h0[l], c0[l]
		px := steps(dense(x, wx, Concatenate(b[:], 0)))
		outs := make([]*Node, len(px))
		for t, p := range px {
			z := Add(p, DotGeneral(hl, []int{1}, nil, wh, []int{1}, nil))
			i, f := Logistic(gate(z, 0)), Logistic(gate(z, 1))
			g, o := Tanh(gate(z, 2)), Logistic(gate(z, 3))
			cl = Add(Mul(f, cl), Mul(i, g))
			hl = Mul(o, Tanh(cl))
			outs[t] = hl
		}
		h, cs = append(h, hl), append(cs, cl)
		x = stack(outs)
	}
	return x, h, cs
}
