package simradio

import (
	"context"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/radio"
)

func randomChannels(nb, nu, steps int, seed uint64) [][]complex128 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][]complex128, steps)
	for i := range out {
		out[i] = make([]complex128, nb*nu)
		for j := range out[i] {
			out[i][j] = complex(rng.NormFloat64(), rng.NormFloat64())
		}
	}
	return out
}

func setup(t testing.TB, bs, ue radio.Array, mb, mu int, ps beamforming.PhaseShifter, tx float64) radio.Setup {
	t.Helper()
	w, err := beamforming.Codebook("random", bs.Nh, bs.Nv, mb, ps, 1)
	if err != nil {
		t.Fatal(err)
	}
	f, err := beamforming.Codebook("dft", ue.Nh, ue.Nv, mu, ps, 0)
	if err != nil {
		t.Fatal(err)
	}
	return radio.Setup{W: w, F: f, Pilots: beamforming.Pilots(mu, tx)}
}

// Noiseless, Y must be W^H H F S with the physical (impaired) weights, computed here directly from
// the definition; 1e-12 relative is float64 round-off over sums of ~100 terms.
func TestCaptureIsTheSignalModel(t *testing.T) {
	bs, ue := radio.Array{Nh: 4, Nv: 3}, radio.Array{Nh: 2, Nv: 2}
	ps := beamforming.PhaseShifter{Bits: 6}
	p := Params{BS: bs, UE: ue, PhaseShifter: ps, TxPower: 2, Channels: randomChannels(12, 4, 3, 1),
		BSImp: beamforming.NewImpairments(12, 1, 10, 2, 5), UEImp: beamforming.NewImpairments(4, 1, 10, 0, 6)}
	r, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	s := setup(t, bs, ue, 5, 3, ps, p.TxPower)
	if err := r.Program(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	w := make([]complex128, 12*5)
	s.W.Weights(ps, &p.BSImp, w)
	f := make([]complex128, 4*3)
	s.F.Weights(ps, &p.UEImp, f)
	var c radio.Capture
	for step := range 5 {
		if err := r.Capture(context.Background(), &c); err != nil {
			t.Fatal(err)
		}
		h := p.Channels[PingPong(3, step)]
		if !slices.Equal(c.Truth, h) || c.Interval != step {
			t.Fatalf("step %d: truth/interval mismatch", step)
		}
		for b := range 5 {
			for u := range 3 {
				var y complex128
				for i := range 12 {
					for k := range 4 {
						y += cmplx.Conj(w[i*5+b]) * h[i*4+k] * f[k*3+u] * s.Pilots[u]
					}
				}
				if d := cmplx.Abs(c.Y[b*3+u] - y); d > 1e-12*cmplx.Abs(y)+1e-15 {
					t.Fatalf("step %d: Y[%d][%d] = %v, want %v", step, b, u, c.Y[b*3+u], y)
				}
			}
		}
	}
}

// With H = 0, Y is the noise: its mean power must be sigma^2. 20000 complex samples give a relative
// standard error of 1/sqrt(20000) = 0.7 %; 3 % is over 4 sigma.
func TestNoisePower(t *testing.T) {
	bs, ue := radio.Array{Nh: 2, Nv: 2}, radio.Array{Nh: 1, Nv: 1}
	ps := beamforming.PhaseShifter{Bits: 4}
	const sigma2 = 3e-13
	r, err := New(Params{BS: bs, UE: ue, PhaseShifter: ps, TxPower: 1, Noise: sigma2, Channels: [][]complex128{make([]complex128, 4)}, Seed: 9, HideTruth: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Program(context.Background(), setup(t, bs, ue, 4, 1, ps, 1)); err != nil {
		t.Fatal(err)
	}
	var c radio.Capture
	var sum float64
	n := 0
	for range 5000 {
		if err := r.Capture(context.Background(), &c); err != nil {
			t.Fatal(err)
		}
		if c.Truth != nil {
			t.Fatal("HideTruth radio returned the truth")
		}
		for _, y := range c.Y {
			sum += real(y)*real(y) + imag(y)*imag(y)
			n++
		}
	}
	if got := sum / float64(n); math.Abs(got/sigma2-1) > 0.03 {
		t.Errorf("noise power %g, want %g", got, sigma2)
	}
}

func TestBadInput(t *testing.T) {
	bs, ue := radio.Array{Nh: 2, Nv: 2}, radio.Array{Nh: 1, Nv: 1}
	ps := beamforming.PhaseShifter{Bits: 4}
	good := Params{BS: bs, UE: ue, PhaseShifter: ps, TxPower: 1, Channels: [][]complex128{make([]complex128, 4)}}
	for name, p := range map[string]Params{
		"no channels":  {BS: bs, UE: ue, PhaseShifter: ps, TxPower: 1},
		"channel size": {BS: bs, UE: ue, PhaseShifter: ps, TxPower: 1, Channels: [][]complex128{make([]complex128, 3)}},
		"bits":         {BS: bs, UE: ue, TxPower: 1, Channels: good.Channels},
		"no tx power":  {BS: bs, UE: ue, PhaseShifter: ps, Channels: good.Channels},
		"noise is NaN": {BS: bs, UE: ue, PhaseShifter: ps, TxPower: 1, Noise: math.NaN(), Channels: good.Channels},
	} {
		if _, err := New(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	r, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	var c radio.Capture
	if err := r.Capture(context.Background(), &c); err == nil {
		t.Error("capture before Program accepted")
	}
	s := setup(t, bs, ue, 3, 1, ps, 1)
	s.Pilots = append(s.Pilots, 1)
	if err := r.Program(context.Background(), s); err == nil {
		t.Error("Program with too many pilots accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Program(ctx, setup(t, bs, ue, 3, 1, ps, 1)); err == nil {
		t.Error("Program ignored a cancelled context")
	}
}

func TestPingPong(t *testing.T) {
	var got []int
	for i := range 9 {
		got = append(got, PingPong(4, i))
	}
	if want := []int{0, 1, 2, 3, 2, 1, 0, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("PingPong = %v, want %v", got, want)
	}
	if PingPong(1, 5) != 0 {
		t.Error("single-sample trajectory")
	}
}

func TestCaptureDoesNotAllocate(t *testing.T) {
	r, _ := benchRadio(t, radio.Array{Nh: 10, Nv: 10})
	var c radio.Capture
	ctx := context.Background()
	r.Capture(ctx, &c)
	if n := testing.AllocsPerRun(100, func() { r.Capture(ctx, &c) }); n != 0 {
		t.Errorf("Capture allocates %v times", n)
	}
}

func benchRadio(tb testing.TB, bs radio.Array) (*Radio, radio.Setup) {
	ue := radio.Array{Nh: 2, Nv: 2}
	ps := beamforming.PhaseShifter{Bits: 6}
	r, err := New(Params{BS: bs, UE: ue, PhaseShifter: ps, TxPower: 31.6, Noise: 3.16e-13, Channels: randomChannels(bs.N(), 4, 16, 2), Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	s := setup(tb, bs, ue, 24, 4, ps, 31.6)
	if err := r.Program(context.Background(), s); err != nil {
		tb.Fatal(err)
	}
	return r, s
}

// BenchmarkCapture is one simulated interval: Y = W^H H G + N for M_B = 24, M_U = 4.
func BenchmarkCapture(b *testing.B) {
	for _, bs := range []radio.Array{{Nh: 10, Nv: 10}, {Nh: 20, Nv: 20}} {
		b.Run(bs.String(), func(b *testing.B) {
			r, _ := benchRadio(b, bs)
			var c radio.Capture
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := r.Capture(ctx, &c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
