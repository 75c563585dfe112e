package insite

import (
	"context"
	"fmt"
	"math"
	"math/cmplx"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/cctrack/cctrack/internal/shareddata"
	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
	"github.com/cctrack/cctrack/sim/rt"
	"github.com/cctrack/cctrack/sim/scene"
)

// chicago loads buildings.ply as concrete (0.3 m slab, InSite's layer thickness) with the wet-earth
// ground plane, as InSite's setup describes.
func chicago(t testing.TB, dir string, concrete material.ITU) *scene.Scene {
	wet, _ := material.Lookup("wet_ground")
	sc, err := scene.LoadPLY(filepath.Join(dir, "buildings.ply"),
		scene.Surface{Name: "concrete", Surface: material.Surface{Material: concrete, Thickness: 0.3}})
	if err != nil {
		t.Fatal(err)
	}
	sc.AddGround(scene.Surface{Name: "ground", Surface: material.Surface{Material: wet}}, 200)
	return sc
}

type stats struct{ xs []float64 }

func (s *stats) add(x float64) { s.xs = append(s.xs, x) }
func (s *stats) median() float64 {
	if len(s.xs) == 0 {
		return math.NaN()
	}
	c := append([]float64(nil), s.xs...)
	sort.Float64s(c)
	return c[len(c)/2]
}
func (s *stats) max() float64 {
	m := math.NaN()
	for _, x := range s.xs {
		if math.IsNaN(m) || x > m {
			m = x
		}
	}
	return m
}

// orderResult compares InSite's paths of one reflection order with ours.
type orderResult struct {
	insite, found         int
	dPowerDB, dDelayRel   stats
	worstRx               int
	worstPowerDB          float64
	powerWithin1dB, delay int
}

// matchVertexTol is how close (m) our reflection points must be to InSite's to call two paths the
// same: InSite's vertices are quoted to 0.1 mm, but its geometry went through its own X3D export, so
// a few centimetres of difference in wall positions are possible; 0.5 m is well below the distance
// between distinct reflection points of one receiver.
const matchVertexTol = 0.5

// TestAgainstInSite traces the InSite Chicago study (3 BSs x 4480 receivers, up to 3 reflections)
// and checks the acceptance criteria. It runs with two concretes:
//   - InSite's own "ITU Concrete 3.5 GHz" (eps_r 5.31, sigma 0.08987 S/m, from the study's material
//     file): the same physics as the reference, so every criterion holds for every path;
//   - ITU-R P.2040-3 concrete (eps_r 5.24, sigma 0.123 S/m at 3.5 GHz), what `--material concrete`
//     means. Road-slab reflections of vertically polarised waves hit near concrete's Brewster angle
//     (about 23.5 degrees above the horizon), where |r_TM| is near its minimum and a 27 % difference in
//     conductivity moves it by up to about 3 dB. So with P.2040 concrete we require the 1 dB power
//     agreement for 99 % of matched single reflections instead of all of them; all other
//     criteria are unchanged.
func TestAgainstInSite(t *testing.T) {
	if testing.Short() {
		t.Skip("traces 3 x 4480 receivers")
	}
	dir := shareddata.Path(t, "insite-chicago-3p5ghz")
	all, err := ReadPathsCSV(filepath.Join(dir, "paths.csv"))
	if err != nil {
		t.Fatal(err)
	}
	p2040, _ := material.Lookup("concrete")
	for _, tc := range []struct {
		name           string
		concrete       material.ITU
		within1dBShare float64
	}{
		{"insite-concrete", material.Constant("insite-concrete", 5.31, 0.08987), 1},
		{"p2040-concrete", p2040, 0.99},
	} {
		t.Run(tc.name, func(t *testing.T) { compareStudy(t, dir, all, tc.concrete, tc.within1dBShare) })
	}
}

