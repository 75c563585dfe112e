package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/cmplx"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cctrack/cctrack/configs"
	"github.com/cctrack/cctrack/internal/npz"
	"github.com/cctrack/cctrack/sim"
	"github.com/cctrack/cctrack/sim/geom"
)

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return out.String(), errb.String(), err
}

// plate writes an ASCII PLY of a 20 m x 20 m horizontal plate at z = 0 (two triangles).
func plate(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "plate.ply")
	ply := `ply
format ascii 1.0
element vertex 4
property float x
property float y
property float z
element face 1
property list uchar int vertex_indices
end_header
-10 -10 0
10 -10 0
10 10 0
-10 10 0
4 0 1 2 3
`
	if err := os.WriteFile(p, []byte(ply), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func decodeLines(t *testing.T, out string) []jsonRx {
	t.Helper()
	var rxs []jsonRx
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var r jsonRx
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		rxs = append(rxs, r)
	}
	return rxs
}

// The JSON-lines contract on a closed form: over a metal plate, LoS plus one ground-plate reflection
// whose vertex is the image point and whose delay is |image - rx| / c. Tolerances: 1e-9 relative
// (float64 geometry, and the PLY's float32 vertices are exact small integers here).
func TestSimPathsPlate(t *testing.T) {
	rxFile := filepath.Join(t.TempDir(), "rx.csv")
	if err := os.WriteFile(rxFile, []byte("x,y,z\n4,0,2\n-3,1,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, stderr, err := runCLI(t, "sim", "paths", "--scene", plate(t), "--material", "metal",
		"--tx", "-4,0,3", "--rx-file", rxFile, "--max-depth", "2", "--json")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	rxs := decodeLines(t, out)
	if len(rxs) != 2 || rxs[0].Rx != [3]float64{4, 0, 2} || rxs[1].Rx != [3]float64{-3, 1, 1} {
		t.Fatalf("receivers out of order or missing: %+v", rxs)
	}
	const c = 299792458.0
	tx := [3]float64{-4, 0, 3}
	for _, r := range rxs {
		if len(r.Paths) != 2 {
			t.Fatalf("rx %v: %d paths, want LoS + 1 reflection", r.Rx, len(r.Paths))
		}
		los, refl := r.Paths[0], r.Paths[1]
		d := math.Sqrt(sq(r.Rx[0]-tx[0]) + sq(r.Rx[1]-tx[1]) + sq(r.Rx[2]-tx[2]))
		di := math.Sqrt(sq(r.Rx[0]-tx[0]) + sq(r.Rx[1]-tx[1]) + sq(r.Rx[2]+tx[2]))
		if los.Kind != "los" || len(los.Interactions) != 0 || math.Abs(los.DelayS-d/c) > 1e-9*d/c {
			t.Errorf("rx %v LoS: %+v (want delay %g)", r.Rx, los, d/c)
		}
		lambda := c / 3.5e9
		if want := 20 * math.Log10(lambda/(4*math.Pi*d)); math.Abs(los.PowerDB-want) > 1e-9 {
			t.Errorf("rx %v LoS power %g dB, want %g", r.Rx, los.PowerDB, want)
		}
		if refl.Kind != "reflection" || len(refl.Interactions) != 1 || refl.Interactions[0] != "R" ||
			math.Abs(refl.DelayS-di/c) > 1e-9*di/c || len(refl.Vertices) != 1 {
			t.Fatalf("rx %v reflection: %+v (want delay %g)", r.Rx, refl, di/c)
		}
		// Image geometry: the specular point divides the horizontal offset in the ratio of heights.
		s := tx[2] / (tx[2] + r.Rx[2])
		want := [3]float64{tx[0] + s*(r.Rx[0]-tx[0]), tx[1] + s*(r.Rx[1]-tx[1]), 0}
		for k := range want {
			if math.Abs(refl.Vertices[0][k]-want[k]) > 1e-9 {
				t.Errorf("rx %v: reflection vertex %v, want %v", r.Rx, refl.Vertices[0], want)
			}
		}
		if p := 20 * math.Log10(math.Hypot(refl.ARe, refl.AIm)); math.Abs(p-refl.PowerDB) > 1e-9 {
			t.Errorf("power_db %g is not 20 log10 |a| = %g", refl.PowerDB, p)
		}
		// AoA points back towards the specular point: downwards from the receiver.
		if refl.AoATheta <= math.Pi/2 {
			t.Errorf("reflection AoA theta %g should point below the horizon", refl.AoATheta)
		}
	}
}

func sq(x float64) float64 { return x * x }

func TestSimPathsBuiltinCity(t *testing.T) {
	out, stderr, err := runCLI(t, "sim", "paths", "--scene", "builtin:city:7", "--tx", "0,0,12",
		"--rx", "20,2,1.5", "--rx", "0,30,1.5", "--json")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	rxs := decodeLines(t, out)
	if len(rxs) != 2 {
		t.Fatalf("%d lines", len(rxs))
	}
	for _, r := range rxs {
		if len(r.Paths) == 0 || r.Paths[0].Kind != "los" {
			t.Errorf("rx %v in the street from the BS: want LoS first, got %+v", r.Rx, r.Paths)
		}
		for i := 1; i < len(r.Paths); i++ {
			if r.Paths[i].DelayS < r.Paths[i-1].DelayS {
				t.Errorf("rx %v: paths not sorted by delay", r.Rx)
			}
		}
	}
}

func TestSimPathsBadInput(t *testing.T) {
	dir := t.TempDir()
	badCSV := filepath.Join(dir, "bad.csv")
	os.WriteFile(badCSV, []byte("1,2,3\n\n\n4,five,6\n"), 0o644) // blank lines still count
	badFirst := filepath.Join(dir, "badfirst.csv")
	os.WriteFile(badFirst, []byte("1,2,x\n3,4,5\n"), 0o644) // a number in it: not a header
	bad := filepath.Join(dir, "bad.ply")
	os.WriteFile(bad, []byte("ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nend_header\n1\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tx", "0,0,1", "--rx", "1,1,1", "--json"}, "--scene is required"},
		{[]string{"--scene", "builtin:city", "--tx", "0,0", "--rx", "1,1,1", "--json"}, "--tx: want X,Y,Z"},
		{[]string{"--scene", "builtin:city", "--tx", "0,0,1", "--json"}, "--rx or --rx-file"},
		{[]string{"--scene", "builtin:city", "--tx", "0,0,1", "--rx", "1,1,1"}, "--json is required"},
		{[]string{"--scene", "builtin:city", "--tx", "0,0,1", "--rx", "1,1,1", "--material", "cheese", "--json"}, "--material"},
		{[]string{"--scene", "builtin:city:x", "--tx", "0,0,1", "--rx", "1,1,1", "--json"}, "builtin:city[:SEED]"},
		{[]string{"--scene", "builtin:city", "--tx", "0,0,1", "--rx-file", badCSV, "--json"}, "bad.csv: line 4"},
		{[]string{"--scene", "builtin:city", "--tx", "0,0,1", "--rx-file", badFirst, "--json"}, "badfirst.csv: line 1"},
		{[]string{"--scene", bad, "--tx", "0,0,1", "--rx", "1,1,1", "--json"}, "bad.ply"},
		{[]string{"--scene", filepath.Join(dir, "none.xml"), "--tx", "0,0,1", "--rx", "1,1,1", "--json"}, "none.xml"},
	} {
		_, stderr, err := runCLI(t, append([]string{"sim", "paths"}, tc.args...)...)
		if err == nil {
			t.Errorf("%v: no error", tc.args)
			continue
		}
		if msg := err.Error() + stderr; !strings.Contains(msg, tc.want) {
			t.Errorf("%v: %q does not mention %q", tc.args, msg, tc.want)
		}
	}
	if _, _, err := runCLI(t, "sim", "nope"); !errors.Is(err, errUsage) {
		t.Errorf("unknown command: %v", err)
	}
}

