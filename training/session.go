package training

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Session is batch-1 inference state for one tracker (latent or end-to-end): the LSTM states
// carried from one coherence interval to the next. One Session per goroutine.
type Session struct {
	exec           *Exec
	w              []*tensors.Tensor // weights (the session's own copies)
	h, c           []*tensors.Tensor // LSTM states, one [1, H] per layer
	layers, hidden int
	nm             norm
	nb, nu, obs    int
	latentTracker  bool

	x      []float32 // features, 2 obs + 1
	out    []float32 // decoder output v (latent tracker) or normalised [Re h; Im h] (E2E)
	latent []float32 // ŝ (latent tracker only)
	ab     []float32 // normalised (ln α, ln β) (latent tracker only)
	args   []any
}

func newSession(net, dec params, layers, hidden int, nm norm, nb, nu, obs, latent int,
	forward func(w []*Node, x *Node, h0, c0 []*Node) (outs []*Node, h, c []*Node)) (*Session, error) {
	b, err := backend()
	if err != nil {
		return nil, err
	}
	nw := len(net) + len(dec)
	exec, err := NewExec(b, func(in []*Node) []*Node {
		w, h0, c0, x := in[:nw], in[nw:nw+layers], in[nw+layers:nw+2*layers], in[nw+2*layers]
		outs, h, c := forward(w, x, h0, c0)
		return append(append(outs, h...), c...)
	})
	if err != nil {
		return nil, fmt.Errorf("training: session: %w", err)
	}
	s := &Session{exec: exec, w: append(net.tensors(), dec.tensors()...), layers: layers, hidden: hidden, nm: nm,
		nb: nb, nu: nu, obs: obs, latentTracker: latent > 0,
		x: make([]float32, 2*obs+1), out: make([]float32, 2*nb*nu)}
	if latent > 0 {
		s.latent, s.ab = make([]float32, latent), make([]float32, 2)
	}
	s.Reset()
	return s, nil
}

// NewSession starts batch-1 inference with zero LSTM state.
func (m *Tracker) NewSession() (*Session, error) {
	c := m.cfg.Tracker
	return newSession(m.net, m.dec, c.LSTMLayers, c.LSTMHidden, m.norm, m.nb, m.nu, m.setup.MB*m.setup.MU, m.cfg.AE.Latent,
		func(w []*Node, x *Node, h0, c0 []*Node) ([]*Node, []*Node, []*Node) {
			s, ab, h, cs := m.forward(w[:len(m.net)], x, h0, c0)
			s = Reshape(s, 1, m.cfg.AE.Latent)
			v := mlp(&cursor{w[len(m.net):]}, s, len(m.dec)/2)
			return []*Node{v, s, Reshape(ab, 1, 2)}, h, cs
		})
}

// Reset zeroes the LSTM state: at the start of a run, after a gap or a failed interval.
func (s *Session) Reset() {
	release(s.h, s.c)
	s.h, s.c = make([]*tensors.Tensor, s.layers), make([]*tensors.Tensor, s.layers)
	for l := range s.layers {
		s.h[l] = tensors.FromFlatDataAndDimensions(make([]float32, s.hidden), 1, s.hidden)
		s.c[l] = tensors.FromFlatDataAndDimensions(make([]float32, s.hidden), 1, s.hidden)
	}
	clear(s.latent)
}

// Step advances the tracker by one interval: y is the interval's Y (M_B x M_U, row-major, as
// estimator.Estimate receives it), normalised as documented on norm (||Y||_F and the stored
// log-gain statistics; identical to training); the estimate Ĥ (N_B x N_U, row-major) goes to hhat.
// The latent tracker forms Ĥ = f^-1(d(ŝ), α̂, β̂); the end-to-end one Ĥ = out·||Y||_F/HScale.
func (s *Session) Step(y, hhat []complex128) error {
	if len(y) != s.obs || len(hhat) != s.nb*s.nu {
		return fmt.Errorf("training: session step: Y has %d entries and Ĥ %d, want M_B M_U = %d and N_B N_U = %d", len(y), len(hhat), s.obs, s.nb*s.nu)
	}
	for _, v := range y {
		if math.IsNaN(real(v)) || math.IsNaN(imag(v)) || math.IsInf(real(v), 0) || math.IsInf(imag(v), 0) {
			return fmt.Errorf("training: session step: Y holds a non-finite value")
		}
	}
	r := s.nm.features(y, s.x)
	s.args = s.args[:0]
	for _, t := range s.w {
		s.args = append(s.args, t)
	}
	for _, t := range append(s.h, s.c...) {
		s.args = append(s.args, t)
	}
	s.args = append(s.args, tensors.FromFlatDataAndDimensions(s.x, 1, 1, len(s.x)))
	out, err := s.exec.Exec(s.args...)
	if err != nil {
		return fmt.Errorf("training: session step: %w", err)
	}
	nOut := 1
	if s.latentTracker {
		nOut = 3
	}
	release(s.h, s.c)
	copy(s.h, out[nOut:nOut+s.layers])
	copy(s.c, out[nOut+s.layers:])
	if err := readInto(out[0], s.out); err != nil {
		return err
	}
	if !s.latentTracker {
		k := r / s.nm.HScale
		n := s.nb * s.nu
		for i := range hhat {
			hhat[i] = complex(float64(s.out[i])*k, float64(s.out[n+i])*k)
		}
		release(out[:1])
		return nil
	}
	if err := readInto(out[1], s.latent); err != nil {
		return err
	}
	if err := readInto(out[2], s.ab); err != nil {
		return err
	}
	release(out[:3])
	alpha := math.Exp(s.nm.LogAlphaMean + s.nm.LogAlphaStd*float64(s.ab[0]))
	beta := math.Exp(s.nm.LogBetaMean + s.nm.LogBetaStd*float64(s.ab[1]))
	Postprocess(s.out, alpha, beta, hhat)
	return nil
}

// Latent is the last predicted latent ŝ (a read-only view, valid until the next Step); nil for the
// end-to-end tracker, which has none.
func (s *Session) Latent() []float32 { return s.latent }

func readInto(t *tensors.Tensor, dst []float32) error {
	return t.ConstFlatData(func(flat any) {
		src := flat.([]float32)
		if len(src) != len(dst) {
			panic(fmt.Sprintf("training: session output of %d values, want %d", len(src), len(dst)))
		}
		copy(dst, src)
	})
}
