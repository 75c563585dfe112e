package configs

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctrack/cctrack/sim/geom"
)

func TestConfigsLoad(t *testing.T) {
	names, _ := filepath.Glob("*.yaml")
	if len(names) < 4 {
		t.Fatalf("configs: %v", names)
	}
	for _, name := range names {
		cfg, err := Load(name)
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
		{"rf:\n  bandwidth_hz: 8e9\n", "rf.bandwidth_hz: must be below twice"},
		{"rf:\n  wideband_subcarriers: [0, 600]\n", "rf.wideband_subcarriers[1]: must be in"},
		{"scene:\n  ground: mud\n", "scene.ground: unknown ITU material \"mud\""},
		{"bs:\n  position: [1, 2]\n", "bs.position: must have 3 coordinates"},
		{"bs:\n  array: {nh: 0}\n", "bs.array.nh: must be > 0"},
		{"scene:\n  source: city.obj\n", "scene.source: must be"},
		{"trajectories:\n  evaluation: [[1, 2]]\n", "trajectories.evaluation: needs at least two"},
		{"bogus: 1\n", "unknown key bogus"},
		{"trajectories:\n  region: [1, 2, 3]\n", "trajectories.region: must have 4"},
		{"trajectories:\n  region: [1, 2, 0, 3]\n", "trajectories.region: want [x0, y0, x1, y1]"},
		{"rf: [\n", "parse config"},
		{"beamforming:\n  combiner: {codebook: dft, beams: 101}\n", "beamforming.combiner.beams: a dft codebook on 100 elements allows 1..100 beams (got 101)"},
		{"beamforming:\n  precoder: {codebook: hadamard, beams: 8}\n", "beamforming.precoder.beams: a hadamard codebook on 4 elements allows 1..4"},
		{"beamforming:\n  combiner: {codebook: hadamard}\n", "beamforming.combiner.codebook: a hadamard codebook cannot be built on 100 elements"},
		{"beamforming:\n  combiner: {codebook: butler}\n", "beamforming.combiner.codebook: must be one of"},
		{"beamforming:\n  bits: 0\n", "beamforming.bits"},
		{"estimators:\n  run: [ls, mmse]\n", "estimators.run[1]: unknown estimator \"mmse\""},
		{"estimators:\n  run: [ls, ls]\n", "estimators.run[1]: ls is listed twice"},
		{"estimators:\n  run: []\n", "estimators.run: must list at least one"},
		{"estimators:\n  lmmse: {dataset: /nonexistent/train.npz}\n", "estimators.lmmse.dataset: stat /nonexistent/train.npz"},
		{"radio:\n  dataset: /nonexistent/eval.npz\n", "radio.dataset: stat /nonexistent/eval.npz"},
		{"radio:\n  backend: usrp\n", "radio.backend: must be sim"},
		{"telemetry:\n  influxdb: {url: \"localhost:8086\"}\n", "telemetry.influxdb.url"},
		{"telemetry:\n  buffer: {limit: 10, batch_size: 20}\n", "telemetry.buffer.batch_size"},
		{"telemetry:\n  buffer: {flush_interval: soon}\n", "flush_interval"},
		{"telemetry:\n  influxdb: {url: \"ftp://h:1\"}\n", "telemetry.influxdb.url"},
		{"daemon:\n  status_addr: localhost\n", "daemon.status_addr: want HOST:PORT"},
		{"daemon:\n  status_addr: 0.0.0.0:8787\n", "daemon.status_addr: 0.0.0.0:8787 is not a loopback address; serving it needs a token"},
		{"daemon:\n  status_addr: \":8787\"\n", "daemon.status_addr: :8787 is not a loopback address"},
		{"daemon:\n  status_token_env: A\n  status_token_file: b\n", "daemon.status_token_file: set at most one"},
		{"daemon:\n  unhealthy_after: -1\n", "daemon.unhealthy_after: must be >= 0"},
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

func TestWarnings(t *testing.T) {
	cfg, err := Parse([]byte("rf:\n  carrier_hz: 28e9\nscene:\n  ground: wet_ground\n"), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w := strings.Join(cfg.Warnings(), "\n")
	if !strings.Contains(w, "scene.ground: wet_ground is fitted for 1-10 GHz") || !strings.Contains(w, "scene.city.ground") {
		t.Errorf("warnings:\n%s", w)
	}
	def, _ := Load("")
	if len(def.Warnings()) != 0 {
		t.Errorf("default config warns: %v", def.Warnings())
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

// The typed parameters convert the edge units: array spacing in wavelengths at the carrier, angles
// in degrees, and each city surface keeps its own material and thickness.
func TestSimParams(t *testing.T) {
	cfg, err := Parse([]byte(`rf: {carrier_hz: 3.0e9}
bs:
  array: {nh: 4, nv: 2, spacing: 0.5, yaw_deg: 90, pitch_deg: -10, roll_deg: 180}
scene:
  city: {wall: concrete, wall_thickness: 0.3, roof: concrete, ground: concrete}
`), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.SimParams()
	if err != nil {
		t.Fatal(err)
	}
	lambda := 299792458.0 / 3e9
	if math.Abs(p.BS.Spacing-0.5*lambda) > 1e-15 || p.BS.Nh != 4 || p.BS.Nv != 2 {
		t.Errorf("BS array %+v, want spacing %g m", p.BS, 0.5*lambda)
	}
	if math.Abs(p.BS.Yaw-math.Pi/2) > 1e-15 || math.Abs(p.BS.Pitch+math.Pi/18) > 1e-15 || math.Abs(p.BS.Roll-math.Pi) > 1e-15 {
		t.Errorf("BS orientation %g %g %g rad", p.BS.Yaw, p.BS.Pitch, p.BS.Roll)
	}
	if p.BS.Position != geom.V(0, 0, 12) {
		t.Errorf("BS position %v", p.BS.Position)
	}
	c := p.Scene.City
	if c.Wall.Thickness != 0.3 || c.Roof.Thickness != 0 || c.Ground.Thickness != 0 || c.Wall.Name == c.Roof.Name {
		t.Errorf("city surfaces wall %+v roof %+v ground %+v", c.Wall, c.Roof, c.Ground)
	}
}

// A status address off loopback is accepted once a token source is configured.
func TestStatusAddrWithToken(t *testing.T) {
	for _, y := range []string{
		"daemon:\n  status_addr: 0.0.0.0:8787\n  status_token_env: CCTRACK_STATUS_TOKEN\n",
		"daemon:\n  status_addr: \"[::1]:8787\"\n",
		"daemon:\n  status_addr: 127.0.0.2:8787\n",
	} {
		if _, err := Parse([]byte(y), "t.yaml"); err != nil {
			t.Errorf("%q: %v", y, err)
		}
	}
}
