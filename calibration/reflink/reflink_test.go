package reflink

import (
	"math"
	"math/cmplx"
	"testing"
	"time"

	"github.com/cctrack/cctrack/calibration"
	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/sim/channel"
	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
)

// Channel is the far-field limit of the exact element-to-antenna response λ/(4π d_i) e^{-j2π d_i/λ}:
// across an aperture D the plane wave's phase is off by at most about π D²/(4 λ d), its amplitude
// by D/(2d), so at d = 2 km a 10x10 half-wavelength array (D = 0.54 m at 3.5 GHz) agrees to 3e-3.
func TestChannelIsTheFarFieldLimit(t *testing.T) {
	const f = 3.5e9
	lambda := material.C / f
	a := channel.UPA{Nh: 10, Nv: 10, Spacing: lambda / 2, Position: geom.V(3, -2, 12), Yaw: 0.35, Pitch: 0.1}
	offset := geom.V(1600, 1100, -400)
	h := Channel(a, offset, f)
	ref := a.Position.Add(offset)
	var worst float64
	for i, r := range a.Offsets(nil) {
		d := a.Position.Add(r).Dist(ref)
		exact := cmplx.Rect(lambda/(4*math.Pi*d), -2*math.Pi*d/lambda)
		worst = max(worst, cmplx.Abs(h[i]-exact)/cmplx.Abs(exact))
	}
	if worst > 3e-3 {
		t.Errorf("worst relative error %.2g against the exact response", worst)
	}
}

// The simulated setup observes the configured array's impairments over the channel the spec names.
func TestSimulated(t *testing.T) {
	cfg, err := configs.Parse([]byte("beamforming: {impairments: {gain_std_db: 1, phase_std_deg: 10}}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, side := range []calibration.Side{calibration.BS, calibration.UE} {
		r, spec, err := Simulated(cfg, side, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		info := r.Info()
		n := map[calibration.Side]int{calibration.BS: 100, calibration.UE: 4}[side]
		if spec.Array.N() != n || len(spec.Channel) != n || info.BS.N()*info.UE.N() != n || spec.Board != "sim-"+string(side) || spec.Averages != 16 {
			t.Errorf("%s: spec %+v, radio %+v", side, spec, info)
		}
		if len(Truth(cfg, side)) != n {
			t.Errorf("%s: truth has %d elements", side, len(Truth(cfg, side)))
		}
	}
	if _, _, err := Simulated(cfg, "gw", time.Now()); err == nil {
		t.Error("an unknown side must fail")
	}
}
