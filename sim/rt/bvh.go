package rt

import (
	"cmp"
	"math"
	"slices"

	"github.com/cctrack/cctrack/sim/geom"
)

// triangle is a scene triangle in BVH order, ready for Möller–Trumbore: vertex v0 and edges
// e1 = v1 - v0, e2 = v2 - v0 are precomputed so that a ray test needs no vertex lookups.
type triangle struct {
	v0, e1, e2 geom.Vec3
	facet      int32 // planar facet the triangle belongs to
	id         int32 // index of the triangle in the scene
}

// bary holds the precomputed Gram matrix of a triangle's edges for point-in-triangle tests:
// for q = p - v0, the barycentric coordinates are
//
//	b1 = (g11 (q·e1) - g01 (q·e2)) / det,  b2 = (g00 (q·e2) - g01 (q·e1)) / det
//
// with g00 = e1·e1, g01 = e1·e2, g11 = e2·e2 and det = g00 g11 - g01².
type bary struct {
	g00, g01, g11, invDet float64
}

// bvhNode is one node of the flattened BVH. Interior nodes keep their first child at the next
// index (depth-first layout) and the second at next; leaves (count > 0) own the triangles
// [first, first+count) of bvh.tris.
type bvhNode struct {
	lo, hi geom.Vec3
	next   int32 // interior: index of the second child; leaf: first triangle
	count  int32 // 0 for interior nodes
}

// bvh is a bounding volume hierarchy over triangles, built with a binned surface-area heuristic.
type bvh struct {
	nodes []bvhNode
	tris  []triangle
	bary  []bary // parallel to tris
}

const (
	sahBins     = 16
	leafMaxTris = 4
	// traversalCost is the SAH cost of visiting a node relative to one triangle test.
	traversalCost = 1.0
	// maxTreeDepth bounds the tree so that the traversal stacks (two entries per level) fit maxStack.
	maxTreeDepth = 30
	maxStack     = 2*maxTreeDepth + 2
)

// buildBVH builds the hierarchy over tris (which it reorders in place).
func buildBVH(tris []triangle) *bvh {
	b := &bvh{tris: tris}
	n := len(tris)
	if n == 0 {
		return b
	}
	lo := make([]geom.Vec3, n)
	hi := make([]geom.Vec3, n)
	cen := make([]geom.Vec3, n)
	for i := range tris {
		t := &tris[i]
		v1, v2 := t.v0.Add(t.e1), t.v0.Add(t.e2)
		lo[i] = geom.Min(t.v0, geom.Min(v1, v2))
		hi[i] = geom.Max(t.v0, geom.Max(v1, v2))
		cen[i] = lo[i].Add(hi[i]).Scale(0.5)
	}
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	b.nodes = make([]bvhNode, 0, 2*n/leafMaxTris+1)
	bld := builder{b: b, lo: lo, hi: hi, cen: cen}
	bld.build(idx, 0, 0)
	// Reorder the triangles into leaf order so that a leaf's triangles are contiguous.
	sorted := make([]triangle, n)
	for i, j := range idx {
		sorted[i] = tris[j]
	}
	copy(tris, sorted)
	b.bary = make([]bary, n)
	for i := range tris {
		t := &tris[i]
		g00, g01, g11 := t.e1.Dot(t.e1), t.e1.Dot(t.e2), t.e2.Dot(t.e2)
		b.bary[i] = bary{g00, g01, g11, 1 / (g00*g11 - g01*g01)}
	}
	return b
}

type builder struct {
	b            *bvh
	lo, hi, cen  []geom.Vec3
	binLo, binHi [sahBins]geom.Vec3
	binN         [sahBins]int
}

