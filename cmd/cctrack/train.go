package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/training"
)

const trainUsage = `usage: cctrack train ae|tracker|e2e --config FILE --dataset FILE.npz --out DIR [flags]

  ae       the channel-charting autoencoder on the dataset's static channels (--no-tc: lambda = 0)
  tracker  the latent LSTM tracker on the dataset's trajectories, driving the decoder of --ae DIR
  e2e      the end-to-end LSTM baseline on the dataset's trajectories

The config's training section has the hyperparameters, its arrays and beamforming section the
pilot design the trackers learn from. DIR gets weights.npz and config.json. --init DIR2 starts
from DIR2's weights (a checkpoint of the same model and sizes) with a fresh learning-rate schedule
and Adam state: more epochs after a finished or stopped run, or fine-tuning on other data.
`

// train runs `cctrack train MODEL`.
func train(ctx context.Context, args []string, stderr io.Writer, log *slog.Logger) error {
	if len(args) == 0 || (args[0] != "ae" && args[0] != "tracker" && args[0] != "e2e") {
		fmt.Fprint(stderr, trainUsage)
		if len(args) == 0 {
			return errUsage
		}
		return fmt.Errorf("unknown model %q (want ae, tracker or e2e): %w", args[0], errUsage)
	}
	kind := args[0]
	fs := flag.NewFlagSet("cctrack train "+kind, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default.yaml)")
	dataPath := fs.String("dataset", "", "dataset .npz written by cctrack sim dataset (required)")
	out := fs.String("out", "", "output checkpoint directory (required)")
	initDir := fs.String("init", "", "start from this checkpoint's weights (same model and sizes) instead of random ones: fine-tuning, or going on after a stop")
	var aeDir string
	var noTC bool
	switch kind {
	case "ae":
		fs.BoolVar(&noTC, "no-tc", false, "train without the temporal-correlation (charting) loss: training.ae.lambda = 0")
	case "tracker":
		fs.StringVar(&aeDir, "ae", "", "the trained autoencoder's checkpoint directory (required)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	missing := func(flag string) error {
		fmt.Fprintf(stderr, "cctrack train %s: --%s is required\n", kind, flag)
		fs.Usage()
		return errUsage
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "cctrack train %s: unexpected arguments %q\n", kind, fs.Args())
		return errUsage
	case *dataPath == "":
		return missing("dataset")
	case *out == "":
		return missing("out")
	case kind == "tracker" && aeDir == "":
		return missing("ae")
	}
	cfg, err := configs.Load(*cfgPath)
	if err != nil {
		return err
	}
	tc := cfg.TrainingConfig()
	if noTC {
		tc.AE.Lambda = 0
	}
	tc.Init = *initDir
	var ae *training.Autoencoder
	if kind == "tracker" {
		if ae, err = training.LoadAutoencoder(aeDir); err != nil {
			return fmt.Errorf("--ae: %w", err)
		}
	}
	d, err := training.ReadDataset(*dataPath)
	if err != nil {
		return fmt.Errorf("--dataset: %w", err)
	}
	setup, err := cfg.TrainingSetup()
	if err != nil {
		return err
	}
	if setup.Design.NB != d.NB || setup.Design.NU != d.NU {
		return fmt.Errorf("--dataset %s holds %d x %d channels, config %s has N_B = %d, N_U = %d", d.Source, d.NB, d.NU, cfg.Source, setup.Design.NB, setup.Design.NU)
	}
	log.Info("training", "model", kind, "config", cfg.Source, "dataset", d.Source, "static", len(d.H), "trajectories", len(d.Traj), "out", *out)
	switch kind {
	case "ae":
		_, err = training.TrainAutoencoder(ctx, d, tc, *out, log, stderr)
	case "tracker":
		_, err = training.TrainTracker(ctx, d, ae, setup, tc, *out, log, stderr)
	default:
		_, err = training.TrainE2E(ctx, d, setup, tc, *out, log, stderr)
	}
	return err
}