// A small dataset from the built-in city: shapes as documented, and the stored channels equal the
// simulator's own (complex64 rounding: 1e-6 relative).
func TestSimDataset(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "small.yaml")
	os.WriteFile(cfg, []byte(`name: small
bs:
  array: {nh: 4, nv: 2}
users:
  grid: {origin: [16, -6], rows: 3, cols: 4, spacing: 2}
  points: [[30, 3, 1.5]]
trajectories:
  steps: 12
  count: 2
`), 0o644)
	out := filepath.Join(dir, "d.npz")
	if _, stderr, err := runCLI(t, "sim", "dataset", "--config", cfg, "--out", out); err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	arrs, err := npz.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	shape := func(name string) []int { return arrs[name].Shape }
	k := shape("H")[0]
	if k == 0 || k > 13 || !slices.Equal(shape("H"), []int{k, 8, 4}) || !slices.Equal(shape("pos"), []int{k, 3}) {
		t.Errorf("H %v pos %v", shape("H"), shape("pos"))
	}
	if !slices.Equal(shape("traj_H"), []int{2, 12, 8, 4}) || !slices.Equal(shape("traj_pos"), []int{2, 12, 3}) {
		t.Errorf("traj_H %v traj_pos %v", shape("traj_H"), shape("traj_pos"))
	}
	if !slices.Equal(shape("eval_H"), []int{1, 12, 8, 4}) || arrs["eval_H"].Dtype != "<c8" {
		t.Errorf("eval_H %v %s", shape("eval_H"), arrs["eval_H"].Dtype)
	}
	// The first stored channel is the simulator's channel at the first stored position.
	c, err := configs.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	params, err := c.SimParams()
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.New(params)
	if err != nil {
		t.Fatal(err)
	}
	pos := arrs["pos"].Data.([]float64)
	p0 := geom.V(pos[0], pos[1], pos[2])
	paths, err := s.Paths(context.Background(), []geom.Vec3{p0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]complex128, 32)
	s.Channel(paths[0], p0, want)
	got := arrs["H"].Data.([]complex64)[:32]
	var num, den float64
	for i := range want {
		num += cmplx.Abs(complex128(got[i])-want[i]) * cmplx.Abs(complex128(got[i])-want[i])
		den += cmplx.Abs(want[i]) * cmplx.Abs(want[i])
	}
	if den == 0 || math.Sqrt(num/den) > 1e-6 {
		t.Errorf("stored H[0] differs from the simulator's channel: relative error %g (|H| %g)", math.Sqrt(num/den), den)
	}
	cfgText, _ := arrs["config"].Data.(string)
	if !strings.Contains(cfgText, `"name":"small"`) {
		t.Errorf("config not stored: %.100s", cfgText)
	}
	// Trajectory samples are Speed*Interval apart (straight start of a walk: chord = arc), and
	// random walks stay in trajectories.region (the default [5, -10, 65, 45]).
	tp := arrs["traj_pos"].Data.([]float64)
	for i := 0; i < len(tp); i += 3 {
		if tp[i] < 5 || tp[i] > 65 || tp[i+1] < -10 || tp[i+1] > 45 {
			t.Fatalf("trajectory sample %v outside the region", tp[i:i+3])
		}
	}
	step := math.Sqrt(sq(tp[3]-tp[0]) + sq(tp[4]-tp[1]) + sq(tp[5]-tp[2]))
	if math.Abs(step-0.3) > 1e-6 {
		t.Errorf("first trajectory step %g m, want speed 1.5 m/s x 0.2 s = 0.3 m", step)
	}
}

