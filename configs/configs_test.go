package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmbeddedConfigsLoad(t *testing.T) {
	for _, name := range Names() {
		cfg, err := Load(filepath.Join(".", name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if cfg.Name == "" || cfg.Text == "" {
			t.Errorf("%s: empty name or text", name)
		}
	}
}

func TestDefaultIsEmbedded(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cfg.Scene.Source, "builtin:city") {
		t.Errorf("default scene %q needs external files", cfg.Scene.Source)
	}
}

func TestBadConfigsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"scene:\n  sourse: x.ply\n", "unknown key scene.sourse"},
		{"rf:\n  carrier_hz: -1\n", "rf.carrier_hz: must be > 0"},
		{"rf:\n  carrier_hz: abc\n", "carrier_hz"},
		{"rf:\n  subcarrier: 512\n", "rf.subcarrier: must be in"},
		{"scene:\n  ground: mud\n", "scene.ground: unknown ITU material \"mud\""},
		{"bs:\n  position: [1, 2]\n", "bs.position: must have 3 coordinates"},
		{"bs:\n  array: {nh: 0}\n", "bs.array.nh: must be > 0"},
		{"scene:\n  source: city.obj\n", "scene.source: must be"},
		{"trajectories:\n  evaluation: [[1, 2]]\n", "trajectories.evaluation: needs at least two"},
		{"bogus: 1\n", "unknown key bogus"},
		{"trajectories:\n  region: [1, 2, 3]\n", "trajectories.region: must have 4"},
		{"trajectories:\n  region: [1, 2, 0, 3]\n", "trajectories.region: want [x0, y0, x1, y1]"},
		{"rf: [\n", "parse config"},
	} {
		_, err := Parse([]byte(tc.yaml), "test.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want error containing %q", tc.yaml, err, tc.want)
		}
		if err != nil && !strings.Contains(err.Error(), "test.yaml") {
			t.Errorf("%q: error %v does not name the file", tc.yaml, err)
		}
	}
}

func TestEnvOverride(t *testing.T) {
	t.Setenv("CCTRACK_RF_CARRIER_HZ", "28e9")
	cfg, err := Parse([]byte("name: x\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RF.CarrierHz != 28e9 {
		t.Errorf("carrier = %g, want the environment's 28e9", cfg.RF.CarrierHz)
	}
}

func TestRelativeDir(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(p, []byte("scene:\n  source: mesh.ply\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Resolve(cfg.Scene.Source) != filepath.Join(dir, "mesh.ply") {
		t.Errorf("Resolve = %s", cfg.Resolve(cfg.Scene.Source))
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load("/nonexistent/c.yaml")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/c.yaml") {
		t.Errorf("got %v", err)
	}
}
