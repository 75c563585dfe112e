package rt

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/cmplx"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
	"github.com/cctrack/cctrack/sim/scene"
)

// The Wireless InSite Chicago study (../shared/data/insite-chicago-3p5ghz, see its README):
// 3.5 GHz, V-pol isotropic antennas, up to 3 reflections, buildings as a 0.3 m concrete slab
// (eps_r 5.31, sigma 0.08987 S/m), ground wet earth (eps_r 18.1758, sigma 0.7645 S/m).
const chicagoDir = "insite-chicago-3p5ghz"

// chicagoTx are the three base stations BS1..BS3; InSite's files for BS k are *.t001_0k.*.
var chicagoTx = []geom.Vec3{{X: -25.306, Y: -24.0135, Z: 6}, {X: 42.3972, Y: -18.3695, Z: 6}, {X: 38.0484, Y: 60.3881, Z: 6}}

func chicagoScene(t testing.TB) *scene.Scene {
	t.Helper()
	dir := sharedData(t, chicagoDir)
	conc := scene.Surface{Name: "insite_concrete", Surface: material.Surface{Material: material.Constant("insite_concrete", 5.31, 0.08987), Thickness: 0.3}}
	sc, err := scene.LoadPLY(filepath.Join(dir, "buildings.ply"), conc)
	if err != nil {
		t.Fatal(err)
	}
	// The user grid reaches about 100 m from the origin; the ground must extend past it.
	sc.AddGround(scene.Surface{Name: "insite_wet_earth", Surface: material.Surface{Material: material.Constant("insite_wet_earth", 18.1758, 0.7645)}}, 60)
	return sc
}

func chicagoStudy(t testing.TB) string {
	t.Helper()
	dir := sharedData(t, chicagoDir)
	m, err := filepath.Glob(filepath.Join(dir, "insite_*", "study_area"))
	if err != nil || len(m) != 1 {
		t.Fatalf("InSite study folder in %s: %v %v", dir, m, err)
	}
	return m[0]
}