// Shards merge into exactly the file a single run writes (DESIGN.md: shards merge bit-identically).
func TestSimDatasetShardsMerge(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "small.yaml")
	os.WriteFile(cfg, []byte("rf:\n  wideband_subcarriers: [0, 256, 511]\nbs:\n  array: {nh: 2, nv: 2}\nusers:\n  grid: {origin: [16, -6], rows: 4, cols: 5, spacing: 2}\ntrajectories:\n  steps: 8\n  count: 5\n"), 0o644)
	whole := filepath.Join(dir, "whole.npz")
	if _, stderr, err := runCLI(t, "sim", "dataset", "--config", cfg, "--out", whole); err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	var shards []string
	for _, i := range []int{2, 0, 1} { // any order
		p := filepath.Join(dir, fmt.Sprintf("s%d.npz", i))
		if _, stderr, err := runCLI(t, "sim", "dataset", "--config", cfg, "--out", p, "--shard", fmt.Sprintf("%d/3", i)); err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		shards = append(shards, p)
	}
	merged := filepath.Join(dir, "merged.npz")
	if _, stderr, err := runCLI(t, append([]string{"sim", "merge", "--out", merged}, shards...)...); err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	arrs, err := npz.Open(whole)
	if err != nil {
		t.Fatal(err)
	}
	hf, h := arrs["H_f"], arrs["H"]
	if k := h.Shape[0]; !slices.Equal(hf.Shape, []int{k, 3, 4, 4}) || !slices.Equal(arrs["traj_H_f"].Shape, []int{5, 8, 3, 4, 4}) {
		t.Fatalf("H_f %v traj_H_f %v", hf.Shape, arrs["traj_H_f"].Shape)
	}
	// H_f's middle subcarrier is rf.subcarrier (256), so it repeats H (complex64 rounding).
	hv, hfv := h.Data.([]complex64), hf.Data.([]complex64)
	for i := range hv {
		pos, el := i/16, i%16
		if d := cmplx.Abs(complex128(hfv[pos*48+16+el] - hv[i])); d > 1e-6*cmplx.Abs(complex128(hv[i])) {
			t.Fatalf("H_f[%d, 1] differs from H by %g", pos, d)
		}
	}
	a, _ := os.ReadFile(whole)
	b, _ := os.ReadFile(merged)
	if !bytes.Equal(a, b) {
		t.Errorf("merged shards (%d bytes) differ from the single run (%d bytes)", len(b), len(a))
	}
	// Bad merges name the problem.
	for _, tc := range []struct {
		files []string
		want  string
	}{
		{shards[:2], "2 files for 3 shards"},
		{[]string{shards[0], shards[0], shards[1]}, "are both shard 2/3"},
		{[]string{whole}, "no array \"shard\""},
	} {
		_, _, err := runCLI(t, append([]string{"sim", "merge", "--out", filepath.Join(dir, "x.npz")}, tc.files...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("merge %v: %v, want %q", tc.files, err, tc.want)
		}
	}
	if _, _, err := runCLI(t, "sim", "dataset", "--config", cfg, "--out", merged, "--shard", "3/3"); !errors.Is(err, errUsage) {
		t.Errorf("--shard 3/3: %v", err)
	}
}

func TestSimHeatmap(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "small.yaml")
	os.WriteFile(cfg, []byte("users:\n  grid: {origin: [10, -6], rows: 5, cols: 8, spacing: 3}\n"), 0o644)
	out := filepath.Join(dir, "map.png")
	if _, stderr, err := runCLI(t, "sim", "heatmap", "--config", cfg, "--out", out); err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	if st, err := os.Stat(out); err != nil || st.Size() < 1000 {
		t.Errorf("heatmap %s: %v", out, err)
	}
}
