package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctrack/cctrack/calibration"
)

func TestCalibrateCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(cfg, []byte("bs: {array: {nh: 4, nv: 4}}\nbeamforming: {combiner: {beams: 8}, impairments: {gain_std_db: 1, phase_std_deg: 20}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ array, method string }{{"bs", "rev"}, {"ue", "pilot"}} {
		out := filepath.Join(dir, tc.array+".json")
		var logs bytes.Buffer
		err := run(context.Background(), []string{"calibrate", "--config", cfg, "--array", tc.array, "--method", tc.method, "--out", out},
			io.Discard, io.Discard, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		tab, err := calibration.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{"bs": 16, "ue": 4}[tc.array]
		if tab.Elements != n || tab.Method != tc.method || tab.Board != "sim-"+tc.array || tab.PhaseBits != 6 || tab.FrequencyHz != 3.5e9 {
			t.Errorf("table %+v", tab)
		}
		if !strings.Contains(logs.String(), "calibration written") || !strings.Contains(logs.String(), "error_phase_rms_deg=0.0") {
			t.Errorf("logs: %s", logs.String())
		}
	}
	for _, args := range [][]string{
		{"calibrate", "--array", "gw", "--out", "x.json"},
		{"calibrate", "--method", "fft", "--out", "x.json"},
		{"calibrate", "--array", "bs"},
		{"calibrate", "--out", "x.json", "extra"},
	} {
		var stderr bytes.Buffer
		if err := run(context.Background(), args, io.Discard, &stderr, slog.New(slog.DiscardHandler)); !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), "cctrack calibrate:") {
			t.Errorf("%q: %v\n%s", args, err, stderr.String())
		}
	}
	if err := run(context.Background(), []string{"calibrate", "--out", filepath.Join(dir, "no", "x.json")}, io.Discard, io.Discard, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "no") {
		t.Errorf("missing output directory: %v", err)
	}
}
