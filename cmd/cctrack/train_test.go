package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

func TestTrainFlags(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	missing := filepath.Join(t.TempDir(), "missing.npz")
	for _, tc := range []struct {
		name  string
		args  []string
		usage bool   // a usage error (exit 2)
		want  string // in the error or on stderr
	}{
		{"no model", []string{"train"}, true, "usage: cctrack train"},
		{"unknown model", []string{"train", "vae"}, true, `unknown model "vae"`},
		{"no dataset", []string{"train", "ae", "--out", "x"}, true, "--dataset is required"},
		{"no out", []string{"train", "e2e", "--dataset", missing}, true, "--out is required"},
		{"tracker without ae", []string{"train", "tracker", "--dataset", missing, "--out", "x"}, true, "--ae is required"},
		{"no-tc is for ae", []string{"train", "tracker", "--no-tc"}, true, "flag provided but not defined: -no-tc"},
		{"extra argument", []string{"train", "ae", "--dataset", missing, "--out", "x", "more"}, true, "unexpected arguments"},
		{"missing dataset", []string{"train", "ae", "--dataset", missing, "--out", t.TempDir()}, false, "--dataset: training: dataset"},
		{"missing ae", []string{"train", "tracker", "--dataset", missing, "--ae", missing, "--out", t.TempDir()}, false, "--ae: training: checkpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(context.Background(), tc.args, io.Discard, &stderr, log)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, errUsage) != tc.usage {
				t.Errorf("usage error = %v, want %v (%v)", errors.Is(err, errUsage), tc.usage, err)
			}
			if !strings.Contains(err.Error()+stderr.String(), tc.want) {
				t.Errorf("error %q, stderr %q: want %q", err, stderr.String(), tc.want)
			}
		})
	}
}
