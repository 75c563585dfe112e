package rt

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
)

// Trace computes the paths from the transmitter at tx to every receiver: the line-of-sight path
// when Visible(tx, rx), the specular paths of up to MaxDepth reflections, and with
// Options.Diffraction the first-order diffracted paths (UTD, see wedgeMinAngle in diffraction.go). It returns one slice per receiver, in the
// order of rx, each sorted by delay (ties broken by interactions, faces and vertices, so that the
// output does not depend on Workers). Paths are found in two parallel phases: the SBR candidate
// search from the transmitter (see rxSafety), then exact image-method solving per receiver.
//
// progress, when not nil, is called with the number of receivers finished so far; calls are
// serialised (never concurrent) and the count increases from call to call. A cancelled ctx stops
// the work and returns ctx.Err().
func (t *Tracer) Trace(ctx context.Context, tx geom.Vec3, rx []geom.Vec3, progress func(done int)) ([][]Path, error) {
	if !tx.Finite() {
		return nil, fmt.Errorf("rt.Trace: transmitter position %v is not finite", tx)
	}
	for i, p := range rx {
		if !p.Finite() {
			return nil, fmt.Errorf("rt.Trace: receiver %d position %v is not finite", i, p)
		}
	}
	out := make([][]Path, len(rx))
	if len(rx) == 0 {
		return out, nil
	}
	var cands *candidates
	if t.opt.MaxDepth > 0 && !t.exhaustive {
		var err error
		if cands, err = t.sbrCandidates(ctx, tx, rx); err != nil {
			return nil, fmt.Errorf("rt.Trace: candidate search: %w", err)
		}
	}
	var lit []litWedge
	if t.opt.Diffraction {
		lit = t.litWedges(tx)
	}
	var next atomic.Int64
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for range min(t.opt.Workers, len(rx)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newRxWork(t)
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(rx) {
					return
				}
				out[i] = w.receiver(tx, rx[i], cands, i, lit)
				if progress != nil {
					mu.Lock()
					done++
					progress(done)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("rt.Trace: %w", err)
	}
	return out, nil
}

// rxWork is the per-goroutine state of the receiver phase.
type rxWork struct {
	t     *Tracer
	s     *solver
	seq   []int32
	paths []Path
	verts []geom.Vec3
	faces []int32
	rs    []string // rs[k] = k reflections ("R"…)
}

func newRxWork(t *Tracer) *rxWork {
	w := &rxWork{t: t, s: newSolver(t), seq: make([]int32, t.opt.MaxDepth)}
	for k := range t.opt.MaxDepth + 1 {
		w.rs = append(w.rs, strings.Repeat("R", k))
	}
	return w
}

// receiver traces all paths to one receiver.
func (w *rxWork) receiver(tx, rx geom.Vec3, c *candidates, i int, lit []litWedge) []Path {
	t := w.t
	w.paths, w.verts, w.faces = w.paths[:0], w.verts[:0], w.faces[:0]
	if d := rx.Dist(tx); d > t.eps(tx)+t.eps(rx) && t.Visible(tx, rx) {
		w.paths = append(w.paths, t.losPath(tx, rx))
	}
	switch {
	case t.opt.MaxDepth == 0:
	case t.exhaustive:
		for k := 1; k <= t.opt.MaxDepth; k++ {
			w.enumerate(tx, rx, w.seq[:k], 0)
		}
	default:
		ids := c.seqs[c.start[i]:c.start[i+1]]
		slices.Sort(ids)
		ids = slices.Compact(ids)
		for _, id := range ids {
			w.try(tx, rx, c.sequence(id, w.seq))
		}
	}
	w.diffracted(tx, rx, lit)
	return w.finish()
}

// enumerate tries every facet sequence that extends seq[:j] to len(seq) without repeating a facet
// twice in a row.
func (w *rxWork) enumerate(tx, rx geom.Vec3, seq []int32, j int) {
	if j == len(seq) {
		w.try(tx, rx, seq)
		return
	}
	for f := range int32(len(w.t.facets)) {
		if j > 0 && seq[j-1] == f {
			continue
		}
		seq[j] = f
		w.enumerate(tx, rx, seq, j+1)
	}
}

// try solves one facet sequence and keeps the path when valid.
func (w *rxWork) try(tx, rx geom.Vec3, seq []int32) {
	if !w.s.reflect(tx, rx, seq) {
		return
	}
	k := len(seq)
	p := w.t.reflectedPath(tx, rx, w.s.pts[:k], w.s.tris[:k], seq)
	p.Interactions = w.rs[k]
	p.Vertices, p.Faces = w.s.pts[:k], w.s.tris[:k]
	w.keep(p)
}

// keep appends p, copying its vertices and faces into the worker's scratch arrays (they may live in
// solver buffers that the next candidate overwrites). A path that carries no field (a reflection
// off vacuum, a lossless surface exactly at its Brewster angle) is no path: it is dropped, so that
// every path has a finite power in dB.
func (w *rxWork) keep(p Path) {
	if p.A == 0 {
		return
	}
	w.verts = append(w.verts, p.Vertices...)
	w.faces = append(w.faces, p.Faces...)
	w.paths = append(w.paths, p)
}

// finish sorts the receiver's paths, drops duplicates, and copies them into fresh storage that
// the caller owns.
func (w *rxWork) finish() []Path {
	if len(w.paths) == 0 {
		return nil
	}
	// Point every path at its copy in the scratch arrays (appended in path order).
	vo, fo := 0, 0
	for i := range w.paths {
		p := &w.paths[i]
		nv, nf := len(p.Vertices), len(p.Faces)
		p.Vertices = w.verts[vo : vo+nv : vo+nv]
		p.Faces = w.faces[fo : fo+nf : fo+nf]
		vo, fo = vo+nv, fo+nf
	}
	slices.SortFunc(w.paths, comparePaths)
	kept := w.paths[:0]
	for _, p := range w.paths {
		if !w.duplicate(kept, &p) {
			kept = append(kept, p)
		}
	}
	// One allocation each for the paths, their vertices and their faces.
	nv, nf := 0, 0
	for _, p := range kept {
		nv, nf = nv+len(p.Vertices), nf+len(p.Faces)
	}
	out := make([]Path, len(kept))
	verts := make([]geom.Vec3, nv)
	faces := make([]int32, nf)
	for i, p := range kept {
		if len(p.Vertices) > 0 {
			n := copy(verts, p.Vertices)
			p.Vertices, verts = verts[:n:n], verts[n:]
			n = copy(faces, p.Faces)
			p.Faces, faces = faces[:n:n], faces[n:]
		} else {
			p.Vertices, p.Faces = nil, nil
		}
		out[i] = p
	}
	return out
}

// duplicate reports whether p repeats a kept path: same interactions and vertices within the
// tolerance (kept is sorted by delay, so only its tail can match).
func (w *rxWork) duplicate(kept []Path, p *Path) bool {
	for i := len(kept) - 1; i >= 0; i-- {
		q := &kept[i]
		if p.Delay-q.Delay > 1e-12*p.Delay {
			return false
		}
		if q.Interactions != p.Interactions || len(q.Vertices) != len(p.Vertices) {
			continue
		}
		same := true
		for j := range p.Vertices {
			if p.Vertices[j].Dist(q.Vertices[j]) > w.t.eps(p.Vertices[j]) {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}

// comparePaths orders by delay, then interactions, faces and vertices.
func comparePaths(a, b Path) int {
	if c := cmp.Compare(a.Delay, b.Delay); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Interactions, b.Interactions); c != 0 {
		return c
	}
	if c := slices.Compare(a.Faces, b.Faces); c != 0 {
		return c
	}
	return slices.CompareFunc(a.Vertices, b.Vertices, func(u, v geom.Vec3) int {
		if c := cmp.Compare(u.X, v.X); c != 0 {
			return c
		}
		if c := cmp.Compare(u.Y, v.Y); c != 0 {
			return c
		}
		return cmp.Compare(u.Z, v.Z)
	})
}

// losPath is the direct path: A = lambda/(4 pi d) · theta_hat(AoA)·theta_hat(AoD), which equals
// lambda/(4 pi d) because the two unit vectors coincide for opposite directions.
func (t *Tracer) losPath(tx, rx geom.Vec3) Path {
	v := rx.Sub(tx)
	d := v.Norm()
	aodT, aodP := geom.Angles(v)
	aoaT, aoaP := geom.Angles(v.Neg())
	pol := geom.ThetaHat(aoaT, aoaP).Dot(geom.ThetaHat(aodT, aodP))
	return Path{
		Kind: LoS, A: complex(t.lambda/(4*math.Pi*d)*pol, 0), Delay: d / material.C,
		AoDTheta: aodT, AoDPhi: aodP, AoATheta: aoaT, AoAPhi: aoaP,
	}
}
