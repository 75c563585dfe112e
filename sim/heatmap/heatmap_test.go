package heatmap

import (
	"flag"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
	"github.com/cctrack/cctrack/sim/scene"
)

var outDir = flag.String("out", "", "directory to keep the rendered test figures in (for looking at them)")

// box returns the footprint of an axis-aligned rectangle; split gives it as two triangles, as a
// roof from a mesh would come.
func box(x0, y0, x1, y1, z float64, split bool) [][]geom.Vec3 {
	a, b, c, d := geom.V(x0, y0, z), geom.V(x1, y0, z), geom.V(x1, y1, z), geom.V(x0, y1, z)
	if split {
		return [][]geom.Vec3{{a, b, c}, {a, c, d}}
	}
	return [][]geom.Vec3{{a, b, c, d}}
}

func inside(fp [][]geom.Vec3, p geom.Vec3) bool {
	for _, poly := range fp {
		lo, hi := poly[0], poly[0]
		for _, v := range poly {
			lo, hi = geom.Min(lo, v), geom.Max(hi, v)
		}
		if p.X >= lo.X && p.X <= hi.X && p.Y >= lo.Y && p.Y <= hi.Y {
			return true
		}
	}
	return false
}

// synthetic is a 60 x 90 grid at 2 m with free-space-like gains from the BS, no path inside the
// buildings and a deep shadow behind one of them.
func synthetic() Map {
	m := Map{
		Title:  "Path gain (synthetic)",
		Origin: geom.V(-80, -50, 1.5), Rows: 60, Cols: 90, Spacing: 2,
		BS: geom.V(20, 30, 25),
	}
	m.Footprints = append(m.Footprints, box(-40, -20, -10, 10, 20, true)...)
	m.Footprints = append(m.Footprints, box(30, -30, 60, -5, 30, false)...)
	m.Footprints = append(m.Footprints, box(-70, 30, -50, 55, 15, true)...)
	m.GainDB = make([]float64, m.Rows*m.Cols)
	for r := range m.Rows {
		for c := range m.Cols {
			p := m.Origin.Add(geom.V(float64(c)*m.Spacing, float64(r)*m.Spacing, 0))
			g := -20*math.Log10(4*math.Pi*p.Dist(m.BS)/0.0857) - 0.05*math.Abs(p.X-p.Y)
			if inside(m.Footprints, p) {
				g = math.NaN()
			} else if p.X < -40 && p.Y > -20 && p.Y < 10 {
				g -= 25 // shadow of the first building
			}
			m.GainDB[r*m.Cols+c] = g
		}
	}
	for i := range 40 {
		s := float64(i) / 39
		m.Trajectory = append(m.Trajectory, geom.V(-60+110*s, -40+60*s*s, 1.5))
	}
	return m
}

