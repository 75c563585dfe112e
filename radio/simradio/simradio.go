// Package simradio is the simulated testbed: ray-traced channels along a trajectory, phase-shifter
// arrays with their impairments, and Y = W^H H F S + N with seeded receiver noise. It knows the true
// H, so the NMSE it lets the controller compute is exact.
package simradio

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/radio"
	"github.com/cctrack/cctrack/sim"
	"github.com/cctrack/cctrack/sim/dataset"
	"github.com/cctrack/cctrack/sim/geom"
)

// Params describe the simulated testbed.
type Params struct {
	Scene        string // for Info
	BS, UE       radio.Array
	PhaseShifter beamforming.PhaseShifter
	// TxPower P_tx and Noise sigma^2, in W.
	TxPower, Noise float64
	// BSImp and UEImp are the physical arrays' deviations from their nominal weights; the zero value
	// is an ideal array.
	BSImp, UEImp beamforming.Impairments
	// Channels holds H (N_B x N_U, row-major) per trajectory step; captures walk it forwards, then
	// backwards, and so on, so that a long run keeps a continuous path.
	Channels [][]complex128
	// Seed seeds the receiver noise.
	Seed uint64
	// HideTruth makes the radio behave like hardware: Capture.Truth stays nil.
	HideTruth bool
}

// Radio is the simulated backend of radio.Radio.
type Radio struct {
	p      Params
	rng    *rand.Rand
	mb, mu int
	wH     []complex128 // conj of the physical combiner, N_B x M_B
	g      []complex128 // physical F S, N_U x M_U
	hg     []complex128 // scratch H G, N_B x M_U
	n      int
	parked bool
}

var _ radio.Radio = (*Radio)(nil)

// New checks p and returns a radio that still needs Program.
func New(p Params) (*Radio, error) {
	if len(p.Channels) == 0 {
		return nil, fmt.Errorf("simradio: no channels")
	}
	nb, nu := p.BS.N(), p.UE.N()
	for i, h := range p.Channels {
		if len(h) != nb*nu {
			return nil, fmt.Errorf("simradio: channel %d has %d entries, want N_B x N_U = %d x %d", i, len(h), nb, nu)
		}
	}
	if err := p.PhaseShifter.Validate(); err != nil {
		return nil, fmt.Errorf("simradio: %w", err)
	}
	if !(p.TxPower > 0) || !(p.Noise >= 0) {
		return nil, fmt.Errorf("simradio: want TxPower > 0 and Noise >= 0 (got %g, %g W)", p.TxPower, p.Noise)
	}
	return &Radio{p: p, rng: rand.New(rand.NewPCG(p.Seed, 0x5eed))}, nil
}

// Info describes the simulated testbed.
func (r *Radio) Info() radio.Info {
	return radio.Info{Backend: "sim", Scene: r.p.Scene, BS: r.p.BS, UE: r.p.UE, PhaseShifter: r.p.PhaseShifter,
		TxPower: r.p.TxPower, Noise: r.p.Noise}
}

// Program forms the physical weights of s: nominal phase-shifter weights times the impairments.
func (r *Radio) Program(ctx context.Context, s radio.Setup) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("simradio: program: %w", err)
	}
	nb, nu := r.p.BS.N(), r.p.UE.N()
	if s.W.N != nb || s.F.N != nu || len(s.Pilots) != s.F.M || s.W.M < 1 || s.F.M < 1 {
		return fmt.Errorf("simradio: program: want W %d x M_B, F %d x M_U and M_U pilots (got %d x %d, %d x %d, %d)",
			nb, nu, s.W.N, s.W.M, s.F.N, s.F.M, len(s.Pilots))
	}
	r.mb, r.mu = s.W.M, s.F.M
	r.wH = grow(r.wH, nb*r.mb)
	s.W.Weights(r.p.PhaseShifter, &r.p.BSImp, r.wH)
	for i, w := range r.wH {
		r.wH[i] = complex(real(w), -imag(w))
	}
	r.g = grow(r.g, nu*r.mu)
	s.F.Weights(r.p.PhaseShifter, &r.p.UEImp, r.g)
	for i := range nu {
		for j := range r.mu {
			r.g[i*r.mu+j] *= s.Pilots[j]
		}
	}
	r.hg = grow(r.hg, nb*r.mu)
	r.parked = false
	return nil
}