// p2mLines returns the non-comment lines of a .p2m file, split into fields.
func p2mLines(t testing.TB, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, strings.Fields(l))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func atof(t testing.TB, s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// chicagoGrid reads the 4480 user-grid positions from the BS1 path-loss file.
func chicagoGrid(t testing.TB) []geom.Vec3 {
	var rx []geom.Vec3
	for _, f := range p2mLines(t, filepath.Join(chicagoStudy(t), "insite.pl.t001_01.r004.p2m")) {
		rx = append(rx, geom.V(atof(t, f[1]), atof(t, f[2]), atof(t, f[3])))
	}
	if len(rx) != 4480 {
		t.Fatalf("%d grid points, want 4480", len(rx))
	}
	return rx
}

// insitePath is one path of InSite's output.
type insitePath struct {
	desc     string // "Tx-R-Rx"
	powerDB  float64
	toa      float64
	vertices []geom.Vec3 // interaction points, tx and rx excluded
}

// insitePaths reads InSite's paths from base station bs (1-based) to each grid point.
func insitePaths(t testing.TB, bs int) [][]insitePath {
	lines := p2mLines(t, filepath.Join(chicagoStudy(t), fmt.Sprintf("insite.paths.t001_%02d.r004.p2m", bs)))
	n := int(atof(t, lines[0][0]))
	out := make([][]insitePath, n)
	i := 1
	for range n {
		id, np := int(atof(t, lines[i][0]))-1, int(atof(t, lines[i][1]))
		i++
		if np == 0 {
			continue
		}
		i++ // receiver summary
		for range np {
			h := lines[i]
			ni := int(atof(t, h[1]))
			p := insitePath{desc: lines[i+1][0], powerDB: atof(t, h[2]), toa: atof(t, h[4])}
			for k := range ni {
				v := lines[i+3+k]
				p.vertices = append(p.vertices, geom.V(atof(t, v[0]), atof(t, v[1]), atof(t, v[2])))
			}
			out[id] = append(out[id], p)
			i += 2 + ni + 2
		}
	}
	return out
}

// TestChicagoInSite compares against Wireless InSite on the Chicago study, with the acceptance
// criteria of the project: LoS visibility agreeing on >= 98% of the 4480 grid points, LoS power
// within 0.05 dB, and >= 95% of InSite's single-reflection paths found with power within 1 dB
// and delay within 1e-3 relative (InSite's times of arrival run about 3.2e-4 long, see the data
// README). Second and third order recall is logged, not asserted: InSite keeps at most 25 paths
// per receiver, so its higher orders are a truncated reference.
func TestChicagoInSite(t *testing.T) {
	sc := chicagoScene(t)
	grid := chicagoGrid(t)
	if testing.Short() {
		t.Skip("traces 1M rays per base station; skipped in -short mode")
	}
	los := mustNew(t, sc, Options{MaxDepth: 0})
	tr := mustNew(t, sc, Options{MaxDepth: 3})
	for bs, tx := range chicagoTx {
		t.Run(fmt.Sprintf("BS%d", bs+1), func(t *testing.T) {
			chicagoCompare(t, los, tr, tx, grid, insitePaths(t, bs+1))
		})
	}
}

func chicagoCompare(t *testing.T, los, tr *Tracer, tx geom.Vec3, grid []geom.Vec3, ref [][]insitePath) {
	losOut, err := los.Trace(context.Background(), tx, grid, nil)
	if err != nil {
		t.Fatal(err)
	}
	agree, worstLoS := 0, 0.0
	var withPaths []int
	for i := range grid {
		var insiteLoS *insitePath
		for k := range ref[i] {
			if ref[i][k].desc == "Tx-Rx" {
				insiteLoS = &ref[i][k]
			}
		}
		ours := len(losOut[i]) > 0
		if ours == (insiteLoS != nil) {
			agree++
		}
		if ours && insiteLoS != nil {
			worstLoS = math.Max(worstLoS, math.Abs(20*math.Log10(cmplx.Abs(losOut[i][0].A))-insiteLoS.powerDB))
		}
		if len(ref[i]) > 0 {
			withPaths = append(withPaths, i)
		}
	}
	t.Logf("LoS visibility agrees on %d of %d receivers; worst LoS power error %.4f dB", agree, len(grid), worstLoS)
	if float64(agree) < 0.98*float64(len(grid)) {
		t.Errorf("LoS visibility agrees on %d of %d receivers, want >= 98%%", agree, len(grid))
	}
	if worstLoS > 0.05 {
		t.Errorf("worst LoS power error %.4f dB, want <= 0.05", worstLoS)
	}

	rx := make([]geom.Vec3, len(withPaths))
	for k, i := range withPaths {
		rx[k] = grid[i]
	}
	out, err := tr.Trace(context.Background(), tx, rx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var found, total [4]int
	for k, i := range withPaths {
		for _, p := range ref[i] {
			order := len(p.vertices)
			if order == 0 {
				continue
			}
			total[order]++
			if match(out[k], p) {
				found[order]++
			} else {
				t.Logf("rx %d %v: no match for InSite %s at %v, %.2f dB, toa %.6g", i+1, grid[i], p.desc, p.vertices, p.powerDB, p.toa)
			}
		}
	}
	for o := 1; o <= 3; o++ {
		t.Logf("order %d: found %d of %d InSite paths", o, found[o], total[o])
	}
	if float64(found[1]) < 0.95*float64(total[1]) {
		t.Errorf("found %d of %d single-reflection paths, want >= 95%%", found[1], total[1])
	}
}

// match reports whether paths holds InSite's path p: same interactions, delay within 1e-3
// relative and power within 1 dB.
func match(paths []Path, p insitePath) bool {
	for _, q := range paths {
		if len(q.Vertices) != len(p.vertices) || q.Kind != Reflection {
			continue
		}
		if math.Abs(q.Delay/p.toa-1) <= 1e-3 && math.Abs(20*math.Log10(cmplx.Abs(q.A))-p.powerDB) <= 1 {
			return true
		}
	}
	return false
}

// describe formats a path for failure messages.
func describe(p Path) string {
	return fmt.Sprintf("%s faces %v at %v, %.2f dB, delay %.6g", p.Interactions, p.Faces, p.Vertices, 20*math.Log10(cmplx.Abs(p.A)), p.Delay)
}

// TestChicagoDenseReference measures what the default candidate search misses: against a search
// with 4x the rays and twice the reception-sphere safety (BS2, the transmitter with the most
// paths, 4480 receivers, 3 reflections) it may miss at most 0.1% of the paths, and it must find
// no path the reference lacks (both validate candidates with the same exact solver).
func TestChicagoDenseReference(t *testing.T) {
	sc := chicagoScene(t)
	grid := chicagoGrid(t)
	if testing.Short() {
		t.Skip("traces 5M rays; skipped in -short mode")
	}
	ref := mustNew(t, sc, Options{MaxDepth: 3, Rays: 4 * DefaultRays})
	ref.safety = 2 * rxSafety
	def := mustNew(t, sc, Options{MaxDepth: 3})
	want, err := ref.Trace(context.Background(), chicagoTx[1], grid, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := def.Trace(context.Background(), chicagoTx[1], grid, nil)
	if err != nil {
		t.Fatal(err)
	}
	total, missed := 0, 0
	for i := range grid {
		have := map[string]bool{}
		for _, p := range got[i] {
			have[pathKey(p)] = true
		}
		for _, p := range want[i] {
			total++
			if !have[pathKey(p)] {
				missed++
				t.Logf("rx %d %v: missed %s", i, grid[i], describe(p))
			}
			delete(have, pathKey(p))
		}
		for k := range have {
			t.Errorf("rx %d: path %s not in the reference", i, k)
		}
	}
	t.Logf("missed %d of %d paths", missed, total)
	if float64(missed) > 1e-3*float64(total) {
		t.Errorf("missed %d of %d paths, want <= 0.1%%", missed, total)
	}
}

// TestChicagoExhaustive: on the real scene (120 facets), the SBR candidate search against every
// facet sequence up to 3 reflections, for 20 receivers per base station spread over the
// receivers InSite reaches. The dense-reference test bounds SBR's misses at about 0.05% of paths,
// so the ~300 paths here are expected to match; up to 1% is tolerated so that one sliver path in
// the sample does not fail the test, and every miss is logged.
func TestChicagoExhaustive(t *testing.T) {
	sc := chicagoScene(t)
	grid := chicagoGrid(t)
	if testing.Short() {
		t.Skip("about 2M sequences per receiver; skipped in -short mode")
	}
	sbr := mustNew(t, sc, Options{MaxDepth: 3})
	exh := mustNew(t, sc, Options{MaxDepth: 3})
	exh.exhaustive = true
	total, missed := 0, 0
	for bs, tx := range chicagoTx {
		ref := insitePaths(t, bs+1)
		var reached []geom.Vec3
		for i := range grid {
			if len(ref[i]) > 0 {
				reached = append(reached, grid[i])
			}
		}
		var rx []geom.Vec3
		for k := range 20 {
			rx = append(rx, reached[k*len(reached)/20])
		}
		got, err := sbr.Trace(context.Background(), tx, rx, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, err := exh.Trace(context.Background(), tx, rx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range rx {
			have := map[string]bool{}
			for _, p := range got[i] {
				have[pathKey(p)] = true
			}
			for _, p := range want[i] {
				total++
				if !have[pathKey(p)] {
					missed++
					t.Logf("BS%d rx %v: SBR missed %s", bs+1, rx[i], describe(p))
				}
				delete(have, pathKey(p))
			}
			for k := range have {
				t.Errorf("BS%d rx %v: SBR path %s not found exhaustively", bs+1, rx[i], k)
			}
		}
	}
	t.Logf("SBR found %d of %d paths", total-missed, total)
	if float64(missed) > 0.01*float64(total) {
		t.Errorf("SBR missed %d of %d paths", missed, total)
	}
}