// build appends the subtree over idx (whose triangles start at offset first in leaf order) and
// returns its node index.
func (bl *builder) build(idx []int32, first, depth int) int32 {
	lo, hi := geom.V(math.Inf(1), math.Inf(1), math.Inf(1)), geom.V(math.Inf(-1), math.Inf(-1), math.Inf(-1))
	clo, chi := lo, hi
	for _, i := range idx {
		lo, hi = geom.Min(lo, bl.lo[i]), geom.Max(hi, bl.hi[i])
		clo, chi = geom.Min(clo, bl.cen[i]), geom.Max(chi, bl.cen[i])
	}
	me := int32(len(bl.b.nodes))
	bl.b.nodes = append(bl.b.nodes, bvhNode{lo: pad(lo, -1), hi: pad(hi, 1), next: int32(first), count: int32(len(idx))})
	// The depth cap keeps traversal stacks bounded; a deeper subtree simply becomes a big leaf.
	if len(idx) <= leafMaxTris || depth >= maxTreeDepth {
		return me
	}
	axis, split, ok := bl.bestSplit(idx, lo, hi, clo, chi)
	if !ok && len(idx) <= 2*leafMaxTris {
		return me // SAH prefers a leaf
	}
	mid := 0
	if ok {
		c0, c1 := clo.Index(axis), chi.Index(axis)
		mid = partition(idx, func(i int32) bool { return bl.binOf(bl.cen[i].Index(axis), c0, c1) < split })
	}
	if mid == 0 || mid == len(idx) {
		// Coincident centroids or a big set that SAH would keep whole: split at the median.
		axis = widest(chi.Sub(clo))
		slices.SortFunc(idx, func(a, b int32) int {
			if c := cmp.Compare(bl.cen[a].Index(axis), bl.cen[b].Index(axis)); c != 0 {
				return c
			}
			return cmp.Compare(a, b)
		})
		mid = len(idx) / 2
	}
	bl.b.nodes[me].count = 0
	bl.build(idx[:mid], first, depth+1)
	second := bl.build(idx[mid:], first+mid, depth+1)
	bl.b.nodes[me].next = second
	return me
}

// bestSplit evaluates the SAH over sahBins centroid bins on each axis. It reports ok=false when a
// leaf is cheaper than the best split.
func (bl *builder) bestSplit(idx []int32, lo, hi, clo, chi geom.Vec3) (axis, split int, ok bool) {
	best := float64(len(idx)) // cost of a leaf, in triangle tests, relative to the parent area
	parentArea := area(lo, hi)
	for a := 0; a < 3; a++ {
		c0, c1 := clo.Index(a), chi.Index(a)
		if c1 <= c0 {
			continue
		}
		for k := range bl.binN {
			bl.binN[k] = 0
			bl.binLo[k] = geom.V(math.Inf(1), math.Inf(1), math.Inf(1))
			bl.binHi[k] = bl.binLo[k].Neg()
		}
		for _, i := range idx {
			k := bl.binOf(bl.cen[i].Index(a), c0, c1)
			bl.binN[k]++
			bl.binLo[k] = geom.Min(bl.binLo[k], bl.lo[i])
			bl.binHi[k] = geom.Max(bl.binHi[k], bl.hi[i])
		}
		// Sweep from the right to get suffix areas, then from the left.
		var rightArea [sahBins]float64
		var rightN [sahBins]int
		rlo, rhi := geom.V(math.Inf(1), math.Inf(1), math.Inf(1)), geom.V(math.Inf(-1), math.Inf(-1), math.Inf(-1))
		n := 0
		for k := sahBins - 1; k > 0; k-- {
			if bl.binN[k] > 0 {
				rlo, rhi = geom.Min(rlo, bl.binLo[k]), geom.Max(rhi, bl.binHi[k])
			}
			n += bl.binN[k]
			rightN[k], rightArea[k] = n, area(rlo, rhi)
		}
		llo, lhi := geom.V(math.Inf(1), math.Inf(1), math.Inf(1)), geom.V(math.Inf(-1), math.Inf(-1), math.Inf(-1))
		n = 0
		for k := 1; k < sahBins; k++ {
			if bl.binN[k-1] > 0 {
				llo, lhi = geom.Min(llo, bl.binLo[k-1]), geom.Max(lhi, bl.binHi[k-1])
			}
			n += bl.binN[k-1]
			if n == 0 || rightN[k] == 0 {
				continue
			}
			cost := traversalCost + (area(llo, lhi)*float64(n)+rightArea[k]*float64(rightN[k]))/parentArea
			if cost < best {
				best, axis, split, ok = cost, a, k, true
			}
		}
	}
	return axis, split, ok
}

