package scene

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/cctrack/cctrack/sim/geom"
)

func TestCityDeterministic(t *testing.T) {
	p := DefaultCityParams()
	a, err := City(p, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, err := City(p, 7)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same parameters and seed gave different scenes")
	}
	if a.Name != "builtin:city:7" {
		t.Errorf("name %q, want builtin:city:7", a.Name)
	}
	c, err := City(p, 8)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.Vertices, c.Vertices) {
		t.Error("seeds 7 and 8 gave the same city")
	}
}

func TestCityCounts(t *testing.T) {
	noGround := DefaultCityParams()
	noGround.Ground.Name = ""
	odd := DefaultCityParams()
	odd.BlocksX, odd.BlocksY, odd.BuildingsPerBlock = 3, 1, 3
	one := DefaultCityParams()
	one.BlocksX, one.BlocksY, one.BuildingsPerBlock, one.Gap, one.Setback = 1, 1, 1, 0, 0
	for _, tc := range []struct {
		name           string
		p              CityParams
		tris, surfaces int
	}{
		{"default", DefaultCityParams(), 4 * 4 * 4 * 10, 3}, // ground adds 2 triangles below
		{"no ground", noGround, 4 * 4 * 4 * 10, 2},
		{"3x1 blocks of 3x3", odd, 3 * 9 * 10, 3},
		{"one building", one, 10, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := City(tc.p, 1)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.tris
			if tc.p.Ground.Name != "" {
				want += 2
			}
			if len(sc.Triangles) != want || len(sc.Surfaces) != tc.surfaces {
				t.Errorf("%d triangles and %d surfaces, want %d and %d", len(sc.Triangles), len(sc.Surfaces), want, tc.surfaces)
			}
			if err := sc.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCityGeometry checks the layout from the triangles alone: buildings (found from their roofs) sit
// inside their blocks, k x k per block; nothing above the ground touches a street; heights are in
// range; the ground covers the footprint. Coordinates are sums of a few metre-sized terms, so 1e-9 m
// absorbs their rounding.
func TestCityGeometry(t *testing.T) {
	const eps = 1e-9
	p := DefaultCityParams()
	p.BlocksX, p.BlocksY, p.BuildingsPerBlock = 3, 4, 3
	sc, err := City(p, 42)
	if err != nil {
		t.Fatal(err)
	}
	xs, ys := p.StreetCentres()
	if math.Abs(xs[0]+xs[len(xs)-1]) > eps || math.Abs(ys[0]+ys[len(ys)-1]) > eps {
		t.Fatalf("streets not centred on the origin: %v %v", xs, ys)
	}
	roofSurf := sc.AddSurface(p.Roof)
	perBlock := map[[2]int]int{}
	seen := map[[2]geom.Vec3]bool{}
	for i, tri := range sc.Triangles {
		a, b, c := sc.Vertices[tri[0]], sc.Vertices[tri[1]], sc.Vertices[tri[2]]
		lo, hi := geom.Min(a, geom.Min(b, c)), geom.Max(a, geom.Max(b, c))
		if hi.Z <= 0.01 {
			continue // ground
		}
		for _, v := range []geom.Vec3{a, b, c} {
			if v.Z != 0 && (v.Z < p.MinHeight || v.Z > p.MaxHeight) {
				t.Errorf("triangle %d: height %g outside [%g, %g]", i, v.Z, p.MinHeight, p.MaxHeight)
			}
		}
		// A triangle whose bounding box misses a street's open strip misses the street.
		for _, x := range xs {
			if lo.X < x+p.StreetWidth/2-eps && hi.X > x-p.StreetWidth/2+eps {
				t.Errorf("triangle %d (x %g..%g) intersects the street at x=%g", i, lo.X, hi.X, x)
			}
		}
		for _, y := range ys {
			if lo.Y < y+p.StreetWidth/2-eps && hi.Y > y-p.StreetWidth/2+eps {
				t.Errorf("triangle %d (y %g..%g) intersects the street at y=%g", i, lo.Y, hi.Y, y)
			}
		}
		if sc.FaceSurface[i] != roofSurf {
			continue
		}
		// Both roof triangles of a box span its footprint: count each footprint once.
		if seen[[2]geom.Vec3{lo, hi}] {
			continue
		}
		seen[[2]geom.Vec3{lo, hi}] = true
		bx, by := -1, -1
		for j := 0; j+1 < len(xs); j++ {
			if lo.X >= xs[j]+p.StreetWidth/2+p.Setback-eps && hi.X <= xs[j+1]-p.StreetWidth/2-p.Setback+eps {
				bx = j
			}
		}
		for j := 0; j+1 < len(ys); j++ {
			if lo.Y >= ys[j]+p.StreetWidth/2+p.Setback-eps && hi.Y <= ys[j+1]-p.StreetWidth/2-p.Setback+eps {
				by = j
			}
		}
		if bx < 0 || by < 0 {
			t.Errorf("building %v–%v is inside no block (within the setback)", lo, hi)
			continue
		}
		perBlock[[2]int{bx, by}]++
	}
	k := p.BuildingsPerBlock
	if len(perBlock) != p.BlocksX*p.BlocksY {
		t.Errorf("buildings in %d blocks, want %d", len(perBlock), p.BlocksX*p.BlocksY)
	}
	for blk, n := range perBlock {
		if n != k*k {
			t.Errorf("block %v holds %d buildings, want %d", blk, n, k*k)
		}
	}
	lo, hi := sc.Bounds()
	wx, wy := p.Size()
	if math.Abs(lo.X+wx/2) > eps || math.Abs(hi.X-wx/2) > eps || math.Abs(lo.Y+wy/2) > eps || math.Abs(hi.Y-wy/2) > eps {
		t.Errorf("bounds %v–%v, want the footprint ±(%g, %g)/2", lo, hi, wx, wy)
	}
}

// TestCityClosedOutward checks that every box is closed but for its floor and consistently wound:
// each directed edge above the ground has its reverse exactly once, and every building face's normal
// (v1-v0) x (v2-v0) points out of its box (a point 1 cm along it is outside every building, 1 cm
// against it inside one).
func TestCityClosedOutward(t *testing.T) {
	p := DefaultCityParams()
	sc, err := City(p, 3)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := p.Buildings(3)
	if err != nil {
		t.Fatal(err)
	}
	inside := func(q geom.Vec3) bool {
		for _, b := range bs {
			if q.X > b.Min.X && q.X < b.Max.X && q.Y > b.Min.Y && q.Y < b.Max.Y && q.Z > 0 && q.Z < b.Max.Z {
				return true
			}
		}
		return false
	}
	edges := map[[2]geom.Vec3]int{}
	ground := sc.AddSurface(p.Ground)
	for i, tri := range sc.Triangles {
		if sc.FaceSurface[i] == ground {
			continue
		}
		v := [3]geom.Vec3{sc.Vertices[tri[0]], sc.Vertices[tri[1]], sc.Vertices[tri[2]]}
		n := v[1].Sub(v[0]).Cross(v[2].Sub(v[0])).Unit()
		c := v[0].Add(v[1]).Add(v[2]).Scale(1.0 / 3)
		if inside(c.AddScaled(0.01, n)) || !inside(c.AddScaled(-0.01, n)) {
			t.Errorf("triangle %d: normal %v does not point out of its building", i, n)
		}
		for k := range 3 {
			a, b := v[k], v[(k+1)%3]
			if a.Z == 0 && b.Z == 0 {
				continue // the open floor
			}
			edges[[2]geom.Vec3{a, b}]++
		}
	}
	for e, n := range edges {
		if n != 1 || edges[[2]geom.Vec3{e[1], e[0]}] != 1 {
			t.Fatalf("edge %v→%v used %d times, reverse %d times; want 1 and 1", e[0], e[1], n, edges[[2]geom.Vec3{e[1], e[0]}])
		}
	}
	g := sc.Triangles[len(sc.Triangles)-1]
	if n := sc.Vertices[g[1]].Sub(sc.Vertices[g[0]]).Cross(sc.Vertices[g[2]].Sub(sc.Vertices[g[0]])); n.Z <= 0 {
		t.Errorf("ground normal %v, want +z", n)
	}
}

func TestCityInvalid(t *testing.T) {
	for _, tc := range []struct {
		field string
		mod   func(*CityParams)
	}{
		{"BlocksX", func(p *CityParams) { p.BlocksX = 0 }},
		{"BlocksY", func(p *CityParams) { p.BlocksY = -1 }},
		{"BlockSize", func(p *CityParams) { p.BlockSize = math.NaN() }},
		{"StreetWidth", func(p *CityParams) { p.StreetWidth = 0 }},
		{"BuildingsPerBlock", func(p *CityParams) { p.BuildingsPerBlock = 0 }},
		{"Setback", func(p *CityParams) { p.Setback = -1 }},
		{"Gap", func(p *CityParams) { p.Gap = math.Inf(1) }},
		{"BlockSize", func(p *CityParams) { p.Gap = 40 }},
		{"MinHeight", func(p *CityParams) { p.MinHeight = 0 }},
		{"MaxHeight", func(p *CityParams) { p.MaxHeight = 5 }},
		{"Wall.Name", func(p *CityParams) { p.Wall.Name = "" }},
		{"Roof.Name", func(p *CityParams) { p.Roof.Name = "" }},
	} {
		p := DefaultCityParams()
		tc.mod(&p)
		_, err := City(p, 1)
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error %v, want one naming the field", tc.field, err)
		}
	}
}

func BenchmarkCity(b *testing.B) {
	p := DefaultCityParams()
	p.BlocksX, p.BlocksY = 20, 20
	for b.Loop() {
		if _, err := City(p, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// Walls, roofs and ground of one material but different thickness stay distinct surfaces.
func TestCitySurfacesKeepTheirThickness(t *testing.T) {
	p := DefaultCityParams()
	conc := p.Wall.Surface
	p.Wall = Surface{Name: "concrete", Surface: conc}
	conc.Thickness = 0
	p.Roof = Surface{Name: "concrete", Surface: conc}
	p.Ground = Surface{Name: "concrete", Surface: conc}
	sc, err := City(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Surfaces) != 2 {
		t.Fatalf("%d surfaces, want the 0.3 m wall slab and the half-space roof/ground: %+v", len(sc.Surfaces), sc.Surfaces)
	}
	for i, tri := range sc.Triangles {
		a, b, c := sc.Vertices[tri[0]], sc.Vertices[tri[1]], sc.Vertices[tri[2]]
		n := b.Sub(a).Cross(c.Sub(a)).Unit()
		want := 0.0 // roofs and ground are horizontal
		if math.Abs(n.Z) < 0.5 {
			want = p.Wall.Thickness
		}
		if got := sc.Surfaces[sc.FaceSurface[i]].Thickness; got != want {
			t.Fatalf("triangle %d (normal %v): thickness %g, want %g", i, n, got, want)
		}
	}
}
