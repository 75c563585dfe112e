package calibration

import (
	"context"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/radio"
	"github.com/cctrack/cctrack/radio/simradio"
)

// impaired is a noiseless simulated radio with injected errors on both arrays and a random H.
func impaired(t *testing.T, bits int) (*simradio.Radio, beamforming.Impairments, beamforming.Impairments) {
	t.Helper()
	bs, ue := radio.Array{Nh: 4, Nv: 3}, radio.Array{Nh: 2, Nv: 2}
	bsImp := beamforming.NewImpairments(bs.N(), 1, 20, 1, 11)
	ueImp := beamforming.NewImpairments(ue.N(), 1, 20, 0, 12)
	rng := rand.New(rand.NewPCG(5, 6))
	h := make([]complex128, bs.N()*ue.N())
	for i := range h {
		h[i] = complex(rng.NormFloat64(), rng.NormFloat64())
	}
	r, err := simradio.New(simradio.Params{BS: bs, UE: ue, PhaseShifter: beamforming.PhaseShifter{Bits: bits},
		TxPower: 1, Noise: 0, BSImp: bsImp, UEImp: ueImp, Channels: [][]complex128{h}})
	if err != nil {
		t.Fatal(err)
	}
	return r, bsImp, ueImp
}

func setup(t *testing.T, r radio.Radio) radio.Setup {
	t.Helper()
	info := r.Info()
	w, err := beamforming.Codebook("random", info.BS.Nh, info.BS.Nv, 5, info.PhaseShifter, 1)
	if err != nil {
		t.Fatal(err)
	}
	f, err := beamforming.Codebook("dft", info.UE.Nh, info.UE.Nv, 3, info.PhaseShifter, 0)
	if err != nil {
		t.Fatal(err)
	}
	return radio.Setup{W: w, F: f, Pilots: beamforming.Pilots(3, 1)}
}

// With the exact tables, the calibrated radio's observation is W_cal^H H F_cal S for the weights
// Weights reports (to rounding), and each physical weight is its nominal one times the element's
// gain, up to a phase residual of at most π/L: the correction a B-bit shifter can make.
func TestWrapCorrectsPhases(t *testing.T) {
	for _, bits := range []int{3, 6} {
		r, bsImp, ueImp := impaired(t, bits)
		info := r.Info()
		bsTab := fromImpairments(bsImp, bits, 3.5e9, made)
		ueTab := fromImpairments(ueImp, bits, 3.5e9, made)
		c := Wrap(r, bsTab, ueTab).(*Calibrated)
		s := setup(t, r)
		ctx := context.Background()
		if err := c.Program(ctx, s); err != nil {
			t.Fatal(err)
		}
		var cp radio.Capture
		if err := c.Capture(ctx, &cp); err != nil {
			t.Fatal(err)
		}
		nb, nu, mb, mu := info.BS.N(), info.UE.N(), s.W.M, s.F.M
		w, f := make([]complex128, nb*mb), make([]complex128, nu*mu)
		c.Weights(s, w, f)
		h := cp.Truth
		var scale float64
		for b := range mb {
			for u := range mu {
				var y complex128
				for i := range nb {
					for k := range nu {
						y += cmplx.Conj(w[i*mb+b]) * h[i*nu+k] * f[k*mu+u] * s.Pilots[u]
					}
				}
				scale = max(scale, cmplx.Abs(y))
				if d := cmplx.Abs(y - cp.Y[b*mu+u]); d > 1e-12*(1+scale) {
					t.Errorf("%d bits: Y[%d][%d] = %v, the calibrated weights give %v", bits, b, u, cp.Y[b*mu+u], y)
				}
			}
		}
		nomW, nomF := make([]complex128, nb*mb), make([]complex128, nu*mu)
		s.W.Weights(info.PhaseShifter, nil, nomW)
		s.F.Weights(info.PhaseShifter, nil, nomF)
		half := math.Pi / float64(info.PhaseShifter.Levels())
		for _, a := range []struct {
			cal, nom []complex128
			im       beamforming.Impairments
			m        int
		}{{w, nomW, bsImp, mb}, {f, nomF, ueImp, mu}} {
			for i, x := range a.cal {
				ratio := x / a.nom[i]
				if g := cmplx.Abs(a.im.Element(i / a.m)); math.Abs(cmplx.Abs(ratio)-g) > 1e-12 {
					t.Errorf("%d bits: weight %d has gain %g, the element %g", bits, i, cmplx.Abs(ratio), g)
				}
				if p := math.Abs(cmplx.Phase(ratio)); p > half+1e-12 {
					t.Errorf("%d bits: weight %d is %.2f deg off nominal, more than π/L = %.2f deg", bits, i, p*180/math.Pi, half*180/math.Pi)
				}
			}
		}
	}
}

func TestWrapEdges(t *testing.T) {
	r, bsImp, _ := impaired(t, 6)
	if Wrap(r, nil, nil) != radio.Radio(r) {
		t.Error("Wrap with no tables must return the radio itself")
	}
	// Only the BS table: the UE codes go through unchanged.
	c := Wrap(r, fromImpairments(bsImp, 6, 3.5e9, made), nil)
	s := setup(t, r)
	info := r.Info()
	w, f := make([]complex128, info.BS.N()*s.W.M), make([]complex128, info.UE.N()*s.F.M)
	c.(*Calibrated).Weights(s, w, f)
	nomF := make([]complex128, len(f))
	s.F.Weights(info.PhaseShifter, nil, nomF)
	for i := range f {
		if f[i] != nomF[i] {
			t.Fatalf("UE weight %d = %v, nominal %v", i, f[i], nomF[i])
		}
	}
	// Captures go straight through: nothing per interval beyond the wrapped radio's own work.
	ctx := context.Background()
	if err := c.Program(ctx, s); err != nil {
		t.Fatal(err)
	}
	var cp radio.Capture
	if n := testing.AllocsPerRun(20, func() {
		if err := c.Capture(ctx, &cp); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Capture allocates %g times", n)
	}
	bad := s
	bad.W = beamforming.Codes{N: 3, M: 1, Code: make([]uint16, 3)}
	if err := c.Program(ctx, bad); err == nil || !strings.Contains(err.Error(), "do not fit") {
		t.Errorf("program with codes for another array: %v", err)
	}
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), "elements") {
			t.Errorf("Wrap with a table of another array: panic %v", p)
		}
	}()
	Wrap(r, fromImpairments(beamforming.NewImpairments(7, 1, 1, 0, 1), 6, 3.5e9, made), nil)
}

// healthy is a radio with a health report, like the sdr backend.
type healthy struct{ radio.Radio }

func (healthy) Health() map[string]any { return map[string]any{"bs_board": "ok"} }

func TestWrapForwardsHealth(t *testing.T) {
	r, bsImp, _ := impaired(t, 6)
	table := fromImpairments(bsImp, 6, 3.5e9, made)
	if h := Wrap(r, table, nil).(*Calibrated).Health(); h != nil {
		t.Errorf("a radio without a report: Health = %v, want nil", h)
	}
	if h := Wrap(healthy{r}, table, nil).(*Calibrated).Health(); h["bs_board"] != "ok" {
		t.Errorf("Health = %v, want the wrapped radio's report", h)
	}
}