// Capture forms Y = W^H H G + N for the next trajectory step, N ~ CN(0, sigma^2 I).
func (r *Radio) Capture(ctx context.Context, c *radio.Capture) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("simradio: capture: %w", err)
	}
	if r.wH == nil || r.parked {
		return fmt.Errorf("simradio: capture before Program")
	}
	nb, nu, mb, mu := r.p.BS.N(), r.p.UE.N(), r.mb, r.mu
	h := r.p.Channels[PingPong(len(r.p.Channels), r.n)]
	// HG first: N_B x N_U x M_U, then W^H (HG): M_B x N_B x M_U.
	for i := range nb {
		hi, out := h[i*nu:][:nu], r.hg[i*mu:][:mu]
		clear(out)
		for k, x := range hi {
			gk := r.g[k*mu:][:mu]
			for j := range out {
				out[j] += x * gk[j]
			}
		}
	}
	c.Y = grow(c.Y, mb*mu)
	clear(c.Y)
	for i := range nb {
		wi, hgi := r.wH[i*mb:][:mb], r.hg[i*mu:][:mu]
		for b, w := range wi {
			yb := c.Y[b*mu:][:mu]
			for j, x := range hgi {
				yb[j] += w * x
			}
		}
	}
	sd := math.Sqrt(r.p.Noise / 2)
	for i := range c.Y {
		c.Y[i] += complex(sd*r.rng.NormFloat64(), sd*r.rng.NormFloat64())
	}
	if r.p.HideTruth {
		c.Truth = nil
	} else {
		c.Truth = append(c.Truth[:0], h...)
	}
	c.Interval, c.Time = r.n, time.Now()
	r.n++
	return nil
}

// Park forgets the programmed weights; a simulated radio has nothing else to make safe.
func (r *Radio) Park(ctx context.Context) error {
	r.parked = true
	return ctx.Err()
}

// PingPong is the trajectory index of capture i when walking n samples forwards then backwards.
func PingPong(n, i int) int {
	if n == 1 {
		return 0
	}
	k := i % (2 * (n - 1))
	if k >= n {
		k = 2*(n-1) - k
	}
	return k
}

// Trajectory traces the positions once and forms H at each (N_B x N_U); positions without any path
// get H = 0. progress, when not nil, is called with the number of positions traced.
func Trajectory(ctx context.Context, s *sim.Simulator, pos []geom.Vec3, progress func(done int)) ([][]complex128, error) {
	paths, err := s.Paths(ctx, pos, progress)
	if err != nil {
		return nil, fmt.Errorf("simradio: trace trajectory: %w", err)
	}
	out := make([][]complex128, len(pos))
	for i := range pos {
		out[i] = make([]complex128, s.BS.N()*s.UE.N())
		s.Channel(paths[i], pos[i], out[i])
	}
	return out, nil
}

// Dataset reads the evaluation trajectory (eval_H) of a dataset written by `cctrack sim dataset`,
// checking that its arrays are N_B x N_U.
func Dataset(path string, nb, nu int) ([][]complex128, error) {
	sh, err := dataset.ReadShard(path)
	if err != nil {
		return nil, fmt.Errorf("simradio: %w", err)
	}
	d := sh.Data
	if len(d.EvalH) == 0 {
		return nil, fmt.Errorf("simradio: %s has no evaluation trajectory (eval_H): set trajectories.evaluation when generating it", path)
	}
	if d.NB != nb || d.NU != nu {
		return nil, fmt.Errorf("simradio: %s holds %d x %d channels, the configured arrays are %d x %d", path, d.NB, d.NU, nb, nu)
	}
	return dataset.Matrices(d.EvalH, nb*nu), nil
}

func grow(s []complex128, n int) []complex128 {
	if cap(s) < n {
		return make([]complex128, n)
	}
	return s[:n]
}
