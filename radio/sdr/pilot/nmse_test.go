package pilot

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/estimator"
	"github.com/cctrack/cctrack/radio"
	"github.com/cctrack/cctrack/radio/simradio"
)

// simY makes a source of realistic observations: the simulated backend's Y (10x10 BS, 2x2 UE, 24
// random BS beams x 4 DFT UE beams = 96 slots, 6-bit shifters, receiver noise) over i.i.d. Rayleigh
// channels, so the slot gains span the dynamic range of real beam sweeps.
func simY(t testing.TB, mb, mu int, seed uint64) func() []complex128 {
	t.Helper()
	bs, ue := radio.Array{Nh: 10, Nv: 10}, radio.Array{Nh: 2, Nv: 2}
	ps := beamforming.PhaseShifter{Bits: 6}
	rng := rand.New(rand.NewPCG(seed, 1))
	chans := make([][]complex128, 16)
	for i := range chans {
		chans[i] = make([]complex128, bs.N()*ue.N())
		for j := range chans[i] {
			chans[i][j] = complex(rng.NormFloat64(), rng.NormFloat64()) * 1e-5
		}
	}
	r, err := simradio.New(simradio.Params{BS: bs, UE: ue, PhaseShifter: ps, TxPower: 1, Noise: 1e-13, Channels: chans, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	w, err := beamforming.Codebook("random", bs.Nh, bs.Nv, mb, ps, seed)
	if err != nil {
		t.Fatal(err)
	}
	f, err := beamforming.Codebook("dft", ue.Nh, ue.Nv, mu, ps, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Program(context.Background(), radio.Setup{W: w, F: f, Pilots: beamforming.Pilots(mu, 1)}); err != nil {
		t.Fatal(err)
	}
	var c radio.Capture
	return func() []complex128 {
		if err := r.Capture(context.Background(), &c); err != nil {
			t.Fatal(err)
		}
		return c.Y
	}
}

func meanPower(y []complex128) float64 {
	var p float64
	for _, v := range y {
		p += sq(v)
	}
	return p / float64(len(y))
}

// With noise, CFO, an unknown carrier phase and integer timing offsets, the NMSE of Ŷ must be the
// theoretical floor of the package doc, σ²/(L·mean|y|²) + σ²/(3P·A²) (A² = mean|y|²), the first term
// being the pilot's processing gain and the second the sync blocks' phase reference.
//
// Tolerance: per trial, ||Ŷ - Y||² is a sum of K = 96 independent |CN|² terms, so NMSE/theory has a
// relative std of 1/sqrt(K); the mean of T trials has 1/sqrt(K·T). We allow 4 of those plus 3 % for
// the small-error approximations of the phase term (a few % of the total).
func TestEstimateNMSEIsTheNoiseFloor(t *testing.T) {
	f := DefaultFrame(24, 4)
	const trials = 40
	next := simY(t, f.MB, f.MU, 7)
	cases := []struct {
		snrDB, cfo float64
		offset     int
	}{
		{20, 0, 0},
		{20, 1e-3, 137},
		{20, -1e-3, 1999},
		{20, 3e-3, 50},
		{20, -5.5e-3, 300}, // 0.9·π/(2Lh), the edge of the documented range
		{10, 5e-4, 731},
		{10, -1e-3, 1},
	}
	c := NewCorrelator(f)
	rng := rand.New(rand.NewPCG(11, 12))
	x := make([]complex64, f.Samples())
	rx := make([]complex64, f.Samples()+2000)
	yhat := make([]complex128, f.Slots())
	for _, tc := range cases {
		var ratio, noiseRatio float64
		var cfoErr2, cfoVar float64
		for range trials {
			y := next()
			a2 := meanPower(y)
			sigma2 := a2 / math.Pow(10, tc.snrDB/10)
			Synthesize(x, f, y)
			phase := 2 * math.Pi * rng.Float64()
			Impair(rx, x, tc.offset, tc.cfo, phase, sigma2, rng)
			s, err := c.Estimate(rx, yhat)
			if err != nil {
				t.Fatalf("%+v: %v", tc, err)
			}
			if s.Offset != tc.offset {
				t.Fatalf("%+v: offset %d", tc, s.Offset)
			}
			// The phase at the sweep's start is the line fit's value at t = 0, variance σ²/(2PA²)
			// (see the doc); 6 standard deviations.
			if d := math.Remainder(s.Phase-phase-tc.cfo*float64(tc.offset), 2*math.Pi); math.Abs(d) > 6*math.Sqrt(sigma2/(2*float64(f.PreambleLen)*a2)) {
				t.Fatalf("%+v: phase error %.3g rad", tc, d)
			}
			theory := sigma2/(float64(f.PilotLen)*a2) + sigma2/(3*float64(f.PreambleLen)*a2)
			ratio += estimator.NMSE(y, yhat) / theory
			noiseRatio += s.Noise / sigma2
			cfoErr2 += (s.CFO - tc.cfo) * (s.CFO - tc.cfo)
			// The sync blocks' phases each have variance σ²/(2PA²), D apart.
			d := float64(f.PostambleStart())
			cfoVar += sigma2 / (float64(f.PreambleLen) * a2 * d * d)
		}
		ratio /= trials
		noiseRatio /= trials
		tol := 4/math.Sqrt(float64(f.Slots()*trials)) + 0.03
		cfoRatio := math.Sqrt(cfoErr2 / cfoVar)
		t.Logf("SNR %g dB, CFO %g, offset %d: NMSE/theory %.3f (tol %.3f), noise estimate/σ² %.3f, CFO rms error %.2g (%.2f x theory)",
			tc.snrDB, tc.cfo, tc.offset, ratio, tol, noiseRatio, math.Sqrt(cfoErr2/trials), cfoRatio)
		if math.Abs(ratio-1) > tol {
			t.Errorf("%+v: NMSE/theory = %.3f, want 1 ± %.3f", tc, ratio, tol)
		}
		// The mean squared CFO error over T = 40 trials is χ²_T/T times the theory (relative std
		// sqrt(2/T) = 0.22): its square root outside [0.5, 1.5] is a 3.3σ (low) or 5.6σ (high) event.
		if cfoRatio < 0.5 || cfoRatio > 1.5 {
			t.Errorf("%+v: CFO rms error %.2f x σ/(A·sqrt(P)·D)", tc, cfoRatio)
		}
		// σ̂² averages 2(P-1) residual samples: relative std 1/sqrt(2(P-1)) per trial.
		if tol := 4 / math.Sqrt(float64(2*(f.PreambleLen-1)*trials)); math.Abs(noiseRatio-1) > tol {
			t.Errorf("%+v: noise estimate/σ² = %.3f, want 1 ± %.3f", tc, noiseRatio, tol)
		}
	}
}
