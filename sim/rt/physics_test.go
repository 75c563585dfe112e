package rt

import (
	"context"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
	"github.com/cctrack/cctrack/sim/scene"
)

// Tolerances of the closed-form tests. Every quantity is computed in float64 from a handful of
// operations on metre-scale coordinates, so results agree with the closed forms to ~1e-15
// relative; 1e-12 leaves room for the longer chains (reflection points, angles via acos/atan2) and
// still catches any modelling error, which would show at the 1e-3 level or above.
const (
	relTol = 1e-12
	angTol = 1e-12 // rad
)

func trace1(t *testing.T, tr *Tracer, tx, rx geom.Vec3) []Path {
	t.Helper()
	out, err := tr.Trace(context.Background(), tx, []geom.Vec3{rx}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func near(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func nearAngle(a, b float64) bool {
	d := math.Mod(math.Abs(a-b), 2*math.Pi)
	return math.Min(d, 2*math.Pi-d) <= angTol
}

func checkAngles(t *testing.T, p Path, dep, arr geom.Vec3) {
	t.Helper()
	dt, dp := geom.Angles(dep)
	at, ap := geom.Angles(arr)
	if !nearAngle(p.AoDTheta, dt) || !nearAngle(p.AoDPhi, dp) || !nearAngle(p.AoATheta, at) || !nearAngle(p.AoAPhi, ap) {
		t.Errorf("angles AoD (%v, %v) AoA (%v, %v), want (%v, %v) (%v, %v)",
			p.AoDTheta, p.AoDPhi, p.AoATheta, p.AoAPhi, dt, dp, at, ap)
	}
}

// TestFreeSpaceLoS: with no scene, the only path is the direct one with A = lambda/(4 pi d),
// delay d/c, AoD along rx - tx and AoA pointing back at tx.
func TestFreeSpaceLoS(t *testing.T) {
	tr := mustNew(t, &scene.Scene{}, Options{Frequency: 28e9, MaxDepth: 3, Rays: 1000})
	lambda := material.C / 28e9
	rng := rand.New(rand.NewPCG(1, 1))
	for range 20 {
		tx := geom.V(rng.NormFloat64()*50, rng.NormFloat64()*50, rng.NormFloat64()*50)
		rx := geom.V(rng.NormFloat64()*50, rng.NormFloat64()*50, rng.NormFloat64()*50)
		paths := trace1(t, tr, tx, rx)
		if len(paths) != 1 || paths[0].Kind != LoS || paths[0].Interactions != "" || paths[0].Vertices != nil {
			t.Fatalf("got %+v, want one LoS path", paths)
		}
		p, d := paths[0], tx.Dist(rx)
		want := lambda / (4 * math.Pi * d)
		if !near(real(p.A), want, relTol) || imag(p.A) != 0 {
			t.Errorf("A = %v, want %v", p.A, want)
		}
		// Power in dB must be the free-space path gain -20 log10(4 pi d / lambda).
		if db := 20 * math.Log10(cmplx.Abs(p.A)); math.Abs(db+20*math.Log10(4*math.Pi*d/lambda)) > 1e-9 {
			t.Errorf("path gain %v dB, want %v", db, -20*math.Log10(4*math.Pi*d/lambda))
		}
		if !near(p.Delay, d/material.C, relTol) {
			t.Errorf("delay %v, want %v", p.Delay, d/material.C)
		}
		checkAngles(t, p, rx.Sub(tx), tx.Sub(rx))
	}
}

// TestOcclusion: a box between tx and rx removes the direct path; moving rx beside it restores it.
func TestOcclusion(t *testing.T) {
	sc := &scene.Scene{}
	addBox(sc, geom.V(4, -1, -1), geom.V(6, 1, 1), sc.AddSurface(itu(t, "concrete", 0)))
	tr := mustNew(t, sc, Options{})
	tx := geom.V(0, 0, 0)
	if p := trace1(t, tr, tx, geom.V(10, 0, 0)); len(p) != 0 {
		t.Errorf("blocked receiver has paths %+v", p)
	}
	if p := trace1(t, tr, tx, geom.V(10, 5, 0)); len(p) != 1 || p[0].Kind != LoS {
		t.Errorf("clear receiver has paths %+v, want LoS", p)
	}
}

// plateReflection is the closed form of a single reflection: the image of tx across the plane
// n·x = d, the specular point where image→rx crosses the plane, the path length |image - rx|, and
// the incidence cosine.
func plateReflection(tx, rx, n geom.Vec3, d float64) (p geom.Vec3, dist, cos float64) {
	img := tx.AddScaled(-2*(n.Dot(tx)-d), n)
	s := (d - n.Dot(rx)) / n.Dot(img.Sub(rx))
	p = rx.AddScaled(s, img.Sub(rx))
	dist = img.Dist(rx)
	cos = math.Abs(rx.Sub(img).Unit().Dot(n))
	return p, dist, cos
}

// TestPlateReflection: one reflection off a two-triangle plate. A vertical wall probed by vertical
// antennas at equal heights is pure TE (the field is normal to the plane of incidence), a
// horizontal plate is pure TM (the field lies in the vertical plane of incidence), so
// A = lambda/(4 pi d)·r with r the matching Fresnel or slab coefficient, exactly (the projections
// are ±1 and their signs cancel).
func TestPlateReflection(t *testing.T) {
	const f = 3.5e9
	lambda := material.C / f
	for _, mat := range []struct {
		name string
		th   float64
	}{{"metal", 0}, {"concrete", 0}, {"concrete", 0.3}, {"wet_ground", 0}} {
		for _, c := range []struct {
			name          string
			corner, u, v  geom.Vec3
			n             geom.Vec3
			d             float64
			tx, rx, offRx geom.Vec3
			te            bool
		}{
			{"wall", geom.V(0, -10, 0), geom.V(0, 20, 0), geom.V(0, 0, 10), geom.V(1, 0, 0), 0,
				geom.V(5, -3, 4), geom.V(8, 6, 4), geom.V(3, 60, 4), true},
			{"floor", geom.V(-10, -10, 0), geom.V(20, 0, 0), geom.V(0, 20, 0), geom.V(0, 0, 1), 0,
				geom.V(-3, 1, 5), geom.V(4, -2, 2), geom.V(40, -2, 2), false},
		} {
			t.Run(mat.name+"/"+c.name, func(t *testing.T) {
				surf := itu(t, mat.name, mat.th)
				sc := &scene.Scene{}
				addQuad(sc, c.corner, c.u, c.v, sc.AddSurface(surf))
				tr := mustNew(t, sc, Options{Frequency: f, MaxDepth: 1, Rays: 1 << 16})
				paths := trace1(t, tr, c.tx, c.rx)
				if len(paths) != 2 || paths[0].Kind != LoS || paths[1].Kind != Reflection {
					t.Fatalf("got %d paths %+v, want LoS + reflection", len(paths), paths)
				}
				p := paths[1]
				wantP, dist, cos := plateReflection(c.tx, c.rx, c.n, c.d)
				rTE, rTM := surf.Reflection(f, cos)
				r := rTM
				if c.te {
					r = rTE
				}
				want := complex(lambda/(4*math.Pi*dist), 0) * r
				if p.Interactions != "R" || len(p.Vertices) != 1 || p.Vertices[0].Dist(wantP) > 1e-12 {
					t.Errorf("interactions %q vertices %v, want R at %v", p.Interactions, p.Vertices, wantP)
				}
				if p.Faces[0] != 0 && p.Faces[0] != 1 {
					t.Errorf("face %d is not a plate triangle", p.Faces[0])
				}
				if cmplx.Abs(p.A-want) > relTol*cmplx.Abs(want) {
					t.Errorf("A = %v, want %v", p.A, want)
				}
				if !near(p.Delay, dist/material.C, relTol) {
					t.Errorf("delay %v, want %v", p.Delay, dist/material.C)
				}
				checkAngles(t, p, wantP.Sub(c.tx), wantP.Sub(c.rx))
				// A receiver whose specular point is off the plate sees the direct path only.
				if off := trace1(t, tr, c.tx, c.offRx); len(off) != 1 || off[0].Kind != LoS {
					t.Errorf("off-plate receiver: %+v, want LoS only", off)
				}
			})
		}
	}
}

// TestSharedEdgeOnePath: reflection points on the diagonal shared by the plate's two triangles
// produce exactly one path, for both the SBR and the exhaustive candidate search.
func TestSharedEdgeOnePath(t *testing.T) {
	sc := &scene.Scene{}
	addQuad(sc, geom.V(-1, -1, 0), geom.V(2, 0, 0), geom.V(0, 2, 0), sc.AddSurface(itu(t, "metal", 0)))
	for _, exh := range []bool{false, true} {
		tr := mustNew(t, sc, Options{MaxDepth: 2, Rays: 1 << 16})
		tr.exhaustive = exh
		for i := range 9 {
			s := -0.8 + 0.2*float64(i)
			p := geom.V(s, s, 0)
			in := geom.V(3, -1, -2)
			tx := p.Sub(in)
			rx := p.Add(geom.V(3, -1, 2).Scale(1.5))
			paths := trace1(t, tr, tx, rx)
			n := 0
			for _, q := range paths {
				if q.Kind == Reflection {
					n++
					if q.Vertices[0].Dist(p) > 1e-12 {
						t.Errorf("reflection at %v, want %v", q.Vertices[0], p)
					}
				}
			}
			if n != 1 {
				t.Errorf("exhaustive=%v diagonal point %v: %d reflections, want 1", exh, p, n)
			}
		}
	}
}

// TestTwoRayGround: above scene.AddGround's plane, the channel at frequency f is the two-ray
// model
//
//	h = lambda/(4 pi) [exp(-j k d1)/d1 + Gamma_V exp(-j k d2)/d2],
//	Gamma_V = (eta cos - sqrt(eta - sin^2)) / (eta cos + sqrt(eta - sin^2)),
//
// d1 the direct and d2 the reflected length, cos = (h_t + h_r)/d2. Gamma_V is written out here
// from the permittivity, independently of material.Surface.Reflection. The phase k·d of a 1 km
// path is ~7e4 rad, so a relative error of 1e-12 in a delay becomes ~1e-7 rad of phase: the
// tolerance on h is 1e-9 relative.
func TestTwoRayGround(t *testing.T) {
	const f = 3.5e9
	lambda := material.C / f
	ground := itu(t, "wet_ground", 0)
	sc := &scene.Scene{}
	sc.AddGround(ground, 2000)
	tr := mustNew(t, sc, Options{Frequency: f, MaxDepth: 3, Rays: 1 << 16})
	eta := ground.Material.Permittivity(f)
	rng := rand.New(rand.NewPCG(5, 5))
	for _, dist := range []float64{3, 10, 50, 200, 1000} {
		phi := 2 * math.Pi * rng.Float64()
		tx := geom.V(10, -20, 10)
		rx := tx.Add(geom.V(dist*math.Cos(phi), dist*math.Sin(phi), 0))
		rx.Z = 1.5
		paths := trace1(t, tr, tx, rx)
		if len(paths) != 2 || paths[0].Kind != LoS || paths[1].Interactions != "R" {
			t.Fatalf("distance %v: got %+v, want LoS + one ground reflection", dist, paths)
		}
		var h complex128
		for _, p := range paths {
			h += p.A * cmplx.Exp(complex(0, -2*math.Pi*f*p.Delay))
		}
		d1 := tx.Dist(rx)
		d2 := math.Hypot(dist, tx.Z+rx.Z)
		cos := (tx.Z + rx.Z) / d2
		c := complex(cos, 0)
		root := cmplx.Sqrt(eta - complex(1-cos*cos, 0))
		gamma := (eta*c - root) / (eta*c + root)
		k := 2 * math.Pi / lambda
		want := complex(lambda/(4*math.Pi), 0) * (cmplx.Exp(complex(0, -k*d1))/complex(d1, 0) + gamma*cmplx.Exp(complex(0, -k*d2))/complex(d2, 0))
		if cmplx.Abs(h-want) > 1e-9*cmplx.Abs(want) {
			t.Errorf("distance %v: h = %v, two-ray model %v (rel err %.2e)", dist, h, want, cmplx.Abs(h-want)/cmplx.Abs(want))
		}
	}
}

// TestParallelPlates: tx and rx at equal height between two parallel metal walls x = 0 and
// x = W. The image of a reflection sequence is tx mirrored across the walls in order, each path's
// delay is |image - rx|/c, and (pure TE, equal incidence angle at every bounce)
// A = lambda/(4 pi d)·rTE^k.
func TestParallelPlates(t *testing.T) {
	const f, w = 3.5e9, 10.0
	lambda := material.C / f
	metal := itu(t, "metal", 0)
	sc := &scene.Scene{}
	s := sc.AddSurface(metal)
	addQuad(sc, geom.V(0, -200, -20), geom.V(0, 400, 0), geom.V(0, 0, 40), s)
	addQuad(sc, geom.V(w, -200, -20), geom.V(0, 400, 0), geom.V(0, 0, 40), s)
	tx, rx := geom.V(3, 0, 1), geom.V(8, 17, 1)
	for _, exh := range []bool{false, true} {
		tr := mustNew(t, sc, Options{Frequency: f, MaxDepth: 3, Rays: 1 << 18})
		tr.exhaustive = exh
		paths := trace1(t, tr, tx, rx)
		mir0 := func(p geom.Vec3) geom.Vec3 { return geom.V(-p.X, p.Y, p.Z) }
		mirW := func(p geom.Vec3) geom.Vec3 { return geom.V(2*w-p.X, p.Y, p.Z) }
		images := []geom.Vec3{
			tx, mir0(tx), mirW(tx), mirW(mir0(tx)), mir0(mirW(tx)), mir0(mirW(mir0(tx))), mirW(mir0(mirW(tx))),
		}
		orders := []int{0, 1, 1, 2, 2, 3, 3}
		if len(paths) != len(images) {
			t.Fatalf("exhaustive=%v: %d paths, want %d: %+v", exh, len(paths), len(images), paths)
		}
		// Paths come sorted by delay; match each image by delay.
		used := make([]bool, len(images))
		for _, p := range paths {
			found := false
			for i, img := range images {
				d := img.Dist(rx)
				if used[i] || !near(p.Delay, d/material.C, relTol) || len(p.Vertices) != orders[i] {
					continue
				}
				used[i], found = true, true
				cos := math.Abs(rx.Sub(img).Unit().X)
				rTE, _ := metal.Reflection(f, cos)
				want := complex(lambda/(4*math.Pi*d), 0) * cmplx.Pow(rTE, complex(float64(orders[i]), 0))
				if cmplx.Abs(p.A-want) > relTol*cmplx.Abs(want) {
					t.Errorf("order %d: A = %v, want %v", orders[i], p.A, want)
				}
			}
			if !found {
				t.Errorf("exhaustive=%v: unexpected path %+v", exh, p)
			}
		}
	}
}
