package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cctrack/cctrack/configs"
)

// trackerConfig is smallConfig running LS, the latent tracker and the E2E LSTM, with the model cache
// in cache and a training section that trains in a few seconds (a layer or two of a few units, few
// epochs).
func trackerConfig(t *testing.T, cache string, intervals int) configs.Config {
	t.Helper()
	cfg := smallConfig(t, intervals)
	cfg.Estimators.Run = []string{"ls", "tracker", "e2e"}
	cfg.Estimators.CacheDir = cache
	tr := &cfg.Training
	tr.AE.Hidden, tr.AE.Latent, tr.AE.Epochs, tr.AE.Batch, tr.AE.Patience = []int{24}, 4, 3, 16, 2
	tr.Tracker.G1, tr.Tracker.LSTMLayers, tr.Tracker.LSTMHidden, tr.Tracker.G2, tr.Tracker.G3 = []int{12}, 1, 8, nil, nil
	tr.Tracker.T, tr.Tracker.Epochs, tr.Tracker.Batch, tr.Tracker.Patience = 8, 2, 8, 2
	tr.E2E.LSTMLayers, tr.E2E.LSTMHidden, tr.E2E.Hidden = 1, 8, []int{12}
	tr.E2E.T, tr.E2E.Epochs, tr.E2E.Batch, tr.E2E.Patience = 8, 2, 8, 2
	return cfg
}

// nmseLines counts the telemetry file's nmse lines per estimator.
func nmseLines(t *testing.T, dir string) map[string]int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "nmse-*.lp"))
	if len(files) != 1 {
		t.Fatalf("telemetry files %v", files)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	count := map[string]int{}
	est := regexp.MustCompile(`^nmse,.*estimator=([a-z_0-9]+)`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := est.FindStringSubmatch(sc.Text()); m != nil {
			count[m[1]]++
		}
	}
	return count
}

// The first start traces the training data once and trains the tracker (autoencoder first) and the
// E2E LSTM into the cache; the second finds them there and trains nothing. Both runs score the
// learned estimators every interval, so the models fit the design the controller forms from the
// radio.
func TestTrackerTrainedOnceAndCached(t *testing.T) {
	cache := t.TempDir()
	var logs bytes.Buffer
	cfg := trackerConfig(t, cache, 10)
	if err := run(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "model trained and cached") || !strings.Contains(logs.String(), "training autoencoder") {
		t.Errorf("first start, logs:\n%s", logs.String())
	}
	dirs, _ := filepath.Glob(filepath.Join(cache, "*"))
	if len(dirs) != 1 || !strings.HasPrefix(filepath.Base(dirs[0]), "default-") {
		t.Fatalf("cache holds %v, want one default-HASH directory", dirs)
	}
	if n := strings.Count(logs.String(), "training data traced"); n != 1 {
		t.Errorf("training data traced %d times, want once", n)
	}
	for _, sub := range []string{"ae", "tracker", "e2e"} {
		if st, err := os.Stat(filepath.Join(dirs[0], sub)); err != nil || !st.IsDir() {
			t.Errorf("cache %s: %v", sub, err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dirs[0], "*.partial*")); len(left) > 0 {
		t.Errorf("scratch directories left behind: %v", left)
	}
	if n := nmseLines(t, cfg.Telemetry.File.Dir); n["tracker"] != 10 || n["e2e"] != 10 || n["ls"] != 10 {
		t.Errorf("nmse lines per estimator %v, want 10 each", n)
	}

	logs.Reset()
	cfg = trackerConfig(t, cache, 10)
	if err := run(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "model from cache") || strings.Contains(logs.String(), "training") {
		t.Errorf("second start, logs:\n%s", logs.String())
	}
	if n := nmseLines(t, cfg.Telemetry.File.Dir); n["tracker"] != 10 || n["e2e"] != 10 {
		t.Errorf("second start: nmse lines per estimator %v, want 10 each", n)
	}

	// Another combiner is another testbed: another cache entry, and the cached model named
	// explicitly is refused.
	cfg = trackerConfig(t, cache, 1)
	cfg.Beamforming.Combiner.Beams = 6
	cfg.Estimators.Tracker.Model = filepath.Join(dirs[0], "tracker")
	err := run(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "does not fit this testbed") {
		t.Errorf("a model for 8 combiner beams on a 6-beam testbed: error %v", err)
	}
	if other, err := cacheDir(cfg); err != nil || other == dirs[0] {
		t.Errorf("cache directory for 6 beams %q (%v), the same as for 8", other, err)
	}
}

// With training at start off, a missing model is an error that says how to get one.
func TestNoTrainMissingModel(t *testing.T) {
	cfg := trackerConfig(t, t.TempDir(), 1)
	cfg.Estimators.AutoTrain = false
	err := run(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard)
	for _, want := range []string{"estimators.tracker.model: no model at", "--no-train", "cctrack train tracker"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want it to say %q", err, want)
		}
	}
}
