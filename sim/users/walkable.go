package users

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/cctrack/cctrack/sim/geom"
)

// maxLattice bounds the lattice size (16 bytes a point) so that a mistaken step fails fast instead of
// exhausting memory.
const maxLattice = 1 << 24

// Walkable is the outdoor space of a scene at user height, as a square lattice of spacing step over
// the xy bounds given to NewWalkable, with its points joined to their 8 neighbours (axis and diagonal
// moves) wherever the straight way between them is clear. It is immutable, so concurrent Random calls
// are safe when the segmentClear predicate given to NewWalkable is.
type Walkable struct {
	origin geom.Vec3 // lattice point (0, 0), at user height
	step   float64
	nx, ny int
	walk   []bool  // outdoor(p) at lattice point iy·nx + ix
	conn   []uint8 // bit k: clear edge to the neighbour in direction k (see offset)
	// run[k][i] counts the clear consecutive moves from point i in direction k (capped at 65535).
	run [8][]uint16
	// starts are the points of the largest connected part, where random walks begin.
	starts []int32
	clear  func(a, b geom.Vec3) bool
}

// offset is the lattice step of direction k = 0…7, counter-clockwise from +x by k·45°.
func offset(k int) (dx, dy int) {
	return [8]int{1, 1, 0, -1, -1, -1, 0, 1}[k], [8]int{0, 1, 1, 1, 0, -1, -1, -1}[k]
}

// NewWalkable samples outdoor at the lattice points lo + (i·step, j·step) covering the xy rectangle
// [lo.X, hi.X] x [lo.Y, hi.Y] at z = height (lo.Z and hi.Z are ignored), and joins neighbouring
// outdoor points (axis and diagonal neighbours) when segmentClear holds between them.
//
// The caller wires the predicates to its scene: with the ray tracer, outdoor(p) is "a vertical ray up
// from p hits nothing" (which also rejects points inside buildings) and segmentClear(a, b) is
// "a sees b". A step of about 1 m resolves pavements and alleys of a city; the lattice costs one
// outdoor call per point and up to four segmentClear calls per outdoor point, once.
func NewWalkable(ctx context.Context, lo, hi geom.Vec3, step, height float64, outdoor func(geom.Vec3) bool, segmentClear func(a, b geom.Vec3) bool) (*Walkable, error) {
	switch {
	case !geom.Finite(step) || step <= 0:
		return nil, fmt.Errorf("walkable: step = %g m, want > 0", step)
	case !geom.Finite(lo.X, lo.Y, hi.X, hi.Y, height) || hi.X < lo.X || hi.Y < lo.Y:
		return nil, fmt.Errorf("walkable: bounds %v–%v at height %g are not a finite rectangle", lo, hi, height)
	case outdoor == nil || segmentClear == nil:
		return nil, fmt.Errorf("walkable: nil outdoor or segmentClear predicate")
	}
	// The 1e-9 keeps a bound that is a whole number of steps away on the lattice despite rounding.
	nxf, nyf := math.Floor((hi.X-lo.X)/step+1e-9)+1, math.Floor((hi.Y-lo.Y)/step+1e-9)+1
	if nxf*nyf > maxLattice {
		return nil, fmt.Errorf("walkable: %gx%g lattice of step %g m exceeds %d points; use a larger step", nxf, nyf, step, maxLattice)
	}
	w := &Walkable{origin: geom.V(lo.X, lo.Y, height), step: step, nx: int(nxf), ny: int(nyf), clear: segmentClear}
	n := w.nx * w.ny
	w.walk = make([]bool, n)
	w.conn = make([]uint8, n)
	for i := range n {
		// A lattice can take millions of ray casts: let the caller stop it.
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("walkable: %w", ctx.Err())
		}
		w.walk[i] = outdoor(w.pos(int32(i)))
	}
	// Directions 0–3 reach every neighbour pair once; the reverse edge is direction k+4.
	for i := range n {
		if !w.walk[i] {
			continue
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("walkable: %w", ctx.Err())
		}
		ix, iy := i%w.nx, i/w.nx
		for k := range 4 {
			dx, dy := offset(k)
			jx, jy := ix+dx, iy+dy
			if jx < 0 || jx >= w.nx || jy >= w.ny {
				continue
			}
			j := jy*w.nx + jx
			if w.walk[j] && segmentClear(w.pos(int32(i)), w.pos(int32(j))) {
				w.conn[i] |= 1 << k
				w.conn[j] |= 1 << (k + 4)
			}
		}
	}
	w.runs()
	w.starts = w.largestPart()
	if len(w.starts) < 2 {
		return nil, fmt.Errorf("walkable: no two neighbouring points of the %dx%d lattice over %v–%v at height %g are outdoor and joined",
			w.nx, w.ny, lo, hi, height)
	}
	return w, nil
}

