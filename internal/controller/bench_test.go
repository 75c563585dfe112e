package controller

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/estimator"
	"github.com/cctrack/cctrack/internal/telemetry"
	"github.com/cctrack/cctrack/radio"
	"github.com/cctrack/cctrack/radio/simradio"
)

type discard struct{}

func (discard) Add(...telemetry.Point) {}

// benchController is a controller over a simulated 10x10 BS / 2x2 UE on i.i.d. channels with the
// daemon's default measurement shape (24 DFT beams x 4 UE beams) and the given estimators.
func benchController(b *testing.B, ests ...estimator.Estimator) *Controller {
	b.Helper()
	bs, ue := radio.Array{Nh: 10, Nv: 10}, radio.Array{Nh: 2, Nv: 2}
	rng := rand.New(rand.NewPCG(1, 2))
	chans := make([][]complex128, 100)
	for i := range chans {
		chans[i] = make([]complex128, bs.N()*ue.N())
		for j := range chans[i] {
			chans[i][j] = complex(rng.NormFloat64(), rng.NormFloat64())
		}
	}
	ps := beamforming.PhaseShifter{Bits: 6}
	r, err := simradio.New(simradio.Params{Scene: "iid", BS: bs, UE: ue, PhaseShifter: ps, TxPower: 1, Noise: 0.01, Channels: chans, Seed: 3})
	if err != nil {
		b.Fatal(err)
	}
	w, err := beamforming.Codebook("dft", bs.Nh, bs.Nv, 24, ps, 0)
	if err != nil {
		b.Fatal(err)
	}
	f, err := beamforming.Codebook("dft", ue.Nh, ue.Nv, 4, ps, 0)
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(r, ests, discard{}, Config{Run: "b", Setup: radio.Setup{W: w, F: f, Pilots: beamforming.Pilots(4, 1)}}, quiet())
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkStep is one coherence interval of the controller with LS: capture, estimate, score,
// update the status and its NMSE history, emit the points.
func BenchmarkStep(b *testing.B) {
	c := benchController(b, estimator.NewLS())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Step(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStatusJSON is what one poll of the status page costs the daemon: a snapshot with a full
// history (300 bins, 3 estimators) and the 24 + 4 beams' codes, encoded as JSON.
func BenchmarkStatusJSON(b *testing.B) {
	c := benchController(b, estimator.NewLS(), estimator.NewLS(), estimator.NewLS())
	for k := range DefaultHistoryLen {
		bin := c.hist.at(time.Unix(int64(k), 0))
		bin.intervals = 5
		for e := range bin.nmse {
			bin.nmse[e].Add(0.01)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := json.NewEncoder(io.Discard).Encode(c.Status()); err != nil {
			b.Fatal(err)
		}
	}
}
