package configs

import (
	"errors"

	"github.com/cctrack/cctrack/training"
)

// Training is the training section: the hyperparameters of the autoencoder, the latent tracker and
// the end-to-end baseline (package training documents each).
type Training struct {
	Seed       uint64       `mapstructure:"seed"`
	Sequences  string       `mapstructure:"sequences"`
	LRSchedule string       `mapstructure:"lr_schedule"`
	AE         TrainAE      `mapstructure:"ae"`
	Tracker    TrainTracker `mapstructure:"tracker"`
	E2E        TrainE2E     `mapstructure:"e2e"`
}

type TrainAE struct {
	Hidden        []int   `mapstructure:"hidden"`
	Latent        int     `mapstructure:"latent"`
	Lambda        float64 `mapstructure:"lambda"`
	LatentNoise   float64 `mapstructure:"latent_noise"`
	NoiseRelative bool    `mapstructure:"latent_noise_relative"`
	IncludeEval   bool    `mapstructure:"include_eval"`
	Epochs        int     `mapstructure:"epochs"`
	Batch         int     `mapstructure:"batch"`
	LR            float64 `mapstructure:"lr"`
	Patience      int     `mapstructure:"patience"`
	ValFraction   float64 `mapstructure:"val_fraction"`
}

type TrainTracker struct {
	G1          []int   `mapstructure:"g1"`
	LSTMLayers  int     `mapstructure:"lstm_layers"`
	LSTMHidden  int     `mapstructure:"lstm_hidden"`
	G2          []int   `mapstructure:"g2"`
	G3          []int   `mapstructure:"g3"`
	T           int     `mapstructure:"t"`
	LambdaAlpha float64 `mapstructure:"lambda_alpha"`
	LambdaBeta  float64 `mapstructure:"lambda_beta"`
	Epochs      int     `mapstructure:"epochs"`
	Batch       int     `mapstructure:"batch"`
	LR          float64 `mapstructure:"lr"`
	Patience    int     `mapstructure:"patience"`
	ValFraction float64 `mapstructure:"val_fraction"`
}

type TrainE2E struct {
	LSTMLayers  int     `mapstructure:"lstm_layers"`
	LSTMHidden  int     `mapstructure:"lstm_hidden"`
	Hidden      []int   `mapstructure:"hidden"`
	T           int     `mapstructure:"t"`
	Epochs      int     `mapstructure:"epochs"`
	Batch       int     `mapstructure:"batch"`
	LR          float64 `mapstructure:"lr"`
	Patience    int     `mapstructure:"patience"`
	ValFraction float64 `mapstructure:"val_fraction"`
}

// TrainingConfig is the training section as package training takes it.
func (c Config) TrainingConfig() training.Config {
	t := c.Training
	return training.Config{
		Seed: t.Seed, Sequences: t.Sequences, LRSchedule: t.LRSchedule,
		AE: training.AEConfig{Hidden: t.AE.Hidden, Latent: t.AE.Latent, Lambda: t.AE.Lambda, LatentNoise: t.AE.LatentNoise, NoiseRelative: t.AE.NoiseRelative, IncludeEval: t.AE.IncludeEval,
			Epochs: t.AE.Epochs, Batch: t.AE.Batch, LR: t.AE.LR, Patience: t.AE.Patience, ValFraction: t.AE.ValFraction},
		Tracker: training.TrackerConfig{G1: t.Tracker.G1, LSTMLayers: t.Tracker.LSTMLayers, LSTMHidden: t.Tracker.LSTMHidden,
			G2: t.Tracker.G2, G3: t.Tracker.G3, T: t.Tracker.T, LambdaAlpha: t.Tracker.LambdaAlpha, LambdaBeta: t.Tracker.LambdaBeta,
			Epochs: t.Tracker.Epochs, Batch: t.Tracker.Batch, LR: t.Tracker.LR, Patience: t.Tracker.Patience, ValFraction: t.Tracker.ValFraction},
		E2E: training.E2EConfig{LSTMLayers: t.E2E.LSTMLayers, LSTMHidden: t.E2E.LSTMHidden, Hidden: t.E2E.Hidden, T: t.E2E.T,
			Epochs: t.E2E.Epochs, Batch: t.E2E.Batch, LR: t.E2E.LR, Patience: t.E2E.Patience, ValFraction: t.E2E.ValFraction},
	}
}

// validateTraining checks the training section; training.Config.Validate names each key
// (training.ae.lr, ...).
func (c Config) validateTraining(v *validator) {
	if err := c.TrainingConfig().Validate(); err != nil {
		var joined interface{ Unwrap() []error }
		if errors.As(err, &joined) {
			v.errs = append(v.errs, joined.Unwrap()...)
			return
		}
		v.errs = append(v.errs, err)
	}
}

// TrainingSetup is the testbed a model is trained for and checked against: Design (nominal weights
// and pilots) and the noise power rf.noise_dbm in W.
func (c Config) TrainingSetup() (training.Setup, error) {
	d, err := c.Design()
	if err != nil {
		return training.Setup{}, err
	}
	_, noise := c.Powers()
	return training.Setup{Design: d, Noise: noise}, nil
}
