package rt

import (
	"context"
	"fmt"
	"math"
	"math/cmplx"
	"path/filepath"
	"testing"

	"github.com/cctrack/cctrack/internal/shareddata"
	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/insite"
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
	dir := shareddata.Path(t, chicagoDir)
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
	dir := shareddata.Path(t, chicagoDir)
	m, err := filepath.Glob(filepath.Join(dir, "insite_*", "study_area"))
	if err != nil || len(m) != 1 {
		t.Fatalf("InSite study folder in %s: %v %v", dir, m, err)
	}
	return m[0]
}

// chicagoReceivers reads InSite's user grid with the path gains from base station bs (1-based).
func chicagoReceivers(t testing.TB, bs int) []insite.Receiver {
	t.Helper()
	rx, err := insite.ReadPathGain(filepath.Join(chicagoStudy(t), fmt.Sprintf("insite.pg.t001_%02d.r004.p2m", bs)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rx) != 4480 {
		t.Fatalf("%d grid points, want 4480", len(rx))
	}
	return rx
}

// chicagoGrid is the 4480-point user grid.
func chicagoGrid(t testing.TB) []geom.Vec3 {
	var pos []geom.Vec3
	for _, r := range chicagoReceivers(t, 1) {
		pos = append(pos, r.Pos)
	}
	return pos
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
		total += len(want[i])
		miss, extra := pathDiff(got[i], want[i])
		missed += len(miss)
		for _, p := range miss {
			t.Logf("rx %d %v: missed %s", i, grid[i], describe(p))
		}
		for _, k := range extra {
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
// receivers InSite reaches (sim/insite compares the paths themselves with InSite's). The dense-reference test bounds SBR's misses at about 0.05% of paths,
// so the ~300 paths here are expected to match; up to 1% is tolerated so that one sliver path in
// the sample does not fail the test, and every miss is logged.
func TestChicagoExhaustive(t *testing.T) {
	sc := chicagoScene(t)
	if testing.Short() {
		t.Skip("about 2M sequences per receiver; skipped in -short mode")
	}
	sbr := mustNew(t, sc, Options{MaxDepth: 3})
	exh := mustNew(t, sc, Options{MaxDepth: 3})
	exh.exhaustive = true
	total, missed := 0, 0
	for bs, tx := range chicagoTx {
		var reached []geom.Vec3
		for _, r := range chicagoReceivers(t, bs+1) {
			if r.PathGainDB > -250 { // InSite writes -250 dB for "no path"
				reached = append(reached, r.Pos)
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
			total += len(want[i])
			miss, extra := pathDiff(got[i], want[i])
			missed += len(miss)
			for _, p := range miss {
				t.Logf("BS%d rx %v: SBR missed %s", bs+1, rx[i], describe(p))
			}
			for _, k := range extra {
				t.Errorf("BS%d rx %v: SBR path %s not found exhaustively", bs+1, rx[i], k)
			}
		}
	}
	t.Logf("SBR found %d of %d paths", total-missed, total)
	if float64(missed) > 0.01*float64(total) {
		t.Errorf("SBR missed %d of %d paths", missed, total)
	}
}
