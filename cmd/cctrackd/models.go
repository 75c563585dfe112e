package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/estimator"
	"github.com/cctrack/cctrack/estimator/learned"
	"github.com/cctrack/cctrack/internal/controller"
	"github.com/cctrack/cctrack/internal/progress"
	"github.com/cctrack/cctrack/sim"
	"github.com/cctrack/cctrack/sim/dataset"
	"github.com/cctrack/cctrack/training"
)

// models finds the trained models of the learned estimators (tracker, e2e): the checkpoint that
// estimators.NAME.model names, or the one in the model cache, which the daemon trains first when it
// is missing (estimators.auto_train). The training data is traced once and shared.
type models struct {
	cfg         configs.Config
	sim         *sim.Simulator
	log         *slog.Logger
	progressOut io.Writer
	data        *training.Data
}

// Trained models get the design they were trained on, also on a calibrated radio.
var _ controller.NominalDesigner = (*learned.Estimator)(nil)

func newModels(cfg configs.Config, s *sim.Simulator, log *slog.Logger, progressOut io.Writer) *models {
	return &models{cfg: cfg, sim: s, log: log, progressOut: progressOut}
}

// estimator returns the learned estimator name ("tracker" or "e2e") with its model.
func (ms *models) estimator(ctx context.Context, name string) (estimator.Estimator, error) {
	var m learned.Model
	var err error
	switch name {
	case "tracker":
		m, err = ms.tracker(ctx)
	case "e2e":
		m, err = ms.e2e(ctx)
	default:
		panic("cctrackd: no learned estimator " + name)
	}
	if err != nil {
		return nil, err
	}
	return learned.New(name, m), nil
}

func (ms *models) tracker(ctx context.Context) (learned.Model, error) {
	return loadOrTrain(ctx, ms, "tracker", ms.cfg.Estimators.Tracker.Model, training.LoadTracker,
		func(ctx context.Context, dir, out string, data *training.Data, setup training.Setup) error {
			ae, err := ms.autoencoder(ctx, dir, data)
			if err != nil {
				return err
			}
			_, err = training.TrainTracker(ctx, data, ae, setup, ms.cfg.TrainingConfig(), out, ms.log, ms.progressOut)
			return err
		})
}

func (ms *models) e2e(ctx context.Context) (learned.Model, error) {
	return loadOrTrain(ctx, ms, "e2e", ms.cfg.Estimators.E2E.Model, training.LoadE2E,
		func(ctx context.Context, _, out string, data *training.Data, setup training.Setup) error {
			_, err := training.TrainE2E(ctx, data, setup, ms.cfg.TrainingConfig(), out, ms.log, ms.progressOut)
			return err
		})
}

// loadOrTrain loads estimator name's model: from the configured directory when there is one, else
// from the cache, training it there first when it is missing and auto_train allows.
func loadOrTrain[M learned.Model](ctx context.Context, ms *models, name, configured string, load func(string) (M, error),
	train func(ctx context.Context, cacheDir, out string, data *training.Data, setup training.Setup) error) (learned.Model, error) {
	key := "estimators." + name + ".model"
	if configured != "" {
		p := ms.cfg.Resolve(configured)
		m, err := load(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		ms.log.Info("model loaded", "estimator", name, "dir", p)
		return m, nil
	}
	dir, err := cacheDir(ms.cfg)
	if err != nil {
		return nil, err
	}
	p := filepath.Join(dir, name)
	if exists(p) {
		m, err := load(p)
		if err != nil {
			return nil, fmt.Errorf("%s: cached model %s: %w (delete the directory to train it again)", key, p, err)
		}
		ms.log.Info("model from cache", "estimator", name, "dir", p)
		return m, nil
	}
	if !ms.cfg.Estimators.AutoTrain {
		return nil, fmt.Errorf("%s: no model at %s and training at start is off (--no-train or estimators.auto_train: false); "+
			"start without --no-train to train it there, or train one (%s) and set %s to its directory", key, p, trainRecipe(ms.cfg, name), key)
	}
	data, err := ms.dataset(ctx)
	if err != nil {
		return nil, err
	}
	setup, err := ms.cfg.TrainingSetup()
	if err != nil {
		return nil, err
	}
	ms.log.Info("training model (once; later starts reuse it)", "estimator", name, "dir", p)
	t0 := time.Now()
	if err := trainInto(p, func(out string) error { return train(ctx, dir, out, data, setup) }); err != nil {
		return nil, fmt.Errorf("%s: train into %s: %w", key, p, err)
	}
	m, err := load(p)
	if err != nil {
		return nil, fmt.Errorf("%s: load the model just trained: %w", key, err)
	}
	ms.log.Info("model trained and cached", "estimator", name, "dir", p, "took", time.Since(t0).Round(time.Second))
	return m, nil
}

// autoencoder is the cache's autoencoder (dir/ae), trained first when missing.
func (ms *models) autoencoder(ctx context.Context, dir string, data *training.Data) (*training.Autoencoder, error) {
	p := filepath.Join(dir, "ae")
	if !exists(p) {
		ms.log.Info("training autoencoder", "dir", p)
		if err := trainInto(p, func(out string) error {
			_, err := training.TrainAutoencoder(ctx, data, ms.cfg.TrainingConfig(), out, ms.log, ms.progressOut)
			return err
		}); err != nil {
			return nil, fmt.Errorf("train autoencoder into %s: %w", p, err)
		}
	}
	// Loaded from its final place, so that the tracker trained on it refers to that.
	ae, err := training.LoadAutoencoder(p)
	if err != nil {
		return nil, fmt.Errorf("cached autoencoder %s: %w (delete the directory to train it again)", p, err)
	}
	return ae, nil
}

// dataset traces the config's training dataset in memory, once (what `cctrack sim dataset` writes).
func (ms *models) dataset(ctx context.Context) (*training.Data, error) {
	if ms.data != nil {
		return ms.data, nil
	}
	var bar *progress.Bar
	d, err := dataset.Generate(ctx, ms.sim, ms.cfg.DatasetSpec(),
		func(n int) { bar = progress.New(ms.progressOut, n, "tracing training data") },
		func(done int) { bar.Set(done) })
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return nil, fmt.Errorf("training data: %w", err)
	}
	ms.log.Info("training data traced", "positions", d.K, "trajectories", d.N, "steps", d.T)
	ms.data = training.FromDataset(d)
	return ms.data, nil
}

