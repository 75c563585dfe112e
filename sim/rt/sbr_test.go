package rt

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/scene"
)

// smallStreet is a tiny street scene: ground plus three buildings, 15 facets because the building
// bottoms merge with the ground plane and two buildings' fronts share the plane y = 8 (so one
// facet spans two disjoint walls).
func smallStreet(t testing.TB) *scene.Scene {
	sc := &scene.Scene{Name: "street"}
	c := sc.AddSurface(itu(t, "concrete", 0.3))
	g := sc.AddSurface(itu(t, "metal", 0))
	addBox(sc, geom.V(-30, 8, 0), geom.V(-5, 20, 15), c)
	addBox(sc, geom.V(2, 8, 0), geom.V(30, 18, 25), g)
	addBox(sc, geom.V(-20, -20, 0), geom.V(25, -9, 12), c)
	sc.AddGround(itu(t, "wet_ground", 0), 10)
	return sc
}

func randomReceivers(n int, lo, hi geom.Vec3, seed uint64) []geom.Vec3 {
	rng := rand.New(rand.NewPCG(seed, 3))
	rx := make([]geom.Vec3, n)
	for i := range rx {
		rx[i] = geom.V(lo.X+(hi.X-lo.X)*rng.Float64(), lo.Y+(hi.Y-lo.Y)*rng.Float64(), lo.Z+(hi.Z-lo.Z)*rng.Float64())
	}
	return rx
}

func pathKey(p Path) string { return fmt.Sprintf("%s%v", p.Interactions, p.Faces) }

// pathDiff compares one receiver's path sets by pathKey: missed are want's paths that got lacks,
// extra the keys of got's paths that want lacks.
func pathDiff(got, want []Path) (missed []Path, extra []string) {
	have := map[string]bool{}
	for _, p := range got {
		have[pathKey(p)] = true
	}
	for _, p := range want {
		if !have[pathKey(p)] {
			missed = append(missed, p)
		}
		delete(have, pathKey(p))
	}
	for k := range have {
		extra = append(extra, k)
	}
	return missed, extra
}