func (bl *builder) binOf(c, c0, c1 float64) int {
	k := int(float64(sahBins) * (c - c0) / (c1 - c0))
	return min(max(k, 0), sahBins-1)
}

// pad moves box corner c outwards (sign -1 for the low corner) by the relative tolerance, so that
// rounding in the slab test cannot reject a ray that hits a triangle exactly on the box boundary
// (flat boxes around planar geometry are the common case).
func pad(c geom.Vec3, sign float64) geom.Vec3 {
	f := func(x float64) float64 { return x + sign*epsRel*max(1, math.Abs(x)) }
	return geom.V(f(c.X), f(c.Y), f(c.Z))
}

func area(lo, hi geom.Vec3) float64 {
	d := hi.Sub(lo)
	if d.X < 0 || d.Y < 0 || d.Z < 0 {
		return 0
	}
	return 2 * (d.X*d.Y + d.Y*d.Z + d.Z*d.X)
}

func widest(d geom.Vec3) int {
	if d.X >= d.Y && d.X >= d.Z {
		return 0
	}
	if d.Y >= d.Z {
		return 1
	}
	return 2
}

// partition moves the elements satisfying left to the front and returns their count.
func partition(idx []int32, left func(int32) bool) int {
	m := 0
	for i, v := range idx {
		if left(v) {
			idx[i], idx[m] = idx[m], idx[i]
			m++
		}
	}
	return m
}

// ray is a ray prepared for slab tests: origin, unit direction and the reciprocal direction, where
// a zero component gets a huge finite reciprocal so that 0·inf never produces NaN.
type ray struct {
	o, d, inv geom.Vec3
}

func newRay(o, d geom.Vec3) ray {
	return ray{o: o, d: d, inv: geom.V(recip(d.X), recip(d.Y), recip(d.Z))}
}

func recip(x float64) float64 {
	if x == 0 {
		return 1e300
	}
	return 1 / x
}

// boxEntry returns the entry distance of r into the box, clipped to [tmin, tmax], and whether the
// ray overlaps the box in that interval.
func (r *ray) boxEntry(n *bvhNode, tmin, tmax float64) (float64, bool) {
	tmin, tmax = slab(n.lo.X, n.hi.X, r.o.X, r.inv.X, tmin, tmax)
	tmin, tmax = slab(n.lo.Y, n.hi.Y, r.o.Y, r.inv.Y, tmin, tmax)
	tmin, tmax = slab(n.lo.Z, n.hi.Z, r.o.Z, r.inv.Z, tmin, tmax)
	return tmin, tmin <= tmax
}

// slab clips [tmin, tmax] to the ray's interval inside one axis slab [lo, hi]. The comparisons
// are written out (not min/max) so that a NaN from 0·inv never poisons the interval.
func slab(lo, hi, o, inv, tmin, tmax float64) (float64, float64) {
	t0, t1 := (lo-o)*inv, (hi-o)*inv
	if t0 > t1 {
		t0, t1 = t1, t0
	}
	if t0 > tmin {
		tmin = t0
	}
	if t1 < tmax {
		tmax = t1
	}
	return tmin, tmax
}

// edgeTol widens the barycentric acceptance of the ray–triangle test by a relative 1e-12 so that a
// ray through the shared edge of two triangles cannot slip between them through rounding.
const edgeTol = 1e-12