func TestRenderPNG(t *testing.T) {
	dir := t.TempDir()
	if *outDir != "" {
		dir = *outDir
	}
	m := synthetic()
	path := filepath.Join(dir, "heatmap.png")
	if err := m.Render(path); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	fig, err := m.layout()
	if err != nil {
		t.Fatal(err)
	}
	dots := func(l vg.Length) int { return int(math.Ceil(l.Dots(vgimg.DefaultDPI))) }
	if got, want := img.Bounds().Size(), (image.Point{X: dots(fig.width), Y: dots(fig.height)}); got.X < want.X-1 || got.X > want.X+1 || got.Y < want.Y-1 || got.Y > want.Y+1 {
		t.Errorf("image is %v pixels, want %v", got, want)
	}

	// The figure must contain many colours (a colour scale, not a flat fill), the building grey,
	// and both ends of viridis (dark purple, yellow) since the data spans the whole scale.
	colours := map[color.RGBA]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			colours[color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)]++
		}
	}
	if len(colours) < 200 {
		t.Errorf("only %d distinct colours", len(colours))
	}
	for _, c := range []struct {
		name string
		c    color.RGBA
	}{{"building fill", buildingFill}, {"no-path grey", noPathColor}} {
		if colours[c.c] < 100 {
			t.Errorf("%s %v covers %d pixels, want a visible area", c.name, c.c, colours[c.c])
		}
	}
	near := func(want color.RGBA) int {
		n := 0
		for c, k := range colours {
			if absDiff(c.R, want.R)+absDiff(c.G, want.G)+absDiff(c.B, want.B) < 30 {
				n += k
			}
		}
		return n
	}
	for _, want := range []color.RGBA{{0x44, 0x01, 0x54, 0xff}, {0xfd, 0xe7, 0x25, 0xff}} {
		if near(want) < 20 {
			t.Errorf("viridis end colour %v barely present (%d pixels)", want, near(want))
		}
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestRenderSVG(t *testing.T) {
	path := filepath.Join(t.TempDir(), "heatmap.svg")
	if err := synthetic().Render(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "path gain (dB)", "x (m)", "base station"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func TestEqualAspect(t *testing.T) {
	// A metre must span the same length on both axes. The fit iterates on tick-label widths,
	// which settle within a few rounds; 0.5% is far below what a reader could see.
	for _, tc := range []struct {
		name       string
		rows, cols int
	}{{"wide", 20, 120}, {"tall", 150, 30}, {"square", 50, 50}, {"one row", 1, 40}} {
		m := Map{Origin: geom.V(0, 0, 0), Rows: tc.rows, Cols: tc.cols, Spacing: 1, GainDB: make([]float64, tc.rows*tc.cols)}
		for i := range m.GainDB {
			m.GainDB[i] = -float64(i % 17)
		}
		fig, err := m.layout()
		if err != nil {
			t.Fatal(err)
		}
		sx, sy := fig.scales()
		if math.Abs(sx/sy-1) > 5e-3 {
			t.Errorf("%s: %g points/m along x, %g along y", tc.name, sx, sy)
		}
		// And the grid is still fully visible.
		p := fig.main
		if p.X.Min > -0.5 || p.X.Max < float64(tc.cols)-0.5 || p.Y.Min > -0.5 || p.Y.Max < float64(tc.rows)-0.5 {
			t.Errorf("%s: ranges x [%g, %g] y [%g, %g] cut the grid", tc.name, p.X.Min, p.X.Max, p.Y.Min, p.Y.Max)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	dir := t.TempDir()
	good := synthetic()
	nan := synthetic()
	for i := range nan.GainDB {
		nan.GainDB[i] = math.NaN()
	}
	for _, tc := range []struct {
		name string
		m    Map
		file string
		want string
	}{
		{"extension", good, "x.jpg", "unsupported extension"},
		{"no rows", Map{Cols: 2, Spacing: 1}, "x.png", "grid 0x2"},
		{"spacing", Map{Rows: 1, Cols: 1, Spacing: 0, GainDB: []float64{1}}, "x.png", "spacing"},
		{"gain count", Map{Rows: 2, Cols: 2, Spacing: 1, GainDB: []float64{1}}, "x.png", "1 gains for a 2x2 grid"},
		{"all NaN", nan, "x.png", "no finite path gain"},
		{"unwritable", good, filepath.Join(dir, "missing", "x.png"), "no such file"},
	} {
		path := tc.file
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		if err := tc.m.Render(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	// A flat map still renders (its colour bar gets a ±1 dB range).
	flat := Map{Rows: 2, Cols: 3, Spacing: 1, GainDB: []float64{-90, -90, -90, -90, -90, math.NaN()}}
	if err := flat.Render(filepath.Join(dir, "flat.png")); err != nil {
		t.Errorf("flat map: %v", err)
	}
}

func TestTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		labels []string
	}{
		// Step 20 over 175 m; -80 is within 5% of the lower end, so unlabelled.
		{-85, 90, []string{"-60", "-40", "-20", "0", "20", "40", "60", "80"}},
		{-0.3, 0.9, []string{"-0.2", "-0.1", "0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8"}},
		{-118, -62, []string{"-115", "-110", "-105", "-100", "-95", "-90", "-85", "-80", "-75", "-70", "-65"}},
	} {
		var labels []string
		for _, tk := range ticks(tc.lo, tc.hi) {
			if tk.Value < tc.lo || tk.Value > tc.hi {
				t.Errorf("[%g, %g]: tick %g out of range", tc.lo, tc.hi, tk.Value)
			}
			if tk.Label != "" {
				labels = append(labels, tk.Label)
			}
		}
		if strings.Join(labels, " ") != strings.Join(tc.labels, " ") {
			t.Errorf("[%g, %g]: labels %q, want %q", tc.lo, tc.hi, labels, tc.labels)
		}
	}
}

func TestOuterEdges(t *testing.T) {
	// A square split into two triangles has four outer edges; the shared diagonal is hidden.
	// A separate square adds its own four.
	polys := append(box(0, 0, 1, 1, 0, true), box(5, 5, 6, 6, 0, false)...)
	if got := len(outerEdges(polys)); got != 8 {
		t.Errorf("%d outer edges, want 8", got)
	}
	// Duplicated vertices within a millimetre still match.
	a := box(0, 0, 1, 1, 0, true)
	a[1][0] = geom.V(0.0002, -0.0001, 0)
	if got := len(outerEdges(a)); got != 4 {
		t.Errorf("with a jittered shared vertex: %d outer edges, want 4", got)
	}
}

func TestFootprints(t *testing.T) {
	// One 10 x 20 x 15 m box building on a ground plane: its roof (two triangles) is the whole top
	// view; walls, floor and ground are not.
	var sc scene.Scene
	conc := sc.AddSurface(scene.Surface{Name: "concrete", Surface: material.Surface{}})
	v := []geom.Vec3{
		{X: 0, Y: 0, Z: 0}, {X: 10, Y: 0, Z: 0}, {X: 10, Y: 20, Z: 0}, {X: 0, Y: 20, Z: 0},
		{X: 0, Y: 0, Z: 15}, {X: 10, Y: 0, Z: 15}, {X: 10, Y: 20, Z: 15}, {X: 0, Y: 20, Z: 15},
	}
	tris := [][3]int32{
		{4, 5, 6}, {4, 6, 7}, // roof, up
		{0, 2, 1}, {0, 3, 2}, // floor, down
		{0, 1, 5}, {0, 5, 4}, {1, 2, 6}, {1, 6, 5}, {2, 3, 7}, {2, 7, 6}, {3, 0, 4}, {3, 4, 7}, // walls
	}
	sc.AddMesh(v, tris, conc)
	// A second, lower building whose roof is wound downwards (as some exported meshes are), and a
	// degenerate sliver.
	sc.AddMesh([]geom.Vec3{{X: 20, Y: 0, Z: 6}, {X: 30, Y: 0, Z: 6}, {X: 30, Y: 10, Z: 6}, {X: 25, Y: 5, Z: 6}}, [][3]int32{{0, 2, 1}, {0, 3, 2}}, conc)
	sc.AddGround(scene.Surface{Name: "ground"}, 5)

	fp := Footprints(&sc, 1)
	if len(fp) != 3 {
		t.Fatalf("%d footprint polygons, want 3 (2 roof triangles + the downward-wound one; the sliver is degenerate)", len(fp))
	}
	var area float64
	for _, p := range fp[:2] {
		area += math.Abs(p[1].Sub(p[0]).Cross(p[2].Sub(p[0])).Z) / 2
		for _, q := range p {
			if q.Z != 15 {
				t.Errorf("roof vertex %v not at 15 m", q)
			}
		}
	}
	if math.Abs(area-200) > 1e-9 {
		t.Errorf("roof area %g m², want 200", area)
	}
	if got := Footprints(&sc, 10); len(got) != 2 {
		t.Errorf("above 10 m: %d polygons, want the 2 of the tall roof", len(got))
	}
}
