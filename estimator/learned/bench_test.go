package learned

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/training"
)

// BenchmarkEstimate is one interval of each learned estimator as the daemon runs it (batch 1, the
// state carried): the default config's network sizes on a 10x10 BS, 2x2 UE and M_B M_U = 96. The
// models are trained for one epoch on synthetic channels (the weights' values do not change the
// cost).
func BenchmarkEstimate(b *testing.B) {
	def, err := configs.Load("")
	if err != nil {
		b.Fatal(err)
	}
	cfg := def.TrainingConfig()
	cfg.AE.Epochs, cfg.Tracker.Epochs, cfg.E2E.Epochs = 1, 1, 1
	rng := rand.New(rand.NewPCG(8, 9))
	d := randomDesign(rng, 100, 4, 24, 4, paperPower)
	data := syntheticData(rng, d.NB, d.NU, 128, 4, 40)
	s := training.Setup{Design: d, Noise: paperNoise}
	ctx, log := context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil))
	ae, err := training.TrainAutoencoder(ctx, data, cfg, b.TempDir(), log, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	tr, err := training.TrainTracker(ctx, data, ae, s, cfg, b.TempDir(), log, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	e2e, err := training.TrainE2E(ctx, data, s, cfg, b.TempDir(), log, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	y := observe(rng, d, data.Traj[0][0], paperNoise)
	dst := make([]complex128, d.NB*d.NU)
	for _, e := range []*Estimator{New("tracker", tr), New("e2e", e2e)} {
		b.Run(e.Name()+"/10x10", func(b *testing.B) {
			if err := e.Prepare(d, paperNoise); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := e.Estimate(dst, y); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
