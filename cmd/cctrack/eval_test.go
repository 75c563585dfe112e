package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"image/png"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/training"
)

// tinyTraining trains every model of the tiny testbed below in about a second: a layer or two of a
// few units, a few epochs. The numbers it gives say nothing about the method; the tests check the
// plumbing.
func tinyTraining() training.Config {
	var c training.Config
	c.Seed, c.Sequences, c.LRSchedule = 3, training.SequencesPositions, training.LRConstant
	c.AE = training.AEConfig{Hidden: []int{24}, Latent: 4, Lambda: 1, LatentNoise: 0.01,
		Epochs: 3, Batch: 8, LR: 3e-3, Patience: 2, ValFraction: 0.25}
	c.Tracker = training.TrackerConfig{G1: []int{12}, LSTMLayers: 1, LSTMHidden: 8, T: 8, LambdaAlpha: 1, LambdaBeta: 1,
		Epochs: 3, Batch: 4, LR: 3e-3, Patience: 2, ValFraction: 0.25}
	c.E2E = training.E2EConfig{LSTMLayers: 1, LSTMHidden: 8, Hidden: []int{12}, T: 8,
		Epochs: 3, Batch: 4, LR: 3e-3, Patience: 2, ValFraction: 0.25}
	return c
}

// tinyEvalSetup writes a tiny testbed config (the built-in city, a 4x2 BS, 16-step trajectories),
// its dataset, and the five checkpoints of the --models layout trained on it.
func tinyEvalSetup(t *testing.T) (cfgPath, dataPath, models string) {
	t.Helper()
	dir := t.TempDir()
	cfgPath = filepath.Join(dir, "tiny.yaml")
	if err := os.WriteFile(cfgPath, []byte(`name: tiny
bs:
  array: {nh: 4, nv: 2}
beamforming:
  combiner: {beams: 6}
users:
  grid: {origin: [16, -6], rows: 6, cols: 6, spacing: 1.5}
trajectories:
  steps: 16
  count: 4
`), 0o644); err != nil {
		t.Fatal(err)
	}
	dataPath = filepath.Join(dir, "tiny.npz")
	if _, stderr, err := runCLI(t, "sim", "dataset", "--config", cfgPath, "--out", dataPath); err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	cfg, err := configs.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	data, err := training.ReadDataset(dataPath)
	if err != nil {
		t.Fatal(err)
	}
	d, err := cfg.Design()
	if err != nil {
		t.Fatal(err)
	}
	_, noise := cfg.Powers()
	setup := training.Setup{Design: d, Noise: noise}
	ctx, log := context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil))
	models = filepath.Join(dir, "models")
	tc := tinyTraining()
	noTC := tc
	noTC.AE.Lambda = 0
	for _, m := range []struct {
		ae, tracker string
		cfg         training.Config
	}{{modelAE, modelTracker, tc}, {modelAENoTC, modelTrackerNoTC, noTC}} {
		ae, err := training.TrainAutoencoder(ctx, data, m.cfg, filepath.Join(models, m.ae), log, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := training.TrainTracker(ctx, data, ae, setup, m.cfg, filepath.Join(models, m.tracker), log, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := training.TrainE2E(ctx, data, setup, tc, filepath.Join(models, modelE2E), log, io.Discard); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dataPath, models
}

// readSummary decodes summary.json generically, so that the test sees its exact shape.
func readSummary(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// checkSummary checks that summary.json's estimators are exactly want, each {"nmse_db": finite}.
func checkSummary(t *testing.T, sum map[string]any, want []string) {
	t.Helper()
	ests, _ := sum["estimators"].(map[string]any)
	var got []string
	for name, v := range ests {
		got = append(got, name)
		e, _ := v.(map[string]any)
		db, ok := e["nmse_db"].(float64)
		if len(e) != 1 || !ok || math.IsNaN(db) || math.IsInf(db, 0) {
			t.Errorf("summary estimators.%s = %v, want exactly {\"nmse_db\": finite}", name, v)
		}
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("summary estimators %v, want %v", got, want)
	}
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := png.DecodeConfig(f)
	if err != nil || c.Width < 100 || c.Height < 100 {
		t.Errorf("%s: %v, %dx%d", path, err, c.Width, c.Height)
	}
}

func TestEval(t *testing.T) {
	cfgPath, dataPath, models := tinyEvalSetup(t)
	all := []string{"ls", "lmmse", "omp", "tracker", "tracker_no_tc", "e2e"}

	t.Run("every model", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "eval")
		if _, stderr, err := runCLI(t, "eval", "--config", cfgPath, "--models", models, "--dataset", dataPath, "--out", out); err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		f, err := os.Open(filepath.Join(out, "nmse.csv"))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		// Every interval of the 16-step evaluation walk has a path in the built-in city, so each
		// estimator has one row per interval, in interval order.
		if len(rows) != 1+16*len(all) || !slices.Equal(rows[0], []string{"interval", "estimator", "nmse_db"}) {
			t.Fatalf("nmse.csv: %d rows, header %v", len(rows), rows[0])
		}
		for i, r := range rows[1:] {
			db, err := strconv.ParseFloat(r[2], 64)
			if r[0] != strconv.Itoa(i/len(all)) || r[1] != all[i%len(all)] || err != nil || math.IsNaN(db) {
				t.Fatalf("nmse.csv row %d: %v", i+1, r)
			}
		}
		sum := readSummary(t, filepath.Join(out, "summary.json"))
		checkSummary(t, sum, all)
		if tr, _ := sum["trajectory"].(map[string]any); tr["kind"] != "evaluation" || tr["intervals"] != 16.0 {
			t.Errorf("summary trajectory %v", tr)
		}
		lat, _ := sum["latent"].(map[string]any)
		if len(lat) != 2 {
			t.Errorf("summary latent %v, want both autoencoders", lat)
		}
		for name, l := range lat {
			if r, ok := l.(map[string]any)["reconstruction_nmse_db"].(float64); !ok || math.IsNaN(r) || r > 10 {
				t.Errorf("summary latent.%s.reconstruction_nmse_db = %v, want a finite NMSE", name, l)
			}
		}
		checkPNG(t, filepath.Join(out, "nmse-tiny.png"))
		checkPNG(t, filepath.Join(out, "latent-tiny.png"))
		if _, err := os.Stat(filepath.Join(out, "latent.csv")); err != nil {
			t.Error(err)
		}
	})

	// Only the tracker: the rest is left out (and logged), including an e2e/ whose training has not
	// finished an epoch (no config.json yet); no autoencoder, no latent figure. The held-out walk
	// (moved half a metre) and the dataset generated in memory take the other paths of the command.
	// --memoryless adds the tracker reset before every interval, which estimates differently.
	t.Run("tracker only, held out", func(t *testing.T) {
		only := filepath.Join(t.TempDir(), "models")
		if err := os.CopyFS(filepath.Join(only, modelTracker), os.DirFS(filepath.Join(models, modelTracker))); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(only, modelE2E), 0o755); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "eval")
		if _, stderr, err := runCLI(t, "eval", "--config", cfgPath, "--models", only, "--heldout", "0.5,-0.5", "--memoryless", "--out", out); err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		sum := readSummary(t, filepath.Join(out, "summary.json"))
		checkSummary(t, sum, []string{"ls", "lmmse", "omp", "tracker", "tracker_memoryless"})
		ests, _ := sum["estimators"].(map[string]any)
		if a, b := ests["tracker"], ests["tracker_memoryless"]; reflect.DeepEqual(a, b) {
			t.Errorf("tracker %v and tracker_memoryless %v: want the reset to change the estimates", a, b)
		}
		if tr, _ := sum["trajectory"].(map[string]any); tr["kind"] != "heldout" || tr["intervals"] != 16.0 {
			t.Errorf("summary trajectory %v", tr)
		}
		checkPNG(t, filepath.Join(out, "nmse-tiny.png"))
		if _, err := os.Stat(filepath.Join(out, "latent-tiny.png")); err == nil {
			t.Error("a latent figure without autoencoders")
		}
	})
}

func TestEvalBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no models", []string{"eval", "--out", dir}, "--models and --out are required"},
		{"bad shift", []string{"eval", "--models", dir, "--out", dir, "--heldout", "2"}, "--heldout: want DX,DY"},
		{"missing dataset", []string{"eval", "--models", dir, "--out", dir, "--dataset", filepath.Join(dir, "none.npz")}, "--dataset"},
	} {
		_, stderr, err := runCLI(t, tc.args...)
		if err == nil || !(strings.Contains(err.Error(), tc.want) || strings.Contains(stderr, tc.want)) {
			t.Errorf("%s: error %v, stderr %q, want %q", tc.name, err, stderr, tc.want)
		}
	}
}