// intersect is the Möller–Trumbore test: it returns the distance t along r to triangle tr when the
// ray crosses it with tmin < t < tmax.
func (r *ray) intersect(tr *triangle, tmin, tmax float64) (float64, bool) {
	// p = d × e2
	px := r.d.Y*tr.e2.Z - r.d.Z*tr.e2.Y
	py := r.d.Z*tr.e2.X - r.d.X*tr.e2.Z
	pz := r.d.X*tr.e2.Y - r.d.Y*tr.e2.X
	det := tr.e1.X*px + tr.e1.Y*py + tr.e1.Z*pz
	if det == 0 {
		return 0, false
	}
	inv := 1 / det
	sx, sy, sz := r.o.X-tr.v0.X, r.o.Y-tr.v0.Y, r.o.Z-tr.v0.Z
	u := (sx*px + sy*py + sz*pz) * inv
	if u < -edgeTol || u > 1+edgeTol {
		return 0, false
	}
	// q = s × e1
	qx := sy*tr.e1.Z - sz*tr.e1.Y
	qy := sz*tr.e1.X - sx*tr.e1.Z
	qz := sx*tr.e1.Y - sy*tr.e1.X
	v := (r.d.X*qx + r.d.Y*qy + r.d.Z*qz) * inv
	if v < -edgeTol || u+v > 1+edgeTol {
		return 0, false
	}
	t := (tr.e2.X*qx + tr.e2.Y*qy + tr.e2.Z*qz) * inv
	return t, t > tmin && t < tmax
}

// closest returns the BVH-order index of the nearest triangle hit by r with tmin < t < tmax,
// ignoring triangles of facets skipA and skipB (-1 for none), or -1.
func (b *bvh) closest(r *ray, tmin, tmax float64, skipA, skipB int32) (float64, int32) {
	if len(b.nodes) == 0 {
		return 0, -1
	}
	// The stack keeps each deferred node with its entry distance, so that a node the shrinking
	// tmax has excluded is dropped without testing its box again.
	var stack [maxStack]struct {
		node  int32
		entry float64
	}
	sp := 0
	hit := int32(-1)
	ni := int32(0)
	if _, ok := r.boxEntry(&b.nodes[0], tmin, tmax); !ok {
		return 0, -1
	}
	for {
		n := &b.nodes[ni]
		if n.count > 0 {
			end := n.next + n.count
			for i := n.next; i < end; i++ {
				tr := &b.tris[i]
				if tr.facet == skipA || tr.facet == skipB {
					continue
				}
				if t, ok := r.intersect(tr, tmin, tmax); ok {
					tmax, hit = t, i
				}
			}
		} else {
			a, c := ni+1, n.next
			ta, oka := r.boxEntry(&b.nodes[a], tmin, tmax)
			tc, okc := r.boxEntry(&b.nodes[c], tmin, tmax)
			switch {
			case oka && okc:
				if tc < ta {
					a, c, ta, tc = c, a, tc, ta
				}
				stack[sp].node, stack[sp].entry = c, tc
				sp++
				ni = a
				continue
			case oka:
				ni = a
				continue
			case okc:
				ni = c
				continue
			}
		}
		for {
			if sp == 0 {
				return tmax, hit
			}
			sp--
			if stack[sp].entry <= tmax {
				ni = stack[sp].node
				break
			}
		}
	}
}

// occluded reports whether any triangle, other than those of facets skipA and skipB, crosses r with
// tmin < t < tmax.
func (b *bvh) occluded(r *ray, tmin, tmax float64, skipA, skipB int32) bool {
	if len(b.nodes) == 0 {
		return false
	}
	var stack [maxStack]int32
	sp := 1 // stack[0] = 0, the root
	for sp > 0 {
		sp--
		ni := stack[sp]
		n := &b.nodes[ni]
		if _, ok := r.boxEntry(n, tmin, tmax); !ok {
			continue
		}
		if n.count == 0 {
			// Push the second child below the first so that the first is visited next.
			stack[sp] = n.next
			stack[sp+1] = ni + 1
			sp += 2
			continue
		}
		end := n.next + n.count
		for i := n.next; i < end; i++ {
			tr := &b.tris[i]
			if tr.facet == skipA || tr.facet == skipB {
				continue
			}
			if _, ok := r.intersect(tr, tmin, tmax); ok {
				return true
			}
		}
	}
	return false
}