// TestSBRMatchesExhaustive: on a small scene, the SBR candidate search with the default ray count
// finds exactly the paths that trying every facet sequence finds, with identical coefficients
// (both end in the same exact solver, so values must be bit-identical).
func TestSBRMatchesExhaustive(t *testing.T) {
	sc := smallStreet(t)
	tx := geom.V(-2, 0, 6)
	rx := randomReceivers(40, geom.V(-40, -8, 1), geom.V(40, 7, 3), 11)
	sbr := mustNew(t, sc, Options{MaxDepth: 3})
	exh := mustNew(t, sc, Options{MaxDepth: 3})
	exh.exhaustive = true
	if got := len(exh.facets); got != 15 {
		t.Fatalf("%d facets, want 15", got)
	}
	got, err := sbr.Trace(context.Background(), tx, rx, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := exh.Trace(context.Background(), tx, rx, nil)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for i := range rx {
		total += len(want[i])
		if !reflect.DeepEqual(got[i], want[i]) {
			missed, extra := pathDiff(got[i], want[i])
			for _, p := range missed {
				t.Errorf("rx %d %v: SBR missed %s (delay %v)", i, rx[i], pathKey(p), p.Delay)
			}
			for _, k := range extra {
				t.Errorf("rx %d: SBR found extra %s", i, k)
			}
			if missed == nil && extra == nil {
				t.Errorf("rx %d: same paths with different values", i)
			}
		}
	}
	if total < 40*8 {
		t.Fatalf("only %d paths over 40 receivers: the scene exercises too little", total)
	}
	t.Logf("%d paths over %d receivers", total, len(rx))
}

// TestFewRays: with a handful of rays every receiver is a candidate for every sequence the rays
// meet, which must still give valid (exact) paths and never more than the exhaustive search.
func TestFewRays(t *testing.T) {
	sc := smallStreet(t)
	tx := geom.V(-2, 0, 6)
	rx := randomReceivers(10, geom.V(-40, -8, 1), geom.V(40, 7, 3), 12)
	few := mustNew(t, sc, Options{MaxDepth: 2, Rays: 7})
	exh := mustNew(t, sc, Options{MaxDepth: 2})
	exh.exhaustive = true
	got, err := few.Trace(context.Background(), tx, rx, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := exh.Trace(context.Background(), tx, rx, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for i := range rx {
		w := map[string]bool{}
		for _, p := range want[i] {
			w[pathKey(p)] = true
		}
		for _, p := range got[i] {
			if !w[pathKey(p)] {
				t.Errorf("rx %d: path %s not in the exhaustive set", i, pathKey(p))
			}
			if p.Kind == Reflection {
				found++
			}
		}
	}
	if found == 0 {
		t.Error("7 rays found no reflection at all")
	}
}

// TestDeterministicWorkers: the output does not depend on the number of goroutines.
func TestDeterministicWorkers(t *testing.T) {
	sc := boxCity(t, 4, 4, 30, 15, 3)
	tx := geom.V(1, 2, 20)
	rx := randomReceivers(200, geom.V(-80, -80, 1.5), geom.V(80, 80, 1.5), 4)
	var outs [][][]Path
	for _, w := range []int{1, 2, 3} {
		tr := mustNew(t, sc, Options{MaxDepth: 3, Rays: 1 << 17, Workers: w})
		out, err := tr.Trace(context.Background(), tx, rx, nil)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, out)
	}
	n := 0
	for _, p := range outs[0] {
		n += len(p)
	}
	if n == 0 {
		t.Fatal("no paths at all")
	}
	for i := 1; i < len(outs); i++ {
		if !reflect.DeepEqual(outs[0], outs[i]) {
			t.Fatalf("output with %d workers differs from 1 worker", i+1)
		}
	}
}

// TestFacets: the triangles of a box form six facets, a box bottom on z = 0 joins the ground's
// facet, triangles of opposite winding on one plane share a facet, and a plane offset by 1 cm
// does not.
func TestFacets(t *testing.T) {
	sc := &scene.Scene{}
	s := sc.AddSurface(itu(t, "concrete", 0))
	addBox(sc, geom.V(0, 0, 0), geom.V(1, 2, 3), s)                   // 6 facets
	addQuad(sc, geom.V(5, 5, 0), geom.V(0, 1, 0), geom.V(1, 0, 0), s) // z = 0, flipped: joins the bottom
	addQuad(sc, geom.V(5, 5, 0.01), geom.V(1, 0, 0), geom.V(0, 1, 0), s)
	tr := mustNew(t, sc, Options{})
	if len(tr.facets) != 7 {
		t.Fatalf("%d facets, want 7", len(tr.facets))
	}
	for _, f := range tr.facets {
		if math.Abs(f.n.Norm()-1) > 1e-15 {
			t.Errorf("facet normal %v not unit", f.n)
		}
		for _, i := range f.tris {
			tri := tr.bvh.tris[i]
			for _, v := range []geom.Vec3{tri.v0, tri.v0.Add(tri.e1), tri.v0.Add(tri.e2)} {
				if d := math.Abs(f.n.Dot(v) - f.d); d > 1e-12 {
					t.Errorf("vertex %v is %v off its facet plane", v, d)
				}
			}
		}
	}
	bottom := -1
	for f, fc := range tr.facets {
		if len(fc.tris) == 4 {
			bottom = f
		}
	}
	if bottom < 0 || math.Abs(math.Abs(tr.facets[bottom].n.Z)-1) > 1e-15 || tr.facets[bottom].d != 0 {
		t.Errorf("no 4-triangle facet on z = 0: %+v", tr.facets)
	}
}

// TestTraceCancel: a cancelled context stops the trace with the context's error.
func TestTraceCancel(t *testing.T) {
	tr := mustNew(t, boxCity(t, 3, 3, 30, 15, 1), Options{MaxDepth: 2, Rays: 1 << 16})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Trace(ctx, geom.V(0, 0, 10), []geom.Vec3{{X: 1, Y: 1, Z: 1}}, nil); err == nil {
		t.Fatal("no error from a cancelled trace")
	}
}

// TestProgress: progress is called once per receiver with increasing counts.
func TestProgress(t *testing.T) {
	tr := mustNew(t, boxCity(t, 3, 3, 30, 15, 1), Options{MaxDepth: 1, Rays: 1 << 14, Workers: 3})
	rx := randomReceivers(50, geom.V(-50, -50, 1), geom.V(50, 50, 2), 1)
	last := 0
	if _, err := tr.Trace(context.Background(), geom.V(0, 0, 10), rx, func(done int) {
		if done != last+1 {
			t.Errorf("progress %d after %d", done, last)
		}
		last = done
	}); err != nil {
		t.Fatal(err)
	}
	if last != len(rx) {
		t.Errorf("progress ended at %d, want %d", last, len(rx))
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := mustNew(t, &scene.Scene{}, Options{MaxDepth: 2}).Options()
	if o.Frequency != DefaultFrequency || o.Rays != DefaultRays || o.Workers < 1 || o.MaxDepth != 2 || o.Diffraction {
		t.Errorf("defaults not filled in: %+v", o)
	}
}

func TestNewValidates(t *testing.T) {
	sc := &scene.Scene{}
	for _, opt := range []Options{{Frequency: -1}, {Frequency: math.NaN()}, {MaxDepth: -1}, {Rays: -1}, {Workers: -1}} {
		if _, err := New(sc, opt); err == nil {
			t.Errorf("New accepted %+v", opt)
		}
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New accepted a nil scene")
	}
	bad := &scene.Scene{Vertices: []geom.Vec3{{}}, Triangles: [][3]int32{{0, 0, 5}}, FaceSurface: []int32{0}}
	if _, err := New(bad, Options{}); err == nil {
		t.Error("New accepted an invalid scene")
	}
	tr := mustNew(t, sc, Options{})
	if _, err := tr.Trace(context.Background(), geom.V(math.NaN(), 0, 0), nil, nil); err == nil {
		t.Error("Trace accepted a NaN transmitter")
	}
}
