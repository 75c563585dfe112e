package rt

import (
	"math"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
)

// solver computes exact specular paths for facet sequences with the image method. One solver
// serves one goroutine; its buffers are reused from path to path.
type solver struct {
	t    *Tracer
	img  []geom.Vec3 // img[j]: the transmitter mirrored across the first j planes
	pts  []geom.Vec3 // reflection points
	tris []int32     // scene triangle of each reflection point
}

func newSolver(t *Tracer) *solver {
	n := t.opt.MaxDepth + 1
	return &solver{t: t, img: make([]geom.Vec3, n), pts: make([]geom.Vec3, n), tris: make([]int32, n)}
}

// mirror reflects p across the plane n·x = d.
func mirror(p, n geom.Vec3, d float64) geom.Vec3 {
	return p.AddScaled(-2*(n.Dot(p)-d), n)
}

// reflect finds the specular path tx → seq[0] → … → seq[k-1] → rx. Images: I_0 = tx,
// I_j = mirror(I_{j-1}, plane seq[j-1]); back-solving from rx, reflection point P_j is where the
// segment from P_{j+1} (rx for the last) to I_{j+1} crosses plane seq[j]. The path is valid when
// every P_j lies on a triangle of its facet, the neighbours of every P_j lie strictly on the same
// side of its plane, and no triangle blocks any segment. On success s.pts[:k] and s.tris[:k] hold
// the vertices and triangles.
func (s *solver) reflect(tx, rx geom.Vec3, seq []int32) bool {
	t := s.t
	k := len(seq)
	s.img[0] = tx
	for j, f := range seq {
		if j > 0 && seq[j-1] == f {
			return false // two reflections on one plane in a row cannot happen
		}
		fc := &t.facets[f]
		s.img[j+1] = mirror(s.img[j], fc.n, fc.d)
	}
	// Back-solve from the receiver.
	target := rx
	for j := k - 1; j >= 0; j-- {
		fc := &t.facets[seq[j]]
		dt := fc.n.Dot(target) - fc.d
		di := fc.n.Dot(s.img[j+1]) - fc.d
		// target and image must be strictly on opposite sides of the plane.
		if dt*di >= 0 {
			return false
		}
		p := target.AddScaled(dt/(dt-di), s.img[j+1].Sub(target))
		tri := t.locate(seq[j], p)
		if tri < 0 {
			return false
		}
		s.pts[j], s.tris[j] = p, tri
		target = p
	}
	// Both neighbours of each reflection point on the same side of its plane, clear of it.
	for j := range k {
		fc := &t.facets[seq[j]]
		prev, next := tx, rx
		if j > 0 {
			prev = s.pts[j-1]
		}
		if j < k-1 {
			next = s.pts[j+1]
		}
		sp, sn := fc.n.Dot(prev)-fc.d, fc.n.Dot(next)-fc.d
		e := t.eps(s.pts[j])
		if sp*sn <= 0 || math.Abs(sp) <= e || math.Abs(sn) <= e {
			return false
		}
	}
	// Occlusion of every segment, excluding the planes the segment starts and ends on.
	if !t.clear(tx, s.pts[0], -1, seq[0]) || !t.clear(s.pts[k-1], rx, seq[k-1], -1) {
		return false
	}
	for j := 0; j+1 < k; j++ {
		if !t.clear(s.pts[j], s.pts[j+1], seq[j], seq[j+1]) {
			return false
		}
	}
	return true
}

// cvec is a complex 3-vector (a field polarisation).
type cvec struct{ x, y, z complex128 }

func (e cvec) dot(v geom.Vec3) complex128 {
	return e.x*complex(v.X, 0) + e.y*complex(v.Y, 0) + e.z*complex(v.Z, 0)
}

// axpy2 returns a·u + b·v.
func axpy2(a complex128, u geom.Vec3, b complex128, v geom.Vec3) cvec {
	return cvec{
		a*complex(u.X, 0) + b*complex(v.X, 0),
		a*complex(u.Y, 0) + b*complex(v.Y, 0),
		a*complex(u.Z, 0) + b*complex(v.Z, 0),
	}
}

// perpendicular returns a unit vector perpendicular to unit vector k.
func perpendicular(k geom.Vec3) geom.Vec3 {
	a := geom.V(1, 0, 0)
	if math.Abs(k.X) > 0.5 {
		a = geom.V(0, 1, 0)
	}
	return k.Cross(a).Unit()
}

// reflectedPath fills a Path for the specular path through pts (reflections on triangles tris of
// facets seq). The field starts as theta_hat(AoD) at the transmitter (a vertically polarised
// isotropic antenna); at each reflection, with incident and reflected directions k_i, k_r and
// facet normal n,
//
//	e_perp = (k_i × n)/|k_i × n|,  e_par_i = e_perp × k_i,  e_par_r = e_perp × k_r,
//	E_r = r_TE (E·e_perp) e_perp + r_TM (E·e_par_i) e_par_r
//
// with (r_TE, r_TM) the surface's coefficients at |cos theta_i| = |k_i·n|. At the receiver the field
// is projected on theta_hat(AoA), so that
//
//	A = lambda/(4 pi d) · theta_hat(AoA)·E,  d = total path length.
func (t *Tracer) reflectedPath(tx, rx geom.Vec3, pts []geom.Vec3, tris, seq []int32) Path {
	k := len(pts)
	aodT, aodP := geom.Angles(pts[0].Sub(tx))
	aoaT, aoaP := geom.Angles(pts[k-1].Sub(rx))
	th := geom.ThetaHat(aodT, aodP)
	e := cvec{complex(th.X, 0), complex(th.Y, 0), complex(th.Z, 0)}
	d := 0.0
	ki := pts[0].Sub(tx)
	d += ki.Norm()
	ki = ki.Unit()
	for j := range k {
		next := rx
		if j+1 < k {
			next = pts[j+1]
		}
		kr := next.Sub(pts[j])
		seg := kr.Norm()
		kr = kr.Scale(1 / seg)
		n := t.facets[seq[j]].n
		cos := math.Abs(ki.Dot(n))
		rTE, rTM := t.surfaces[t.faceSurf[tris[j]]].Reflection(t.opt.Frequency, cos)
		ePerp := ki.Cross(n)
		if ePerp.Norm() < 1e-9 {
			ePerp = perpendicular(ki) // normal incidence: every perpendicular is a TE direction
		} else {
			ePerp = ePerp.Unit()
		}
		eParI, eParR := ePerp.Cross(ki), ePerp.Cross(kr)
		e = axpy2(rTE*e.dot(ePerp), ePerp, rTM*e.dot(eParI), eParR)
		d += seg
		ki = kr
	}
	a := complex(t.lambda/(4*math.Pi*d), 0) * e.dot(geom.ThetaHat(aoaT, aoaP))
	return Path{
		Kind: Reflection, A: a, Delay: d / material.C,
		AoDTheta: aodT, AoDPhi: aodP, AoATheta: aoaT, AoAPhi: aoaP,
	}
}
