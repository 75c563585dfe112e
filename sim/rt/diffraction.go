package rt

import (
	"cmp"
	"math"
	"slices"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
	"github.com/cctrack/cctrack/sim/scene"
)

// First-order edge diffraction uses the uniform theory of diffraction (UTD) of Kouyoumjian and
// Pathak for a wedge, with Luebbers' heuristic reflection coefficients for lossy faces (see
// utdCoefficients). Wedges are mesh edges shared by exactly two triangles whose half-planes meet
// at an angle differing from a straight one by more than wedgeMinAngle. Free edges (one triangle)
// are left out: in the scenes this tracer serves they are the artificial borders of the ground
// plane and the open bottoms of extruded buildings, neither of which diffracts. An edge whose face
// continues in its own plane past the edge (a crease of a flat surface, such as a building floor
// lying in the ground plane) is left out too.
//
// For a wedge with edge A + s·e, 0 <= s < l, the diffraction point Q is the stationary point of
// |tx - Q| + |Q - rx| (Keller's law: the diffracted rays leave on the cone of the incident ray),
//
//	s_Q = (s_t rho_r + s_r rho_t) / (rho_t + rho_r),
//
// with s_t, rho_t the position of tx along the edge and its distance from the edge line (likewise for
// rx). Both legs must be unobstructed and tx and rx must lie in the exterior angle n·pi > pi of the
// wedge (the region not occupied by the solid, found as the one containing tx). With the field
// E = theta_hat(AoD) and edge-fixed unit vectors phi' = (e × s')/|e × s'|, beta' = phi' × s' for
// the incident direction s', phi = (e × s)/|e × s|, beta = phi × s for the diffracted direction s,
//
//	E_d = D_s (E·beta') beta + D_h (E·phi') phi,
//	A = lambda/(4 pi) · (1/s') · sqrt(s' / (s (s + s'))) · theta_hat(AoA)·E_d,
//
// s' = |Q - tx|, s = |rx - Q|, and the delay is (s + s')/c. With these vectors the diffracted field
// cancels the jump of the direct and reflected fields at their shadow boundaries (tested).
const wedgeMinAngle = 5 * math.Pi / 180

// wedge is a diffracting edge.
type wedge struct {
	a, e    geom.Vec3 // start and unit direction
	l       float64   // length
	t0      geom.Vec3 // unit vector in face 0, perpendicular to the edge, pointing into the face
	b       geom.Vec3 // e × t0: angles around the edge are atan2(v·b, v·t0)
	phiN    float64   // angle of face n from face 0, in (0, 2 pi)
	f0, fn  int32     // facets of the faces
	tr0, tr int32     // scene triangles of face 0 and face n (for their materials)
}

// angle returns the angle of p around the edge, measured from face 0 in [0, 2 pi).
func (w *wedge) angle(p geom.Vec3) float64 {
	v := p.Sub(w.a)
	a := math.Atan2(v.Dot(w.b), v.Dot(w.t0))
	if a < 0 {
		a += 2 * math.Pi
	}
	return a
}

