// Package reflink is the reference link of a calibration: the far-field line-of-sight channel
// between each element of the array under test and a reference antenna at a known offset (what the
// calibration methods divide by), and the simulated backend's calibration setup over that link.
//
// The channel follows sim/channel's model of a LoS path from a single isotropic antenna at distance
// d in direction u (unit vector from the array's centre):
//
//	h_i = λ/(4π d) · e^{-j 2π d/λ} · e^{+j 2π/λ r_i·u},
//
// a plane wave across the array (exact in the simulator, which builds its reference channel with this
// very formula; on hardware it needs the reference beyond the Fraunhofer distance 2D²/λ of the
// array's aperture D, and the offset known to a small fraction of a wavelength for absolute phases).
package reflink

import (
	"fmt"
	"math"
	"math/cmplx"
	"time"

	"github.com/cctrack/cctrack/calibration"
	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/radio"
	"github.com/cctrack/cctrack/radio/simradio"
	"github.com/cctrack/cctrack/sim/channel"
	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
)

// Channel returns h (N entries) for the array a and a reference antenna at offset from its centre,
// at frequency freqHz. It panics on a zero offset (configs validate it).
func Channel(a channel.UPA, offset geom.Vec3, freqHz float64) []complex128 {
	d := offset.Norm()
	if !(d > 0) {
		panic("reflink: reference at the array's centre")
	}
	lambda := material.C / freqHz
	theta, phi := geom.Angles(offset)
	h := make([]complex128, a.N())
	a.Steering(theta, phi, lambda, h)
	path := cmplx.Rect(lambda/(4*math.Pi*d), -2*math.Pi*math.Mod(d/lambda, 1))
	for i := range h {
		h[i] *= path
	}
	return h
}

// Simulated is cfg's calibration setup for side on the simulated backend: a radio whose array under
// test is the configured array with its configured impairments (beamforming.impairments), whose other
// side is one ideal reference antenna at calibration.reference.offset (seeded noise from
// radio.seed), over the LoS channel alone (the scene plays no part: a calibration range), and the Spec
// to calibrate it with at rf.carrier_hz. The spec's Board is "sim-bs" or "sim-ue" and its
// temperature 25 °C (the simulator models none); its Time is now.
func Simulated(cfg configs.Config, side calibration.Side, now time.Time) (*simradio.Radio, calibration.Spec, error) {
	p, err := cfg.SimParams()
	if err != nil {
		return nil, calibration.Spec{}, err
	}
	tx, noise := cfg.Powers()
	bsImp, ueImp := cfg.Impairments()
	one := radio.Array{Nh: 1, Nv: 1}
	params := simradio.Params{Scene: "calibration", PhaseShifter: cfg.PhaseShifter(), TxPower: tx, Noise: noise, Seed: cfg.Radio.Seed}
	arr, upa := cfg.BSArray(), p.BS
	switch side {
	case calibration.BS:
		params.BS, params.UE, params.BSImp = arr, one, bsImp
	case calibration.UE:
		arr, upa = cfg.UEArray(), p.UE
		params.BS, params.UE, params.UEImp = one, arr, ueImp
	default:
		return nil, calibration.Spec{}, fmt.Errorf("reflink: array %q, want %q or %q", side, calibration.BS, calibration.UE)
	}
	h := Channel(upa, cfg.ReferenceOffset(), cfg.RF.CarrierHz)
	// H is N_B x N_U: the BS's column or the UE's row, the same entries.
	params.Channels = [][]complex128{h}
	r, err := simradio.New(params)
	if err != nil {
		return nil, calibration.Spec{}, fmt.Errorf("reflink: %w", err)
	}
	return r, calibration.Spec{Side: side, Array: arr, PhaseShifter: cfg.PhaseShifter(), TxPower: tx, Noise: noise,
		Channel: h, Averages: cfg.Calibration.Averages, Board: "sim-" + string(side),
		FrequencyHz: cfg.RF.CarrierHz, TemperatureC: 25, Time: now}, nil
}

// Truth is the simulated array's injected errors as a table's element factors e_i, for checking a
// calibration against them.
func Truth(cfg configs.Config, side calibration.Side) []complex128 {
	bs, ue := cfg.Impairments()
	im := bs
	if side == calibration.UE {
		im = ue
	}
	n := len(im.Gain)
	out := make([]complex128, n)
	for i := range n {
		out[i] = im.Element(i)
	}
	return out
}
