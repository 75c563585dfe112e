package controller

import (
	"testing"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/estimator"
	"github.com/cctrack/cctrack/radio"
)

// weighted is a radio that reports its weights as twice the nominal ones (as a calibrated radio
// reports measured ones).
type weighted struct{ radio.Radio }

func (w weighted) Weights(s radio.Setup, wd, fd []complex128) {
	ps := w.Info().PhaseShifter
	s.W.Weights(ps, nil, wd)
	s.F.Weights(ps, nil, fd)
	for i := range wd {
		wd[i] *= 2
	}
	for i := range fd {
		fd[i] *= 2
	}
}

var _ Weighter = weighted{}

// designs records the design it is prepared with.
type designs struct {
	estimator.Estimator
	d beamforming.Design
}

func (e *designs) Prepare(d beamforming.Design, noise float64) error {
	e.d = d
	return e.Estimator.Prepare(d, noise)
}

// nominalDesigns asks for the nominal design.
type nominalDesigns struct{ designs }

func (*nominalDesigns) NominalDesign() {}

var _ NominalDesigner = (*nominalDesigns)(nil)

// Estimators assume a Weighter radio's weights, except NominalDesigners, which get the nominal ones.
func TestWeighterDesign(t *testing.T) {
	r, setup := testbed(t, 2, 30, false)
	model := &designs{Estimator: estimator.NewLS()}
	trained := &nominalDesigns{designs{Estimator: estimator.NewLS()}}
	if _, err := New(weighted{r}, []estimator.Estimator{model, trained}, &collect{}, Config{Setup: setup, Intervals: 1}, quiet()); err != nil {
		t.Fatal(err)
	}
	nom := make([]complex128, setup.W.N*setup.W.M)
	setup.W.Weights(r.Info().PhaseShifter, nil, nom)
	for i, x := range nom {
		if model.d.W[i] != 2*x || trained.d.W[i] != x {
			t.Fatalf("W[%d]: the model-based estimator got %v (want the radio's %v), the trained one %v (want nominal %v)",
				i, model.d.W[i], 2*x, trained.d.W[i], x)
		}
	}
	if model.d.F[0] != 2*trained.d.F[0] {
		t.Errorf("F[0]: %v and %v", model.d.F[0], trained.d.F[0])
	}
}
