package rt

import (
	"math/rand/v2"
	"testing"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
	"github.com/cctrack/cctrack/sim/scene"
)

func itu(t testing.TB, name string, thickness float64) scene.Surface {
	t.Helper()
	m, err := material.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return scene.Surface{Name: name, Surface: material.Surface{Material: m, Thickness: thickness}}
}

// addQuad adds the parallelogram corner, corner+u, corner+u+v, corner+v as two triangles split
// along the diagonal corner → corner+u+v.
func addQuad(sc *scene.Scene, corner, u, v geom.Vec3, surf int32) {
	verts := []geom.Vec3{corner, corner.Add(u), corner.Add(u).Add(v), corner.Add(v)}
	sc.AddMesh(verts, [][3]int32{{0, 1, 2}, {0, 2, 3}}, surf)
}

// addBox adds the closed axis-aligned box [lo, hi] (12 triangles, outward normals).
func addBox(sc *scene.Scene, lo, hi geom.Vec3, surf int32) {
	dx, dy, dz := geom.V(hi.X-lo.X, 0, 0), geom.V(0, hi.Y-lo.Y, 0), geom.V(0, 0, hi.Z-lo.Z)
	addQuad(sc, lo, dy, dx, surf)         // bottom (normal -z)
	addQuad(sc, lo.Add(dz), dx, dy, surf) // top
	addQuad(sc, lo, dx, dz, surf)         // y = lo.Y
	addQuad(sc, lo.Add(dy), dz, dx, surf) // y = hi.Y
	addQuad(sc, lo, dz, dy, surf)         // x = lo.X
	addQuad(sc, lo.Add(dx), dy, dz, surf) // x = hi.X
}

// boxCity is a seeded grid of nx x ny box buildings (random heights) on a ground plane, with
// streets of width street between blocks of size block.
func boxCity(t testing.TB, nx, ny int, block, street float64, seed uint64) *scene.Scene {
	rng := rand.New(rand.NewPCG(seed, 1))
	sc := &scene.Scene{Name: "boxcity"}
	conc := sc.AddSurface(itu(t, "concrete", 0.3))
	pitch := block + street
	x0, y0 := -float64(nx)*pitch/2, -float64(ny)*pitch/2
	for i := range nx {
		for j := range ny {
			lo := geom.V(x0+float64(i)*pitch+street/2, y0+float64(j)*pitch+street/2, 0)
			h := 8 + 40*rng.Float64()
			addBox(sc, lo, lo.Add(geom.V(block, block, h)), conc)
		}
	}
	sc.AddGround(itu(t, "wet_ground", 0), 20)
	return sc
}

func mustNew(t testing.TB, sc *scene.Scene, opt Options) *Tracer {
	t.Helper()
	tr, err := New(sc, opt)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}
