// Package scene holds triangle meshes with per-face radio materials, and the loaders that build them
// from files (PLY, Sionna/Mitsuba 3 XML) or procedurally (a seeded city).
package scene

import (
	"fmt"
	"math"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
)

// Surface is a named material as faces use it (the id of a Sionna bsdf, or the material name).
type Surface struct {
	Name string
	material.Surface
}

// Scene is a triangle soup. Triangle i has vertices Vertices[Triangles[i][k]] and surface
// Surfaces[FaceSurface[i]]. Coordinates are metres, z up.
type Scene struct {
	Name        string
	Vertices    []geom.Vec3
	Triangles   [][3]int32
	FaceSurface []int32
	Surfaces    []Surface
}

// AddSurface returns the index of a surface equal to s (name, material and thickness), adding it
// when new: two surfaces that share only a name stay apart.
func (sc *Scene) AddSurface(s Surface) int32 {
	for i, have := range sc.Surfaces {
		if have == s {
			return int32(i)
		}
	}
	sc.Surfaces = append(sc.Surfaces, s)
	return int32(len(sc.Surfaces) - 1)
}

// AddMesh appends triangles over the given vertices, all with surface surf.
func (sc *Scene) AddMesh(verts []geom.Vec3, tris [][3]int32, surf int32) {
	base := int32(len(sc.Vertices))
	sc.Vertices = append(sc.Vertices, verts...)
	for _, t := range tris {
		sc.Triangles = append(sc.Triangles, [3]int32{t[0] + base, t[1] + base, t[2] + base})
		sc.FaceSurface = append(sc.FaceSurface, surf)
	}
}

// Bounds returns the axis-aligned bounding box of all vertices.
func (sc *Scene) Bounds() (lo, hi geom.Vec3) {
	lo = geom.V(math.Inf(1), math.Inf(1), math.Inf(1))
	hi = lo.Neg()
	for _, v := range sc.Vertices {
		lo, hi = geom.Min(lo, v), geom.Max(hi, v)
	}
	return lo, hi
}

// AddGround adds the plane z = 0 as two triangles covering the scene's footprint plus margin metres
// on every side (the plane is finite so that the tracer needs no special case for it).
func (sc *Scene) AddGround(s Surface, margin float64) {
	lo, hi := sc.Bounds()
	if len(sc.Vertices) == 0 {
		lo, hi = geom.Vec3{}, geom.Vec3{}
	}
	x0, y0, x1, y1 := lo.X-margin, lo.Y-margin, hi.X+margin, hi.Y+margin
	verts := []geom.Vec3{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
	sc.AddMesh(verts, [][3]int32{{0, 1, 2}, {0, 2, 3}}, sc.AddSurface(s))
}

// Validate checks indices and finiteness; loaders call it so that the tracer can trust a scene.
func (sc *Scene) Validate() error {
	if len(sc.FaceSurface) != len(sc.Triangles) {
		return fmt.Errorf("scene %s: %d triangles but %d face surfaces", sc.Name, len(sc.Triangles), len(sc.FaceSurface))
	}
	for i, v := range sc.Vertices {
		if math.IsNaN(v.X+v.Y+v.Z) || math.IsInf(v.X+v.Y+v.Z, 0) {
			return fmt.Errorf("scene %s: vertex %d is not finite", sc.Name, i)
		}
	}
	nv := int32(len(sc.Vertices))
	for i, t := range sc.Triangles {
		for _, k := range t {
			if k < 0 || k >= nv {
				return fmt.Errorf("scene %s: triangle %d references vertex %d of %d", sc.Name, i, k, nv)
			}
		}
		if s := sc.FaceSurface[i]; s < 0 || int(s) >= len(sc.Surfaces) {
			return fmt.Errorf("scene %s: triangle %d has surface %d of %d", sc.Name, i, s, len(sc.Surfaces))
		}
	}
	return nil
}