// trainInto runs train on a scratch directory next to final and renames it into place only when
// training finished, so that an interrupted training never leaves a model the next start would
// take for a finished one. Each call has its own scratch directory: when two daemons train the same
// model at once, the first to finish puts it in place and the other keeps that one.
func trainInto(final string, train func(out string) error) error {
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), filepath.Base(final)+".partial-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // nothing left after a successful rename
	if err := train(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil && !exists(final) {
		return err
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, fs.ErrNotExist)
}

// cacheDir is estimators.cache_dir/NAME-HASH, HASH over what the models depend on: the scene and
// tracer, the radio model, the arrays, the training positions and trajectories, the nominal pilot
// design and the training hyperparameters. Impairments are left out: the models, like every
// estimator, assume nominal weights.
func cacheDir(cfg configs.Config) (string, error) {
	bf := cfg.Beamforming
	bf.Impairments = configs.Impairments{}
	scene := cfg.Scene
	if !strings.HasPrefix(scene.Source, "builtin:") {
		scene.Source = cfg.Resolve(scene.Source)
	}
	b, err := json.Marshal(struct {
		Scene        configs.Scene
		RF           configs.RF
		Tracer       configs.Tracer
		BS           configs.BS
		UE           configs.UE
		Users        configs.Users
		Trajectories configs.Trajectories
		Beamforming  configs.Beamforming
		Training     training.Config
	}{scene, cfg.RF, cfg.Tracer, cfg.BS, cfg.UE, cfg.Users, cfg.Trajectories, bf, cfg.TrainingConfig()})
	if err != nil {
		return "", fmt.Errorf("estimators.cache_dir: hash the config: %w", err)
	}
	sum := sha256.Sum256(b)
	return filepath.Join(cfg.Estimators.CacheDir, fmt.Sprintf("%s-%x", cfg.Name, sum[:6])), nil
}

// trainRecipe is the commands that train name's model for cfg by hand, on one line.
func trainRecipe(cfg configs.Config, name string) string {
	c := cfg.Source
	if c == "embedded:"+configs.DefaultName {
		c = "configs/default.yaml"
	}
	cmds := []string{fmt.Sprintf("cctrack sim dataset --config %s --out data.npz", c)}
	switch name {
	case "tracker":
		cmds = append(cmds, fmt.Sprintf("cctrack train ae --config %s --dataset data.npz --out models/ae", c),
			fmt.Sprintf("cctrack train tracker --config %s --dataset data.npz --ae models/ae --out models/tracker", c))
	case "e2e":
		cmds = append(cmds, fmt.Sprintf("cctrack train e2e --config %s --dataset data.npz --out models/e2e", c))
	}
	return strings.Join(cmds, " && ")
}
