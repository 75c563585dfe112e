package configs

import (
	"strings"
	"testing"
)

func TestTrainingSection(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	tc := cfg.TrainingConfig()
	if err := tc.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(tc.AE.Hidden) != 2 || tc.AE.Latent < 1 || tc.Tracker.LSTMLayers < 1 || tc.E2E.T < 1 {
		t.Errorf("default training config %+v", tc)
	}
	for _, name := range []string{"paper-10x10.yaml", "paper-20x20.yaml"} {
		cfg, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		tc := cfg.TrainingConfig()
		if tc.AE.Latent != 64 || len(tc.AE.Hidden) != 2 || tc.AE.Hidden[0] != 1280 || tc.AE.Hidden[1] != 256 || tc.Tracker.LSTMLayers != 3 || tc.Tracker.LSTMHidden != 64 {
			t.Errorf("%s: training section is not the paper's sizes: %+v", name, tc)
		}
	}
	_, err = Parse([]byte("training:\n  ae: {lr: 0}\n  tracker: {g1: [0]}\n"), "test")
	if err == nil || !strings.Contains(err.Error(), "training.ae.lr") || !strings.Contains(err.Error(), "training.tracker.g1[0]") {
		t.Errorf("bad training values: got %v, want errors naming training.ae.lr and training.tracker.g1[0]", err)
	}
}
