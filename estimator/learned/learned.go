// Package learned runs the trained sequence models of package training as estimators: the latent
// tracker (LSTM → latent ŝ, α̂, β̂ → frozen decoder, Ĥ = f^-1(d(ŝ), α̂, β̂), paper eq. 13) and the
// end-to-end LSTM (pilots → Ĥ), one LSTM step per coherence interval, batch 1, the state carried from
// interval to interval.
//
// It is a package of its own, not part of estimator, so that package estimator stays free of
// training: training's own tests compare the models with estimator.NewLS, and a test importing a
// package that imports the package under test is an import cycle.
package learned

import (
	"errors"
	"fmt"
	"math"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/estimator"
	"github.com/cctrack/cctrack/training"
)

// Model is a trained tracker checkpoint (training.Tracker or training.E2E).
type Model interface {
	// Check reports how the checkpoint's testbed (arrays, beams, pilot design) differs from s; nil
	// when the model fits.
	Check(s training.Setup) error
	// NewSession starts batch-1 inference with a zero LSTM state.
	NewSession() (*training.Session, error)
}

var (
	_ Model             = (*training.Tracker)(nil)
	_ Model             = (*training.E2E)(nil)
	_ estimator.Tracker = (*Estimator)(nil)
)

// ErrNotPrepared is returned by Estimate before a successful Prepare.
var ErrNotPrepared = errors.New("not prepared")

// Estimator runs a Model as an estimator.Tracker. The controller resets it at the start of a run
// and after a failed interval (the LSTM state belongs to consecutive intervals).
type Estimator struct {
	name   string
	m      Model
	s      *training.Session
	nh, ny int // N_B N_U and M_B M_U
}

// New wraps m under name ("tracker", "tracker_no_tc", "e2e"); call Prepare before Estimate.
func New(name string, m Model) *Estimator { return &Estimator{name: name, m: m} }

// Name is the name New was given.
func (e *Estimator) Name() string { return e.name }

// Prepare checks that the model was trained for the design d (a model trained on other arrays,
// beams or pilots maps Y to nonsense) and starts a fresh session. The noise power is only checked
// for sanity: a model runs at any SNR.
func (e *Estimator) Prepare(d beamforming.Design, noise float64) error {
	*e = Estimator{name: e.name, m: e.m} // a failed Prepare leaves the estimator unprepared
	d.Validate()
	if !(noise >= 0) || math.IsInf(noise, 1) {
		return fmt.Errorf("estimator %s: prepare: noise power %g W, want finite and >= 0", e.name, noise)
	}
	if err := e.m.Check(training.Setup{Design: d, Noise: noise}); err != nil {
		return fmt.Errorf("estimator %s: prepare: the model does not fit this testbed: %w", e.name, err)
	}
	s, err := e.m.NewSession()
	if err != nil {
		return fmt.Errorf("estimator %s: prepare: %w", e.name, err)
	}
	e.s, e.nh, e.ny = s, d.NB*d.NU, d.MB*d.MU
	return nil
}

// Estimate advances the model by one interval on y (M_B x M_U) and writes its Ĥ (N_B x N_U) into
// dst.
func (e *Estimator) Estimate(dst, y []complex128) error {
	switch {
	case e.s == nil:
		return fmt.Errorf("estimator %s: estimate: %w", e.name, ErrNotPrepared)
	case len(y) != e.ny:
		return fmt.Errorf("estimator %s: estimate: y has %d entries, want M_B·M_U = %d", e.name, len(y), e.ny)
	case len(dst) != e.nh:
		return fmt.Errorf("estimator %s: estimate: dst has %d entries, want N_B·N_U = %d", e.name, len(dst), e.nh)
	}
	if err := e.s.Step(y, dst); err != nil {
		return fmt.Errorf("estimator %s: estimate: %w", e.name, err)
	}
	return nil
}

// NominalDesign marks the estimator as one the controller prepares with the nominal design even
// on a calibrated radio (controller.NominalDesigner): the design names the pilot scheme the model
// was trained on, and a calibrated radio's corrected codes give it near-nominal observations.
func (*Estimator) NominalDesign() {}

// Reset zeroes the LSTM state: the next Estimate starts a new sequence.
func (e *Estimator) Reset() {
	if e.s != nil {
		e.s.Reset()
	}
}
