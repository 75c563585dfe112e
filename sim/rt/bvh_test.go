package rt

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/scene"
)

// randomSoup is n random triangles (sizes 0.1–5 m) in a 100 m cube.
func randomSoup(t testing.TB, n int, seed uint64) *scene.Scene {
	rng := rand.New(rand.NewPCG(seed, 2))
	sc := &scene.Scene{Name: "soup"}
	s := sc.AddSurface(itu(t, "concrete", 0))
	pt := func(c geom.Vec3, r float64) geom.Vec3 {
		return c.Add(geom.V(rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()).Scale(r))
	}
	for range n {
		c := geom.V(100*rng.Float64(), 100*rng.Float64(), 100*rng.Float64())
		r := 0.1 + 5*rng.Float64()
		sc.AddMesh([]geom.Vec3{pt(c, r), pt(c, r), pt(c, r)}, [][3]int32{{0, 1, 2}}, s)
	}
	return sc
}

// bruteClosest is the reference: every triangle, plain Möller–Trumbore.
func bruteClosest(sc *scene.Scene, o, d geom.Vec3, tmin, tmax float64) (float64, int32) {
	best, hit := tmax, int32(-1)
	r := newRay(o, d)
	for i, tv := range sc.Triangles {
		v0 := sc.Vertices[tv[0]]
		tr := triangle{v0: v0, e1: sc.Vertices[tv[1]].Sub(v0), e2: sc.Vertices[tv[2]].Sub(v0)}
		if s, ok := r.intersect(&tr, tmin, best); ok {
			best, hit = s, int32(i)
		}
	}
	return best, hit
}

// TestBVHMatchesBruteForce compares closest hits and visibility with a linear scan over all
// triangles, for random rays through a random triangle soup. Both use the same intersection test,
// so distances must agree exactly and the triangle must be the same one.
func TestBVHMatchesBruteForce(t *testing.T) {
	sc := randomSoup(t, 3000, 1)
	tr := mustNew(t, sc, Options{})
	rng := rand.New(rand.NewPCG(7, 7))
	hits := 0
	for range 3000 {
		o := geom.V(120*rng.Float64()-10, 120*rng.Float64()-10, 120*rng.Float64()-10)
		d := geom.V(rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()).Unit()
		tmax := 200 * rng.Float64()
		wantD, wantTri := bruteClosest(sc, o, d, tr.eps(o), tmax)
		gotD, gotTri, ok := tr.Hit(o, d, tmax)
		if ok != (wantTri >= 0) || (ok && (gotTri != wantTri || gotD != wantD)) {
			t.Fatalf("ray %v %v: BVH (%v, %d, %v), brute force (%v, %d)", o, d, gotD, gotTri, ok, wantD, wantTri)
		}
		if ok {
			hits++
		}
		b := o.AddScaled(tmax, d)
		// Visible re-derives the direction from b - o; skip hits within a tolerance of b.
		if vis := tr.Visible(o, b); (wantTri < 0 && !vis) || (wantTri >= 0 && tmax-wantD > 1e-6 && vis) {
			t.Fatalf("Visible(%v, %v) = %v, brute force hit %d at %v of %v", o, b, vis, wantTri, wantD, tmax)
		}
	}
	if hits < 300 {
		t.Fatalf("only %d of 3000 rays hit: the test exercises too little", hits)
	}
}

// TestSharedEdgeWatertight shoots rays exactly through the diagonal of a two-triangle square:
// the edge tolerance must catch every one of them.
func TestSharedEdgeWatertight(t *testing.T) {
	sc := &scene.Scene{}
	addQuad(sc, geom.V(-1, -1, 0), geom.V(2, 0, 0), geom.V(0, 2, 0), sc.AddSurface(itu(t, "metal", 0)))
	tr := mustNew(t, sc, Options{})
	for i := range 101 {
		s := -1 + 2*float64(i)/100
		p := geom.V(s, s, 0) // on the diagonal
		o := geom.V(0.3, -0.7, 5)
		d := p.Sub(o).Unit()
		dist, _, ok := tr.Hit(o, d, 100)
		if !ok || math.Abs(dist-p.Dist(o)) > 1e-12 {
			t.Fatalf("ray through diagonal point %v: hit=%v dist=%v want %v", p, ok, dist, p.Dist(o))
		}
	}
}