// findWedges extracts the diffracting edges of the scene. Vertices are welded on a grid of 1e-6 of
// the scene size first, since meshes often repeat a vertex per face or per object.
func findWedges(sc *scene.Scene, t *Tracer) []wedge {
	q := 1e-6 * max(1, t.extent)
	type cell [3]int64
	weld := make(map[cell]int32)
	ids := make([]int32, len(sc.Vertices))
	for i, v := range sc.Vertices {
		c := cell{int64(math.Round(v.X / q)), int64(math.Round(v.Y / q)), int64(math.Round(v.Z / q))}
		id, ok := weld[c]
		if !ok {
			id = int32(i)
			weld[c] = id
		}
		ids[i] = id
	}
	type side struct{ bvhIdx, third int32 }
	edges := make(map[[2]int32][]side)
	var keys [][2]int32
	for bi := range t.bvh.tris {
		tv := sc.Triangles[t.bvh.tris[bi].id]
		for k := range 3 {
			a, b, c := ids[tv[k]], ids[tv[(k+1)%3]], ids[tv[(k+2)%3]]
			if a == b || b == c || a == c {
				continue
			}
			key := [2]int32{min(a, b), max(a, b)}
			if _, ok := edges[key]; !ok {
				keys = append(keys, key)
			}
			edges[key] = append(edges[key], side{int32(bi), c})
		}
	}
	// Map iteration order is random; build the list in a deterministic order.
	slices.SortFunc(keys, func(x, y [2]int32) int {
		if c := cmp.Compare(x[0], y[0]); c != 0 {
			return c
		}
		return cmp.Compare(x[1], y[1])
	})
	var out []wedge
	for _, key := range keys {
		s := edges[key]
		if len(s) != 2 {
			continue
		}
		t0, tn := &t.bvh.tris[s[0].bvhIdx], &t.bvh.tris[s[1].bvhIdx]
		if t0.facet == tn.facet {
			continue
		}
		a, b := sc.Vertices[key[0]], sc.Vertices[key[1]]
		ev := b.Sub(a)
		l := ev.Norm()
		e := ev.Scale(1 / l)
		inFace := func(third int32) geom.Vec3 {
			v := sc.Vertices[third].Sub(a)
			return v.AddScaled(-v.Dot(e), e).Unit()
		}
		w := wedge{a: a, e: e, l: l, t0: inFace(s[0].third), f0: t0.facet, fn: tn.facet, tr0: t0.id, tr: tn.id}
		w.b = e.Cross(w.t0)
		w.phiN = w.angle(a.Add(inFace(s[1].third)))
		if math.Abs(w.phiN-math.Pi) < wedgeMinAngle {
			continue // nearly flat: no edge to speak of
		}
		if t.continuesPast(&w, w.f0, w.t0) || t.continuesPast(&w, w.fn, inFace(s[1].third)) {
			continue
		}
		out = append(out, w)
	}
	return out
}

// continuesPast reports whether facet f, whose face leaves the edge in direction dir, also covers
// the edge's far side in its own plane (probed 1 mm, or 1e-3 of the edge, past the midpoint).
func (t *Tracer) continuesPast(w *wedge, f int32, dir geom.Vec3) bool {
	m := w.a.AddScaled(w.l/2, w.e)
	p := m.AddScaled(-min(1e-3, 1e-3*w.l), dir)
	fc := &t.facets[f]
	p = p.AddScaled(fc.d-fc.n.Dot(p), fc.n) // back onto the plane against rounding
	return t.locate(f, p) >= 0
}

// litWedge is a wedge as seen from the transmitter of one trace.
type litWedge struct {
	w *wedge
	// flip: angles are measured the other way round the edge (tx lies beyond face n). Face 0 stays
	// at angle 0 and E_d does not depend on the edge's orientation, so nothing else changes.
	flip   bool
	n      float64 // exterior angle / pi
	phiTx  float64 // angle of tx from face 0
	st     float64 // tx position along the edge
	rhoTx  float64 // distance of tx from the edge line
	r0, rn material.Surface
}

// litWedges returns the wedges whose exterior angle, seen from tx, exceeds pi.
func (t *Tracer) litWedges(tx geom.Vec3) []litWedge {
	var out []litWedge
	for i := range t.wedges {
		w := &t.wedges[i]
		v := tx.Sub(w.a)
		st := v.Dot(w.e)
		rho := v.AddScaled(-st, w.e).Norm()
		if rho <= t.eps(tx) {
			continue
		}
		phi := w.angle(tx)
		lw := litWedge{w: w, st: st, rhoTx: rho,
			r0: t.surfaces[t.faceSurf[w.tr0]], rn: t.surfaces[t.faceSurf[w.tr]]}
		beta := w.phiN
		if phi > w.phiN {
			lw.flip = true
			beta = 2*math.Pi - w.phiN
			phi = 2*math.Pi - phi
		}
		lw.n, lw.phiTx = beta/math.Pi, phi
		if lw.n <= 1+wedgeMinAngle/math.Pi || phi <= 0 || phi >= beta {
			continue // concave as seen from tx, or tx on a face plane
		}
		out = append(out, lw)
	}
	return out
}

