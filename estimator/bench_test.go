package estimator

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"github.com/cctrack/cctrack/beamforming"
)

// upaResponse is the unit-norm UPA response at spatial frequencies (fh, fv) cycles per element,
// off the dictionary grid in general.
func upaResponse(u UPA, fh, fv float64) []complex128 {
	a := make([]complex128, u.Nh*u.Nv)
	for v := range u.Nv {
		for h := range u.Nh {
			a[v*u.Nh+h] = cmplx.Rect(1/math.Sqrt(float64(len(a))), 2*math.Pi*(float64(h)*fh+float64(v)*fv))
		}
	}
	return a
}

// rayChannel is a ray-tracer-like channel: a few paths at random (off-grid) directions, entries of
// about amp in magnitude (path gain ~ -110 dB gives ~3e-6).
func rayChannel(rng *rand.Rand, bs, ue UPA, paths int, amp float64) []complex128 {
	nb, nu := bs.Nh*bs.Nv, ue.Nh*ue.Nv
	h := make([]complex128, nb*nu)
	for range paths {
		x := cn(rng, amp*amp*float64(nb*nu)/float64(paths))
		a := upaResponse(bs, rng.Float64(), rng.Float64())
		u := upaResponse(ue, rng.Float64(), rng.Float64())
		for i := range nb {
			for k := range nu {
				h[i*nu+k] += x * a[i] * u[k]
			}
		}
	}
	return h
}

type benchCase struct {
	name   string
	bs, ue UPA
}

var benchCases = []benchCase{{"10x10", UPA{10, 10}, UPA{2, 2}}, {"20x20", UPA{20, 20}, UPA{2, 2}}}

// benchSetup returns the paper's setting for c: a random phase-shifter design with M_B = 24,
// M_U = 4 (96 observations), P = 45 dBm, σ² = -95 dBm, one observation of a 6-path channel, and
// the three estimators (LMMSE with an exponential-correlation covariance of the channel's scale).
func benchSetup(b *testing.B, c benchCase) (beamforming.Design, []complex128, []Estimator) {
	rng := rand.New(rand.NewPCG(51, 52))
	nb, nu := c.bs.Nh*c.bs.Nv, c.ue.Nh*c.ue.Nv
	d := randomDesign(rng, nb, nu, 24, 4, paperPower)
	y := observe(rng, d, rayChannel(rng, c.bs, c.ue, 6, 3e-6), paperNoise)
	omp, err := NewOMP(DefaultOMPConfig(c.bs, c.ue))
	if err != nil {
		b.Fatal(err)
	}
	return d, y, []Estimator{NewLS(), NewLMMSE(newKronModel(nb, nu, 0.9, 0.5, 1e-11).covariance()), omp}
}

func BenchmarkEstimate(b *testing.B) {
	for _, c := range benchCases {
		d, y, ests := benchSetup(b, c)
		for _, e := range ests {
			b.Run(e.Name()+"/"+c.name, func(b *testing.B) {
				if err := e.Prepare(d, paperNoise); err != nil {
					b.Fatal(err)
				}
				hhat := make([]complex128, d.NB*d.NU)
				b.ReportAllocs()
				for b.Loop() {
					if err := e.Estimate(hhat, y); err != nil {
						b.Fatal(err)
					}
				}
				if o, ok := e.(*OMP); ok {
					b.ReportMetric(float64(o.Paths()), "atoms")
				}
			})
		}
	}
}

func BenchmarkPrepare(b *testing.B) {
	for _, c := range benchCases {
		d, _, ests := benchSetup(b, c)
		for _, e := range ests {
			b.Run(fmt.Sprintf("%s/%s", e.Name(), c.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := e.Prepare(d, paperNoise); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkEstimateCovariance(b *testing.B) {
	for _, c := range benchCases {
		rng := rand.New(rand.NewPCG(53, 54))
		samples := make([][]complex128, 1000)
		for i := range samples {
			samples[i] = rayChannel(rng, c.bs, c.ue, 6, 3e-6)
		}
		b.Run(fmt.Sprintf("%s/T=%d", c.name, len(samples)), func(b *testing.B) {
			for b.Loop() {
				if _, err := EstimateCovariance(c.bs.Nh*c.bs.Nv, c.ue.Nh*c.ue.Nv, samples); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