func TestVisibleEndsOnSurfaces(t *testing.T) {
	sc := &scene.Scene{}
	addQuad(sc, geom.V(-1, -1, 0), geom.V(2, 0, 0), geom.V(0, 2, 0), sc.AddSurface(itu(t, "metal", 0)))
	tr := mustNew(t, sc, Options{})
	on := geom.V(0.2, 0.1, 0)
	for _, c := range []struct {
		a, b geom.Vec3
		want bool
	}{
		{geom.V(0, 0, 1), geom.V(0, 0, -1), false}, // through the plate
		{geom.V(0, 0, 1), on, true},                // ends on it
		{on, geom.V(0, 0, -1), true},               // starts on it (the back side)
		{geom.V(0, 0, 1), geom.V(3, 0, -1), true},  // passes beside it
		{geom.V(0, 0, 1), geom.V(0, 0, 1), true},   // zero length
	} {
		if got := tr.Visible(c.a, c.b); got != c.want {
			t.Errorf("Visible(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestDegenerateTriangles: zero-area triangles are left out of the BVH, and Hit still reports
// scene indices.
func TestDegenerateTriangles(t *testing.T) {
	sc := &scene.Scene{}
	s := sc.AddSurface(itu(t, "metal", 0))
	sc.AddMesh([]geom.Vec3{{X: 0}, {X: 1}, {X: 2}}, [][3]int32{{0, 1, 2}}, s) // collinear
	addQuad(sc, geom.V(-1, -1, 0), geom.V(2, 0, 0), geom.V(0, 2, 0), s)       // triangles 1 and 2
	tr := mustNew(t, sc, Options{})
	if len(tr.bvh.tris) != 2 {
		t.Fatalf("%d triangles in the BVH, want 2", len(tr.bvh.tris))
	}
	d, tri, ok := tr.Hit(geom.V(0.5, -0.5, 1), geom.V(0, 0, -1), 10)
	if !ok || tri != 1 || d != 1 {
		t.Errorf("Hit = (%v, %d, %v), want (1, 1, true)", d, tri, ok)
	}
}

func BenchmarkBVHHit(b *testing.B) {
	for _, c := range []struct {
		name string
		sc   *scene.Scene
	}{
		{"boxcity-6x6", boxCity(b, 6, 6, 30, 15, 1)},
		{"boxcity-30x30", boxCity(b, 30, 30, 30, 15, 1)},
		{"soup-100k", randomSoup(b, 100000, 1)},
	} {
		b.Run(c.name, func(b *testing.B) {
			tr := mustNew(b, c.sc, Options{})
			lo, hi := c.sc.Bounds()
			rng := rand.New(rand.NewPCG(3, 3))
			const n = 4096
			os, ds := make([]geom.Vec3, n), make([]geom.Vec3, n)
			for i := range n {
				os[i] = geom.V(lo.X+(hi.X-lo.X)*rng.Float64(), lo.Y+(hi.Y-lo.Y)*rng.Float64(), 1+10*rng.Float64())
				ds[i] = geom.V(rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()).Unit()
			}
			b.ResetTimer()
			for i := range b.N {
				tr.Hit(os[i%n], ds[i%n], math.Inf(1))
			}
		})
	}
}

// BenchmarkVisible is the any-hit query (occlusion of a segment between random points at 1–11 m
// height in a 30x30-block box city).
func BenchmarkVisible(b *testing.B) {
	sc := boxCity(b, 30, 30, 30, 15, 1)
	tr := mustNew(b, sc, Options{})
	lo, hi := sc.Bounds()
	rng := rand.New(rand.NewPCG(4, 4))
	const n = 4096
	as, bs := make([]geom.Vec3, n), make([]geom.Vec3, n)
	pt := func() geom.Vec3 {
		return geom.V(lo.X+(hi.X-lo.X)*rng.Float64(), lo.Y+(hi.Y-lo.Y)*rng.Float64(), 1+10*rng.Float64())
	}
	for i := range n {
		as[i], bs[i] = pt(), pt()
	}
	for i := 0; b.Loop(); i++ {
		tr.Visible(as[i%n], bs[i%n])
	}
}