func compareStudy(t *testing.T, dir string, all []Path, concrete material.ITU, within1dBShare float64) {
	sc := chicago(t, dir, concrete)
	tr, err := rt.New(sc, rt.Options{Frequency: 3.5e9, MaxDepth: 3})
	if err != nil {
		t.Fatal(err)
	}
	studies, _ := filepath.Glob(filepath.Join(dir, "insite_*", "study_area"))
	if len(studies) != 1 {
		t.Fatalf("want one insite_*/study_area in %s, got %v", dir, studies)
	}
	var report strings.Builder
	tw := tabwriter.NewWriter(&report, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "BS\tcheck\tInSite\tcctrack\tagree\tmedian |dP| dB\tworst |dP| dB\tmedian |dtau|/tau\tworst |dtau|/tau\t")
	for bs := 1; bs <= 3; bs++ {
		rxs, err := ReadPathGain(filepath.Join(studies[0], fmt.Sprintf("insite.pg.t001_%02d.r004.p2m", bs)))
		if err != nil {
			t.Fatal(err)
		}
		byRx := map[int][]Path{}
		var tx geom.Vec3
		for _, p := range all {
			if p.BS == bs {
				byRx[p.RxID] = append(byRx[p.RxID], p)
				tx = p.Tx
			}
		}
		pos := make([]geom.Vec3, len(rxs))
		for i, r := range rxs {
			pos[i] = r.Pos
		}
		ours, err := tr.Trace(context.Background(), tx, pos, nil)
		if err != nil {
			t.Fatal(err)
		}

		// Line of sight: visibility agreement over every receiver; power where both see it.
		var agree, bothLoS, insiteLoS, oursLoS int
		var losDP stats
		var orders [4]orderResult
		for i, r := range rxs {
			var theirs *Path
			for k := range byRx[r.ID] {
				if byRx[r.ID][k].Desc == "Tx-Rx" {
					theirs = &byRx[r.ID][k]
				}
			}
			var mine *rt.Path
			for k := range ours[i] {
				if ours[i][k].Kind == rt.LoS {
					mine = &ours[i][k]
				}
			}
			if (theirs != nil) == (mine != nil) {
				agree++
			}
			if theirs != nil {
				insiteLoS++
			}
			if mine != nil {
				oursLoS++
			}
			if theirs != nil && mine != nil {
				bothLoS++
				losDP.add(math.Abs(20*math.Log10(cmplx.Abs(mine.A)) - theirs.PowerDBm))
			}
			for _, p := range byRx[r.ID] {
				n := p.Reflections()
				if n < 1 || n > 3 {
					continue
				}
				o := &orders[n]
				o.insite++
				m := matchPath(p, ours[i])
				if m == nil {
					continue
				}
				o.found++
				dp := math.Abs(20*math.Log10(cmplx.Abs(m.A)) - p.PowerDBm)
				dt := math.Abs(m.Delay-p.ToA) / p.ToA
				o.dPowerDB.add(dp)
				o.dDelayRel.add(dt)
				if dp <= 1 {
					o.powerWithin1dB++
				}
				if dt <= 1e-3 {
					o.delay++
				}
				if dp > o.worstPowerDB {
					o.worstPowerDB, o.worstRx = dp, r.ID
				}
			}
		}
		fmt.Fprintf(tw, "%d\tLoS visible\t%d\t%d\t%.2f%%\t%.4f\t%.4f\t\t\t\n", bs, insiteLoS, oursLoS,
			100*float64(agree)/float64(len(rxs)), losDP.median(), losDP.max())
		for n := 1; n <= 3; n++ {
			o := orders[n]
			fmt.Fprintf(tw, "%d\t%d-reflection found\t%d\t%d\t%.2f%%\t%.3f\t%.3f\t%.2e\t%.2e\t\n", bs, n, o.insite, o.found,
				100*float64(o.found)/math.Max(1, float64(o.insite)), o.dPowerDB.median(), o.dPowerDB.max(),
				o.dDelayRel.median(), o.dDelayRel.max())
		}

		// The acceptance criteria of the tracer (issue: validation against Wireless InSite).
		if frac := float64(agree) / float64(len(rxs)); frac < 0.98 {
			t.Errorf("BS%d: LoS visibility agrees on %.2f%% of receivers, want >= 98%%", bs, 100*frac)
		}
		// 0.05 dB: InSite's LoS powers are free space within a few thousandths of a dB.
		if m := losDP.max(); m > 0.05 {
			t.Errorf("BS%d: worst LoS power difference %.4f dB, want <= 0.05 dB", bs, m)
		}
		o := orders[1]
		if frac := float64(o.found) / float64(o.insite); frac < 0.95 {
			t.Errorf("BS%d: found %d of %d InSite single-reflection paths (%.1f%%), want >= 95%%", bs, o.found, o.insite, 100*frac)
		}
		if float64(o.powerWithin1dB) < within1dBShare*float64(o.found) {
			t.Errorf("BS%d: %d of %d matched single reflections differ by more than 1 dB (worst %.2f dB at rx %d)",
				bs, o.found-o.powerWithin1dB, o.found, o.worstPowerDB, o.worstRx)
		}
		if o.delay < o.found {
			t.Errorf("BS%d: %d of %d matched single reflections have delay off by more than 1e-3", bs, o.found-o.delay, o.found)
		}
	}
	tw.Flush()
	t.Logf("cctrack (%s) vs Wireless InSite, Chicago 3.5 GHz, up to 3 reflections:\n%s", concrete.Name, report.String())
}

// matchPath finds our path with the same reflection count whose interaction points all lie within
// matchVertexTol of InSite's.
func matchPath(p Path, ours []rt.Path) *rt.Path {
	for k := range ours {
		o := &ours[k]
		if o.Kind != rt.Reflection || len(o.Vertices) != len(p.Points) {
			continue
		}
		ok := true
		for j, v := range o.Vertices {
			if v.Dist(p.Points[j]) > matchVertexTol {
				ok = false
				break
			}
		}
		if ok {
			return o
		}
	}
	return nil
}

func TestReadPathsCSV(t *testing.T) {
	dir := shareddata.Path(t, "insite-chicago-3p5ghz")
	all, err := ReadPathsCSV(filepath.Join(dir, "paths.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4648 {
		t.Errorf("%d paths, want 4648 (the CSV's rows)", len(all))
	}
	first := all[0]
	if first.BS != 1 || first.RxID != 28 || first.Desc != "Tx-Rx" || first.Reflections() != 0 || len(first.Points) != 0 {
		t.Errorf("first row %+v", first)
	}
	if all[1].Reflections() != 1 || all[1].Points[0] != geom.V(-30.3386, -58.0927, 0) {
		t.Errorf("second row %+v", all[1])
	}
}

func TestReadErrorsNameTheLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "paths.csv")
	head := strings.Join(csvColumns, ",") + "\n"
	row := "1,28,-32,-69,2,-25,-24,6,1,1,Tx-R-Rx,-93,23,1.5e-07,99,81,99,-98,-30:-58\n"
	if err := os.WriteFile(p, []byte(head+row), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadPathsCSV(p)
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "x:y:z") {
		t.Errorf("got %v", err)
	}
}