// runs fills run[k] by dynamic programming, run[k][i] = 1 + run[k][i+d_k] along each clear edge,
// visiting each point after its neighbour in direction k.
func (w *Walkable) runs() {
	n := w.nx * w.ny
	for k := range 8 {
		dx, dy := offset(k)
		r := make([]uint16, n)
		for a := range w.ny {
			iy := a
			if dy > 0 {
				iy = w.ny - 1 - a
			}
			for b := range w.nx {
				ix := b
				if dx > 0 {
					ix = w.nx - 1 - b
				}
				i := iy*w.nx + ix
				if w.conn[i]&(1<<k) != 0 {
					r[i] = 1 + min(r[(iy+dy)*w.nx+ix+dx], math.MaxUint16-1)
				}
			}
		}
		w.run[k] = r
	}
}

// largestPart returns the points of the largest set joined by edges, ascending.
func (w *Walkable) largestPart() []int32 {
	n := w.nx * w.ny
	seen := make([]bool, n)
	var best, part, queue []int32
	for i := range n {
		if seen[i] || w.conn[i] == 0 {
			continue
		}
		seen[i] = true
		part, queue = part[:0], append(queue[:0], int32(i))
		for len(queue) > 0 {
			p := queue[len(queue)-1]
			queue = queue[:len(queue)-1]
			part = append(part, p)
			for k := range 8 {
				if w.conn[p]&(1<<k) != 0 {
					if q := w.next(p, k); !seen[q] {
						seen[q] = true
						queue = append(queue, q)
					}
				}
			}
		}
		if len(part) > len(best) {
			best = append(best[:0], part...)
		}
	}
	slices.Sort(best)
	return best
}

// pos is the position of lattice point i.
func (w *Walkable) pos(i int32) geom.Vec3 {
	ix, iy := int(i)%w.nx, int(i)/w.nx
	return w.origin.Add(geom.V(float64(ix)*w.step, float64(iy)*w.step, 0))
}

// next is the neighbour of point i in direction k; the caller knows it is on the lattice.
func (w *Walkable) next(i int32, k int) int32 {
	dx, dy := offset(k)
	return i + int32(dy*w.nx+dx)
}

// moveLen is the length of one move in direction k: step, or step·√2 diagonally.
func (w *Walkable) moveLen(k int) float64 {
	if k%2 == 1 {
		return w.step * math.Sqrt2
	}
	return w.step
}

// unit is the unit vector of direction k.
func unit(k int) geom.Vec3 {
	dx, dy := offset(k)
	return geom.V(float64(dx), float64(dy), 0).Unit()
}

// Contains reports whether p lies in the square cell (side step, centred) of an outdoor lattice
// point: |p.X - x| <= step/2 and |p.Y - y| <= step/2 for some walkable lattice point (x, y), so the
// cells of walkable points tile walkable space. p.Z is not looked at.
func (w *Walkable) Contains(p geom.Vec3) bool {
	// Cell borders belong to both cells; 1e-9 of a step absorbs rounding of points computed on them.
	const half = 0.5 + 1e-9
	fx, fy := (p.X-w.origin.X)/w.step, (p.Y-w.origin.Y)/w.step
	for iy := max(0, int(math.Ceil(fy-half))); iy <= min(w.ny-1, int(math.Floor(fy+half))); iy++ {
		for ix := max(0, int(math.Ceil(fx-half))); ix <= min(w.nx-1, int(math.Floor(fx+half))); ix++ {
			if w.walk[iy*w.nx+ix] {
				return true
			}
		}
	}
	return false
}

// arcClear reports whether a horizontal corner arc stays in walkable space: every stretch of it
// between two crossings of cell borders (lines x or y = lattice coordinate + step/2) lies in a walkable
// cell, and its chords over at most pi/16 each are clear. Between the chords the arc bulges out by at
// most r·(1 - cos(pi/32)) < 0.005 r, which the segmentClear test does not see.
func (w *Walkable) arcClear(a *piece) bool {
	theta := a.length / a.r
	cuts := []float64{0, theta}
	// Along each axis the arc is centre + r·cos(phi - alpha): e1 and u are orthonormal in the xy plane.
	for axis := range 2 {
		c, e, u, o := a.centre.X, a.e1.X, a.u.X, w.origin.X
		if axis == 1 {
			c, e, u, o = a.centre.Y, a.e1.Y, a.u.Y, w.origin.Y
		}
		alpha := math.Atan2(u, e)
		for i := math.Ceil((c-a.r-o)/w.step - 0.5); i <= math.Floor((c+a.r-o)/w.step-0.5); i++ {
			beta := math.Acos(math.Max(-1, math.Min(1, (o+(i+0.5)*w.step-c)/a.r)))
			for _, phi := range []float64{alpha + beta, alpha - beta} {
				phi = math.Mod(phi, 2*math.Pi)
				if phi < 0 {
					phi += 2 * math.Pi
				}
				if phi < theta {
					cuts = append(cuts, phi)
				}
			}
		}
	}
	slices.Sort(cuts)
	for i := 1; i < len(cuts); i++ {
		if !w.Contains(a.at(a.r * (cuts[i-1] + cuts[i]) / 2)) {
			return false
		}
	}
	m := math.Ceil(theta / (math.Pi / 16))
	prev := a.start
	for j := 1.0; j <= m; j++ {
		p := a.at(a.length * j / m)
		if !w.clear(prev, p) {
			return false
		}
		prev = p
	}
	return true
}
