package rt

import (
	"errors"
	"fmt"
	"math"
	"runtime"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
	"github.com/cctrack/cctrack/sim/scene"
)

// Options configures a Tracer.
type Options struct {
	Frequency   float64 // Hz, default 3.5e9 when 0
	MaxDepth    int     // max number of specular reflections (0 = LoS only); callers pass the default 3 explicitly
	Diffraction bool    // first-order edge diffraction, off by default
	Rays        int     // SBR rays launched from the transmitter for candidate search; 0 = DefaultRays
	Workers     int     // goroutines; 0 = runtime.GOMAXPROCS(0)
}

// DefaultFrequency is the carrier used when Options.Frequency is 0.
const DefaultFrequency = 3.5e9

// DefaultRays is the number of SBR rays when Options.Rays is 0: a Fibonacci sphere of 2^20 rays
// has a mean angular spacing sqrt(4 pi / N) = 0.2 degrees, slightly denser than the 0.25 degrees
// of the Wireless InSite reference study, so that the candidate search does not miss paths such a
// study finds.
const DefaultRays = 1 << 20

// epsRel is the relative distance tolerance of the tracer: a point with coordinates of magnitude M
// is known to about 1e-16·M after a few operations, and 1e-9·M (1 µm at 1 km) is far above that
// rounding yet far below any geometric feature of a radio scene.
const epsRel = 1e-9

// Tracer traces paths through one scene. It is immutable after New and safe for concurrent use.
//
// Geometry: a BVH over the triangles (binned SAH, flattened depth-first nodes, precomputed edges,
// Möller–Trumbore tests with closest-hit and any-hit traversal) and planar facets, the groups of
// coplanar triangles that reflections are computed on. A trace has two parallel phases:
//
//  1. candidate search (sbr.go): rays shot from the transmitter bounce specularly and offer the
//     facet sequences they follow to the receivers near their segments;
//  2. per receiver: the direct path, then every candidate sequence solved exactly with the image
//     method and validated (image.go), then the diffracted paths (diffraction.go); paths are
//     sorted and duplicates dropped.
//
// Surfaces are two-sided: a facet reflects from either side, with its triangle's material.
// Segments are tested for occlusion with the facets at their ends excluded (a segment cannot cross
// the plane it starts or ends on) and a relative tolerance epsRel at both ends.
type Tracer struct {
	opt      Options
	lambda   float64
	bvh      *bvh
	facets   []facet
	surfaces []material.Surface // indexed by scene surface
	faceSurf []int32            // scene triangle → surface
	extent   float64            // diagonal of the scene's bounding box
	wedges   []wedge            // diffracting edges, when Options.Diffraction

	// exhaustive replaces the SBR candidate search with all facet sequences up to MaxDepth; it
	// exists as the ground truth of tests on tiny scenes.
	exhaustive bool
	// safety overrides rxSafety when positive (tests calibrate the default with it).
	safety float64
}

// New validates the scene and options, then builds the BVH, the planar facets and (with
// Options.Diffraction) the wedge list. Triangles of zero area are left out: they can neither block
// nor reflect a ray.
func New(sc *scene.Scene, opt Options) (*Tracer, error) {
	if sc == nil {
		return nil, errors.New("rt.New: nil scene")
	}
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("rt.New: %w", err)
	}
	if opt.Frequency == 0 {
		opt.Frequency = DefaultFrequency
	}
	switch {
	case !(opt.Frequency > 0) || math.IsInf(opt.Frequency, 0):
		return nil, fmt.Errorf("rt.New: frequency %g Hz is not a positive finite number", opt.Frequency)
	case opt.MaxDepth < 0:
		return nil, fmt.Errorf("rt.New: negative MaxDepth %d", opt.MaxDepth)
	case opt.Rays < 0:
		return nil, fmt.Errorf("rt.New: negative Rays %d", opt.Rays)
	case opt.Workers < 0:
		return nil, fmt.Errorf("rt.New: negative Workers %d", opt.Workers)
	}
	if opt.Rays == 0 {
		opt.Rays = DefaultRays
	}
	if opt.Workers == 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	t := &Tracer{opt: opt, lambda: material.C / opt.Frequency, faceSurf: sc.FaceSurface}
	if len(sc.Vertices) > 0 {
		lo, hi := sc.Bounds()
		t.extent = hi.Dist(lo)
	}
	for _, s := range sc.Surfaces {
		t.surfaces = append(t.surfaces, s.Surface)
	}
	tris := make([]triangle, 0, len(sc.Triangles))
	for i, tv := range sc.Triangles {
		v0, v1, v2 := sc.Vertices[tv[0]], sc.Vertices[tv[1]], sc.Vertices[tv[2]]
		e1, e2 := v1.Sub(v0), v2.Sub(v0)
		// Collinear vertices (relative to the edge lengths) leave the normal undefined.
		if a := e1.Cross(e2).Norm(); !(a > 1e-12*e1.Norm()*e2.Norm()) {
			continue
		}
		tris = append(tris, triangle{v0: v0, e1: e1, e2: e2, id: int32(i)})
	}
	t.bvh = buildBVH(tris)
	t.facets = buildFacets(t.bvh.tris, t.extent)
	if opt.Diffraction {
		t.wedges = findWedges(sc, t)
	}
	return t, nil
}

// Options returns the options in effect (defaults filled in).
func (t *Tracer) Options() Options { return t.opt }

// eps is the distance tolerance around point p (see epsRel).
func (t *Tracer) eps(p geom.Vec3) float64 {
	m := max(1, math.Abs(p.X), math.Abs(p.Y), math.Abs(p.Z))
	return epsRel * m
}

// Visible reports whether no triangle lies strictly between a and b: hits closer than the
// relative tolerance to either end are ignored, so points on a surface count as visible from its
// front and back alike.
func (t *Tracer) Visible(a, b geom.Vec3) bool {
	return t.clear(a, b, -1, -1)
}

// clear is Visible with the triangles of facets fa and fb (the facets a and b lie on, or -1)
// excluded: a segment that starts or ends on a plane cannot cross that plane in between.
func (t *Tracer) clear(a, b geom.Vec3, fa, fb int32) bool {
	v := b.Sub(a)
	l := v.Norm()
	ea, eb := t.eps(a), t.eps(b)
	if l <= ea+eb {
		return true
	}
	r := newRay(a, v.Scale(1/l))
	return !t.bvh.occluded(&r, ea, l-eb, fa, fb)
}

// Hit returns the closest triangle (its scene index) hit by the ray origin + s·dir with
// eps < s < tmax, where dir must be a unit vector and eps is the relative tolerance around origin
// (which keeps a ray leaving a surface from hitting it again).
func (t *Tracer) Hit(origin, dir geom.Vec3, tmax float64) (dist float64, tri int32, ok bool) {
	r := newRay(origin, dir)
	d, i := t.bvh.closest(&r, t.eps(origin), tmax, -1, -1)
	if i < 0 {
		return 0, -1, false
	}
	return d, t.bvh.tris[i].id, true
}
