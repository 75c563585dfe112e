// Package training trains and runs the models of the paper (Zheng, Hossain, Chaaban, sections IV–V)
// with GoMLX: the channel-charting autoencoder, the LSTM latent tracker that drives its frozen
// decoder from pilot observations, and the end-to-end LSTM baseline that maps pilots straight to H.
//
// All three train with Adam (seeded: one seed gives the same weights), a validation split, early
// stopping on the validation loss (the best weights are kept) and a progress bar; checkpoints are a
// directory with weights.npz and config.json (the Config, Setup and normalisation the model was
// trained with, the data file and the losses per epoch), written atomically after every improving
// epoch. backend.go owns the workarounds for GoMLX's pure-Go backend.
package training

import (
	"errors"
	"fmt"
	"math"
)

// Config is every hyperparameter (the configuration's training section).
type Config struct {
	Seed uint64 `json:"seed"`
	// Sequences is where the tracker's and the E2E model's training windows come from:
	// SequencesPositions or SequencesTrajectories.
	Sequences string `json:"sequences"`
	// LRSchedule is how every model's learning rate moves over its epochs: LRConstant or LRCosine.
	LRSchedule string `json:"lr_schedule"`
	// Init is a checkpoint directory of the same kind whose trainable weights training starts from
	// instead of seeded random ones (fine-tuning, or going on after a stop; Adam's moments start
	// from zero). Empty: from scratch. It is set by `cctrack train --init`, not by the config file.
	Init    string        `json:"init,omitempty"`
	AE      AEConfig      `json:"ae"`
	Tracker TrackerConfig `json:"tracker"`
	E2E     E2EConfig     `json:"e2e"`
}

// AEConfig is the autoencoder: encoder 2 N_B N_U → Hidden... → Latent, decoder the mirror (ReLU
// hidden layers, linear outputs); loss L_CI with latent noise of standard deviation LatentNoise, plus
// Lambda·L_TC (0 = the paper's ablation without temporal correlation). It trains on the static
// channels and, with IncludeEval, also on the evaluation trajectory's (the paper's protocol, which
// evaluates on positions the autoencoder has seen).
type AEConfig struct {
	Hidden      []int   `json:"hidden"`
	Latent      int     `json:"latent"`
	Lambda      float64 `json:"lambda"`
	LatentNoise float64 `json:"latent_noise"`
	// NoiseRelative scales the latent noise by the batch's latent RMS: the charting loss is
	// scale-free, so an absolute noise shrinks in effect as the latents spread.
	NoiseRelative bool    `json:"latent_noise_relative,omitempty"`
	IncludeEval   bool    `json:"include_eval"`
	Epochs        int     `json:"epochs"`
	Batch         int     `json:"batch"`
	LR            float64 `json:"lr"`
	Patience      int     `json:"patience"`
	ValFraction   float64 `json:"val_fraction"`
}

// TrackerConfig is the LSTM tracker: y(t) → g1 (hidden sizes G1, the last one feeds the LSTM) →
// LSTMLayers x LSTMHidden → g2 (hidden G2) → latent, g3 (hidden G3) → (alpha, beta); T-step training
// windows; loss weights LambdaAlpha, LambdaBeta (eq. 12).
type TrackerConfig struct {
	G1          []int   `json:"g1"`
	LSTMLayers  int     `json:"lstm_layers"`
	LSTMHidden  int     `json:"lstm_hidden"`
	G2          []int   `json:"g2"`
	G3          []int   `json:"g3"`
	T           int     `json:"t"`
	LambdaAlpha float64 `json:"lambda_alpha"`
	LambdaBeta  float64 `json:"lambda_beta"`
	Epochs      int     `json:"epochs"`
	Batch       int     `json:"batch"`
	LR          float64 `json:"lr"`
	Patience    int     `json:"patience"`
	ValFraction float64 `json:"val_fraction"`
}

// E2EConfig is the end-to-end baseline: y(t) → LSTMLayers x LSTMHidden → MLP (Hidden) → the full
// channel, 2 N_B N_U outputs.
type E2EConfig struct {
	LSTMLayers  int     `json:"lstm_layers"`
	LSTMHidden  int     `json:"lstm_hidden"`
	Hidden      []int   `json:"hidden"`
	T           int     `json:"t"`
	Epochs      int     `json:"epochs"`
	Batch       int     `json:"batch"`
	LR          float64 `json:"lr"`
	Patience    int     `json:"patience"`
	ValFraction float64 `json:"val_fraction"`
}

// fit is how one model is fitted (the fields every model's section shares): at most Epochs passes
// over the training split in batches of Batch with Adam at learning rate LR, stopping after Patience
// epochs without a better validation loss; ValFraction of the data is held out for validation.
// The autoencoder alone may have ValFraction 0: with include_eval it is meant to memorise the
// positions it is evaluated on (the paper's protocol), and a held-out split of other positions
// would pick an early, under-fitted epoch; the training loss then selects and stops instead.
type fit struct {
	Epochs, Batch, Patience int
	LR, ValFraction         float64
	Schedule                string
}

