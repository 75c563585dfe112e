package rt

import (
	"cmp"
	"math"
	"slices"

	"github.com/cctrack/cctrack/sim/geom"
)

// facet is a set of coplanar triangles: every triangle whose (unoriented) plane agrees with the
// facet's plane n·x = d within planeAngleTol and the offset tolerance. Reflection candidates are
// sequences of facets, so that a specular point is accepted on any of the facet's triangles and
// the shared edge of two triangles of one wall yields exactly one path.
type facet struct {
	n    geom.Vec3 // unit normal (area-weighted mean of the triangles' normals)
	d    float64   // plane offset: n·x = d on the plane
	tris []int32   // BVH-order indices of the member triangles
}

// Planarity tolerances. Scenes are usually stored in float32 (about 1e-5 m resolution at 100 m),
// so the normal of a 3 m triangle is known to a few 1e-6 rad; 1e-4 rad and 1 mm (or 1e-6 of the
// scene size for big scenes) merge such triangles while keeping distinct walls apart.
const (
	planeAngleTol = 1e-4
	planeOffTol   = 1e-3
	planeOffRel   = 1e-6
)

// baryTol is the barycentric slack of the point-in-facet test (relative to the triangle's edges):
// it absorbs the rounding of a reflection point computed on a shared edge.
const baryTol = 1e-9

// facetKey quantises a plane (n, d) into cells twice the tolerance wide.
type facetKey [4]int64

// buildFacets groups the triangles (in BVH order) into facets and sets triangle.facet. Grouping is
// deterministic: triangles are visited in scene order and join the lowest-numbered matching facet.
func buildFacets(tris []triangle, extent float64) []facet {
	offTol := max(planeOffTol, planeOffRel*extent)
	cosTol := math.Cos(planeAngleTol)
	qa, qd := 2*planeAngleTol, 2*offTol

	// Visit in scene order so that facet numbering does not depend on the BVH layout.
	order := make([]int32, len(tris))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(tris[a].id, tris[b].id) })
	type plane struct {
		n geom.Vec3
		d float64
	}
	var reps []plane
	cells := make(map[facetKey][]int32)
	var facets []facet
	var sumN, sumC []geom.Vec3
	var sumA []float64
	for _, ti := range order {
		tr := &tris[ti]
		nn := tr.e1.Cross(tr.e2)
		a := nn.Norm() // twice the area
		n := nn.Scale(1 / a)
		c := tr.v0.Add(tr.e1.Add(tr.e2).Scale(1.0 / 3))
		d := n.Dot(c)
		found := int32(-1)
		// Look in the cell of (n, d) and of (-n, -d) and their nearer neighbours.
		for _, sgn := range [2]float64{1, -1} {
			p := [4]float64{sgn * n.X / qa, sgn * n.Y / qa, sgn * n.Z / qa, sgn * d / qd}
			var base, step [4]int64
			for k := range p {
				f := math.Floor(p[k])
				base[k] = int64(f)
				step[k] = 1
				if p[k]-f < 0.5 {
					step[k] = -1
				}
			}
			for m := 0; m < 16; m++ {
				key := base
				for k := range key {
					if m&(1<<k) != 0 {
						key[k] += step[k]
					}
				}
				for _, f := range cells[key] {
					if found >= 0 && f >= found {
						continue
					}
					r := reps[f]
					cs := r.n.Dot(n)
					if math.Abs(cs) >= cosTol && math.Abs(r.d-math.Copysign(1, cs)*d) <= offTol {
						found = f
					}
				}
			}
		}
		if found < 0 {
			found = int32(len(facets))
			facets = append(facets, facet{})
			reps = append(reps, plane{n, d})
			sumN, sumC, sumA = append(sumN, geom.Vec3{}), append(sumC, geom.Vec3{}), append(sumA, 0)
			key := facetKey{int64(math.Floor(n.X / qa)), int64(math.Floor(n.Y / qa)), int64(math.Floor(n.Z / qa)), int64(math.Floor(d / qd))}
			cells[key] = append(cells[key], found)
		}
		tr.facet = found
		facets[found].tris = append(facets[found].tris, ti)
		// Accumulate area-weighted normals (aligned with the first member's) and centroids.
		s := 1.0
		if reps[found].n.Dot(n) < 0 {
			s = -1
		}
		sumN[found] = sumN[found].AddScaled(s*a, n)
		sumC[found] = sumC[found].AddScaled(a, c)
		sumA[found] += a
	}
	// The facet plane passes through the area-weighted centroid with the mean normal, which for a
	// single triangle (or exactly coplanar ones) is the triangles' own plane.
	for f := range facets {
		facets[f].n = sumN[f].Unit()
		facets[f].d = facets[f].n.Dot(sumC[f].Scale(1 / sumA[f]))
	}
	return facets
}

// inTriangle reports whether p (assumed on or next to the triangle's plane) lies inside triangle i
// within the barycentric slack baryTol.
func (b *bvh) inTriangle(i int32, p geom.Vec3) bool {
	tr, g := &b.tris[i], &b.bary[i]
	q := p.Sub(tr.v0)
	d1, d2 := q.Dot(tr.e1), q.Dot(tr.e2)
	b1 := (g.g11*d1 - g.g01*d2) * g.invDet
	b2 := (g.g00*d2 - g.g01*d1) * g.invDet
	return b1 >= -baryTol && b2 >= -baryTol && b1+b2 <= 1+baryTol
}

// facetLinearMax is the facet size up to which containment scans the member list; bigger facets
// (a tessellated ground) use the BVH.
const facetLinearMax = 16

// locate returns the scene index of the lowest-numbered triangle of facet f that contains p, or
// -1. p must lie on the facet's plane.
func (t *Tracer) locate(f int32, p geom.Vec3) int32 {
	fc := &t.facets[f]
	best := int32(-1)
	if len(fc.tris) <= facetLinearMax {
		for _, i := range fc.tris {
			if id := t.bvh.tris[i].id; (best < 0 || id < best) && t.bvh.inTriangle(i, p) {
				best = id
			}
		}
		return best
	}
	return t.bvh.locate(f, p, t.eps(p))
}

// locate is the BVH form of Tracer.locate: it visits the nodes whose boxes, widened by pad,
// contain p.
func (b *bvh) locate(f int32, p geom.Vec3, pad float64) int32 {
	best := int32(-1)
	var stack [maxStack]int32
	sp := 1
	for sp > 0 {
		sp--
		ni := stack[sp]
		n := &b.nodes[ni]
		if p.X < n.lo.X-pad || p.Y < n.lo.Y-pad || p.Z < n.lo.Z-pad || p.X > n.hi.X+pad || p.Y > n.hi.Y+pad || p.Z > n.hi.Z+pad {
			continue
		}
		if n.count == 0 {
			stack[sp] = n.next
			stack[sp+1] = ni + 1
			sp += 2
			continue
		}
		for i := n.next; i < n.next+n.count; i++ {
			tr := &b.tris[i]
			if tr.facet == f && (best < 0 || tr.id < best) && b.inTriangle(i, p) {
				best = tr.id
			}
		}
	}
	return best
}
