package training

import (
	"context"
	"testing"
	"math/rand/v2"

	"github.com/cctrack/cctrack/estimator"
)

func TestTinyTrackerBeatsLS(t *testing.T) {
	d := tinyData(8, 60, 1)
	s := tinySetup(t)
	cfg := tinyConfig()
	ctx := context.Background()
	ae, err := TrainAutoencoder(ctx, d, cfg, t.TempDir(), testLog(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := TrainTracker(ctx, d, ae, s, cfg, t.TempDir(), testLog(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := tr.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	ls := estimator.NewLS()
	if err := ls.Prepare(s.Design, s.Noise); err != nil {
		t.Fatal(err)
	}
	pm := newPilotModel(s)
	rng := rand.New(rand.NewPCG(99, 0))
	y0 := make([]complex128, pm.obs())
	y := make([]complex128, pm.obs())
	hhat := make([]complex128, tinyNB*tinyNU)
	var mt, ml estimator.Mean
	for _, h := range d.Eval {
		pm.clean(h, y0)
		pm.addNoise(rng, y0, y)
		if err := sess.Step(y, hhat); err != nil {
			t.Fatal(err)
		}
		mt.Add(estimator.NMSE(h, hhat))
		if err := ls.Estimate(hhat, y); err != nil {
			t.Fatal(err)
		}
		ml.Add(estimator.NMSE(h, hhat))
	}
	t.Logf("tracker %.2f dB, LS %.2f dB", mt.DB(), ml.DB())
}