// diffracted appends the first-order diffracted paths from tx to rx over the lit wedges.
func (w *rxWork) diffracted(tx, rx geom.Vec3, lit []litWedge) {
	t := w.t
	k := 2 * math.Pi / t.lambda
	for i := range lit {
		lw := &lit[i]
		wd := lw.w
		v := rx.Sub(wd.a)
		sr := v.Dot(wd.e)
		rhoR := v.AddScaled(-sr, wd.e).Norm()
		if rhoR <= t.eps(rx) {
			continue
		}
		sq := (lw.st*rhoR + sr*lw.rhoTx) / (lw.rhoTx + rhoR)
		if sq < 0 || sq >= wd.l {
			continue
		}
		phi := wd.angle(rx)
		if lw.flip {
			phi = 2*math.Pi - phi
		}
		if phi <= 0 || phi >= lw.n*math.Pi {
			continue // rx inside the solid's angle
		}
		q := wd.a.AddScaled(sq, wd.e)
		// Q lies on both faces' planes, which neither leg can cross again.
		if !t.clear(tx, q, wd.f0, wd.fn) || !t.clear(q, rx, wd.f0, wd.fn) {
			continue
		}
		w.keep(t.diffractedPath(tx, rx, q, lw, phi, k))
	}
}

// diffractedPath evaluates the UTD path through diffraction point q (see the package comment on
// wedgeMinAngle for the formulas).
func (t *Tracer) diffractedPath(tx, rx, q geom.Vec3, lw *litWedge, phi, k float64) Path {
	wd := lw.w
	si := q.Sub(tx)
	sp := si.Norm()
	si = si.Scale(1 / sp)
	sd := rx.Sub(q)
	s := sd.Norm()
	sd = sd.Scale(1 / s)
	sinB0 := wd.e.Cross(si).Norm()
	l := s * sp * sinB0 * sinB0 / (s + sp)
	// Luebbers: each face's coefficients at its own incidence, cos theta_i = sin(grazing)·sin beta0.
	n := lw.n
	r0s, r0h := lw.r0.Reflection(t.opt.Frequency, math.Abs(math.Sin(lw.phiTx)*sinB0))
	rns, rnh := lw.rn.Reflection(t.opt.Frequency, math.Abs(math.Sin(n*math.Pi-phi)*sinB0))
	ds, dh := utdCoefficients(n, lw.phiTx, phi, sinB0, k, l, r0s, rns, r0h, rnh)

	aodT, aodP := geom.Angles(si)
	aoaT, aoaP := geom.Angles(sd.Neg())
	e := geom.ThetaHat(aodT, aodP)
	phiI := wd.e.Cross(si).Unit()
	betaI := phiI.Cross(si)
	phiD := wd.e.Cross(sd).Unit()
	betaD := phiD.Cross(sd)
	ed := axpy2(ds*complex(e.Dot(betaI), 0), betaD, dh*complex(e.Dot(phiI), 0), phiD)
	amp := t.lambda / (4 * math.Pi) / sp * math.Sqrt(sp/(s*(s+sp)))
	return Path{
		Kind: Diffraction, Interactions: "D",
		Vertices: []geom.Vec3{q}, Faces: []int32{-1},
		A:        complex(amp, 0) * ed.dot(geom.ThetaHat(aoaT, aoaP)),
		Delay:    (sp + s) / material.C,
		AoDTheta: aodT, AoDPhi: aodP, AoATheta: aoaT, AoAPhi: aoaP,
	}
}