func (c AEConfig) fit(schedule string) fit {
	return fit{c.Epochs, c.Batch, c.Patience, c.LR, c.ValFraction, schedule}
}
func (c TrackerConfig) fit(schedule string) fit {
	return fit{c.Epochs, c.Batch, c.Patience, c.LR, c.ValFraction, schedule}
}
func (c E2EConfig) fit(schedule string) fit {
	return fit{c.Epochs, c.Batch, c.Patience, c.LR, c.ValFraction, schedule}
}

// Learning-rate schedules (Config.LRSchedule).
const (
	// LRConstant keeps lr for every epoch.
	LRConstant = "constant"
	// LRCosine anneals it over the configured epochs, lr_e = lr · (1 + cos(π (e-1)/epochs)) / 2
	// for epoch e = 1..epochs: large steps first, then small ones that settle into a minimum
	// instead of hovering at the noise level of the constant rate (the memorising autoencoder's
	// training loss stalls there).
	LRCosine = "cosine"
)

// lr is the learning rate of epoch (1-based).
func (f fit) lr(epoch int) float64 {
	if f.Schedule == LRCosine {
		return f.LR * (1 + math.Cos(math.Pi*float64(epoch-1)/float64(f.Epochs))) / 2
	}
	return f.LR
}

// maxSize bounds every size and count of a Config, so that a corrupt checkpoint cannot ask for
// absurd allocations.
const maxSize = 1 << 16

// Validate checks c; errors name the field as the configuration's training section spells it.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("training.%s: "+format, append([]any{key}, args...)...))
	}
	sizes := func(key string, s []int, allowEmpty bool) {
		if len(s) == 0 && !allowEmpty {
			bad(key, "want at least one layer size")
		}
		for i, n := range s {
			if n < 1 || n > maxSize {
				bad(fmt.Sprintf("%s[%d]", key, i), "want a size in 1..%d (got %d)", maxSize, n)
			}
		}
	}
	positive := func(key string, n int) {
		if n < 1 || n > maxSize {
			bad(key, "want 1..%d (got %d)", maxSize, n)
		}
	}
	checkFit := func(key string, f fit) {
		positive(key+".epochs", f.Epochs)
		positive(key+".batch", f.Batch)
		if !(f.LR > 0) || f.LR > 1 {
			bad(key+".lr", "want 0 < lr <= 1 (got %g)", f.LR)
		}
		positive(key+".patience", f.Patience)
		switch {
		case key == "ae" && f.ValFraction == 0: // no validation split: the paper's memorising protocol
		case !(f.ValFraction > 0 && f.ValFraction < 1):
			bad(key+".val_fraction", "want 0 < val_fraction < 1 (got %g)", f.ValFraction)
		}
	}
	if c.LRSchedule != LRConstant && c.LRSchedule != LRCosine {
		bad("lr_schedule", "want %q or %q (got %q)", LRConstant, LRCosine, c.LRSchedule)
	}
	if c.Sequences != SequencesPositions && c.Sequences != SequencesTrajectories {
		bad("sequences", "want %q or %q (got %q)", SequencesPositions, SequencesTrajectories, c.Sequences)
	}
	sizes("ae.hidden", c.AE.Hidden, true)
	positive("ae.latent", c.AE.Latent)
	if !(c.AE.Lambda >= 0) {
		bad("ae.lambda", "want >= 0 (got %g)", c.AE.Lambda)
	}
	if !(c.AE.LatentNoise >= 0) {
		bad("ae.latent_noise", "want >= 0 (got %g)", c.AE.LatentNoise)
	}
	checkFit("ae", c.AE.fit(c.LRSchedule))
	sizes("tracker.g1", c.Tracker.G1, false)
	positive("tracker.lstm_layers", c.Tracker.LSTMLayers)
	positive("tracker.lstm_hidden", c.Tracker.LSTMHidden)
	sizes("tracker.g2", c.Tracker.G2, true)
	sizes("tracker.g3", c.Tracker.G3, true)
	positive("tracker.t", c.Tracker.T)
	if !(c.Tracker.LambdaAlpha >= 0) || !(c.Tracker.LambdaBeta >= 0) {
		bad("tracker.lambda_alpha/lambda_beta", "want >= 0 (got %g, %g)", c.Tracker.LambdaAlpha, c.Tracker.LambdaBeta)
	}
	checkFit("tracker", c.Tracker.fit(c.LRSchedule))
	positive("e2e.lstm_layers", c.E2E.LSTMLayers)
	positive("e2e.lstm_hidden", c.E2E.LSTMHidden)
	sizes("e2e.hidden", c.E2E.Hidden, true)
	positive("e2e.t", c.E2E.T)
	checkFit("e2e", c.E2E.fit(c.LRSchedule))
	return errors.Join(errs...)
}
