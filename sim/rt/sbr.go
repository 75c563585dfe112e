package rt

import (
	"context"
	"math"
	"sync"
	"sync/atomic"

	"github.com/cctrack/cctrack/sim/geom"
)

// The candidate search shoots opt.Rays rays from the transmitter in Fibonacci-sphere directions
// and bounces each specularly up to MaxDepth times. Every segment after the k-th bounce offers the
// facet sequence of its k reflections to the receivers inside its reception sphere: a receiver at
// distance rho from the segment, whose closest point lies an unfolded distance L from the
// transmitter, is a candidate when
//
//	rho <= kappa·L,   kappa = rxSafety · sqrt(4 pi / N),
//
// sqrt(4 pi / N) being the mean angular spacing of N rays. Mirror reflections keep a ray tube's
// angular width, so the nearest ray of a bundle passes within about 0.6·sqrt(4 pi/N)·L of any
// point the bundle covers; rxSafety adds margin for bundles that facet edges cut down. Candidates
// are only candidates: the image method recomputes each path exactly and validates it, so a
// generous sphere costs time, never accuracy. Calibration on the InSite Chicago scene (three
// transmitters, 4480 receivers, 3 reflections, 18k paths), against a 4M-ray search with safety 4:
// with the default 1M rays, safety 1.0 / 1.5 / 2.0 missed 41 / 13 / 6 paths, all third-order
// slivers (a wall hit below 1 m height, then the ground), for 1.97 / 2.04 / 2.12 s of CPU time
// (the three traces together): ray shooting dominates, the sphere's size hardly matters.
const rxSafety = 2.0

// maxKappa bounds the reception factor for which gather clips segments to the receivers' box (its
// bound R0 = kappa (l0 + far)/(1 - kappa) needs kappa < 1); fewer than about 80 rays exceed it.
const maxKappa = 0.5

// sbrBatch is the number of rays a worker takes at a time.
const sbrBatch = 2048

// trieNode is a facet sequence stored as a trie: the sequence of node i is that of parent followed
// by facet.
type trieNode struct {
	parent int32 // -1 for a sequence of length 1
	facet  int32
	depth  int32
}

// candidates lists, for every receiver, the trie nodes (facet sequences) offered by the rays.
type candidates struct {
	nodes []trieNode
	start []int32 // receiver i owns seqs[start[i]:start[i+1]]
	seqs  []int32
}

// sequence writes the facet sequence of node into buf and returns it.
func (c *candidates) sequence(node int32, buf []int32) []int32 {
	n := int(c.nodes[node].depth)
	buf = buf[:n]
	for i := n - 1; i >= 0; i-- {
		buf[i] = c.nodes[node].facet
		node = c.nodes[node].parent
	}
	return buf
}

// fibonacci returns direction i of an n-point Fibonacci sphere: z = 1 - (2i+1)/n, azimuth
// i·pi·(3 - sqrt 5).
func fibonacci(i, n int) geom.Vec3 {
	z := 1 - (2*float64(i)+1)/float64(n)
	r := math.Sqrt(max(0, 1-z*z))
	a := float64(i) * goldenAngle
	s, c := math.Sincos(a - 2*math.Pi*math.Floor(a/(2*math.Pi)))
	return geom.V(r*c, r*s, z)
}

var goldenAngle = math.Pi * (3 - math.Sqrt(5))

// rxGrid is a uniform grid over the receivers' bounding box, receivers stored cell by cell.
type rxGrid struct {
	lo, hi geom.Vec3
	h      [3]float64 // cell size per axis
	inv    [3]float64 // 1/h
	n      [3]int     // cells per axis
	start  []int32    // cell c holds pos/ids[start[c]:start[c+1]]
	pos    []geom.Vec3
	ids    []int32
}

// newRxGrid sizes cells for about one receiver per cell over the dimensions the receivers span:
// a flat grid of users gets a single layer of cells, a line of users a single row.
func newRxGrid(rx []geom.Vec3) *rxGrid {
	g := &rxGrid{lo: rx[0], hi: rx[0]}
	for _, p := range rx {
		g.lo, g.hi = geom.Min(g.lo, p), geom.Max(g.hi, p)
	}
	ext := g.hi.Sub(g.lo)
	e := [3]float64{ext.X, ext.Y, ext.Z}
	span := max(e[0], e[1], e[2])
	n := float64(len(rx))
	// Drop dimensions thinner than the cell size, thinnest first, until the size is consistent.
	active := [3]bool{}
	for a := range 3 {
		active[a] = e[a] > 1e-9*span
	}
	h := span
	for range 3 {
		vol, k := 1.0, 0
		thin, thinA := math.Inf(1), -1
		for a := range 3 {
			if active[a] {
				vol *= e[a]
				k++
				if e[a] < thin {
					thin, thinA = e[a], a
				}
			}
		}
		if k == 0 {
			break
		}
		h = math.Pow(vol/n, 1/float64(k))
		if thin >= h || k == 1 {
			break
		}
		active[thinA] = false
	}
	if !(h > 0) {
		h = 1
	}
	total := 1
	for a := range 3 {
		g.n[a] = 1
		g.h[a] = max(e[a], h)
		if active[a] {
			g.n[a] = min(max(1, int(math.Ceil(e[a]/h))), 4096)
			g.h[a] = e[a] / float64(g.n[a])
		}
		g.inv[a] = 1 / g.h[a]
		total *= g.n[a]
	}
	g.start = make([]int32, total+1)
	cell := make([]int32, len(rx))
	for i, p := range rx {
		c := g.cellOf(p)
		cell[i] = int32(c)
		g.start[c+1]++
	}
	for c := range total {
		g.start[c+1] += g.start[c]
	}
	fill := make([]int32, total)
	copy(fill, g.start[:total])
	g.pos = make([]geom.Vec3, len(rx))
	g.ids = make([]int32, len(rx))
	for i, p := range rx {
		c := cell[i]
		g.pos[fill[c]], g.ids[fill[c]] = p, int32(i)
		fill[c]++
	}
	return g
}

func (g *rxGrid) index(a int, x float64) int {
	i := int(math.Floor((x - g.lo.Index(a)) * g.inv[a]))
	return min(max(i, 0), g.n[a]-1)
}

func (g *rxGrid) cellOf(p geom.Vec3) int {
	return (g.index(2, p.Z)*g.n[1]+g.index(1, p.Y))*g.n[0] + g.index(0, p.X)
}

// sbrWorker traces rays for one goroutine and keeps its own sequence trie and candidate set.
type sbrWorker struct {
	t     *Tracer
	g     *rxGrid
	kappa float64
	trie  map[uint64]int32
	nodes []trieNode
	seq   []int32 // facets of the current ray's reflections
	node  []int32 // trie node of each prefix of seq, -1 until interned
	set   keySet  // receiver<<32 | node+1
}

// prefix interns the first k facets of the current ray and returns the trie node.
func (w *sbrWorker) prefix(k int) int32 {
	if id := w.node[k-1]; id >= 0 {
		return id
	}
	parent := int32(-1)
	if k > 1 {
		parent = w.prefix(k - 1)
	}
	key := uint64(uint32(parent+1))<<32 | uint64(uint32(w.seq[k-1]))
	id, ok := w.trie[key]
	if !ok {
		id = int32(len(w.nodes))
		w.nodes = append(w.nodes, trieNode{parent: parent, facet: w.seq[k-1], depth: int32(k)})
		w.trie[key] = id
	}
	w.node[k-1] = id
	return id
}

// shoot traces one ray from tx in unit direction dir.
func (w *sbrWorker) shoot(tx, dir geom.Vec3) {
	t := w.t
	o, d := tx, dir
	l := 0.0
	prev := int32(-1)
	for k := 0; ; k++ {
		r := newRay(o, d)
		th, hi := t.bvh.closest(&r, t.eps(o), math.Inf(1), prev, -1)
		seg := math.Inf(1)
		if hi >= 0 {
			seg = th
		}
		if k > 0 {
			w.gather(o, d, seg, l, k)
		}
		if hi < 0 || k == t.opt.MaxDepth {
			return
		}
		f := t.bvh.tris[hi].facet
		w.seq[k], w.node[k] = f, -1
		o = o.AddScaled(th, d)
		l += th
		n := t.facets[f].n
		d = d.AddScaled(-2*d.Dot(n), n)
		prev = f
	}
}

// gather records the facet sequence of the current ray's first k reflections for every receiver
// within the reception sphere of the segment o + s·d, 0 <= s <= seg, whose start lies an unfolded
// distance l0 from the transmitter.
func (w *sbrWorker) gather(o, d geom.Vec3, seg, l0 float64, k int) {
	g, kappa := w.g, w.kappa
	if kappa >= maxKappa {
		// So few rays that each sphere spans most of the scene: offer the sequence to everyone.
		for _, id := range g.ids {
			w.set.add(uint64(id)<<32 | uint64(w.prefix(k)+1))
		}
		return
	}
	// Distances beyond far+R0 cannot come within R0 of the box, with far the distance from o to
	// the box's farthest point and R0 = kappa·(l0 + far + R0) the radius there.
	far := o.Dist(g.lo.Add(g.hi).Scale(0.5)) + 0.5*g.hi.Dist(g.lo)
	r0 := kappa * (l0 + far) / (1 - kappa)
	tb := min(seg, far+r0)
	ta := 0.0
	od := [3]float64{o.X, o.Y, o.Z}
	dd := [3]float64{d.X, d.Y, d.Z}
	lo := [3]float64{g.lo.X - r0, g.lo.Y - r0, g.lo.Z - r0}
	hi := [3]float64{g.hi.X + r0, g.hi.Y + r0, g.hi.Z + r0}
	for a := range 3 {
		if dd[a] == 0 {
			if od[a] < lo[a] || od[a] > hi[a] {
				return
			}
			continue
		}
		t0, t1 := (lo[a]-od[a])/dd[a], (hi[a]-od[a])/dd[a]
		if t0 > t1 {
			t0, t1 = t1, t0
		}
		ta, tb = max(ta, t0), min(tb, t1)
	}
	if ta > tb {
		return
	}
	r := kappa * (l0 + tb)
	// Sweep slabs of cells across the axis the segment crosses most cells of.
	sa := 0
	best := -1.0
	for a := range 3 {
		if c := math.Abs(dd[a]) * (tb - ta) * g.inv[a]; c > best {
			best, sa = c, a
		}
	}
	sb, sc := (sa+1)%3, (sa+2)%3
	i0 := g.index(sa, min(od[sa]+ta*dd[sa], od[sa]+tb*dd[sa])-r)
	i1 := g.index(sa, max(od[sa]+ta*dd[sa], od[sa]+tb*dd[sa])+r)
	glo := [3]float64{g.lo.X, g.lo.Y, g.lo.Z}
	stride := [3]int{1, g.n[0], g.n[0] * g.n[1]}
	k2 := kappa * kappa
	for i := i0; i <= i1; i++ {
		sA, sB := ta, tb
		if dd[sa] != 0 {
			x0 := glo[sa] + float64(i)*g.h[sa] - r
			t0, t1 := (x0-od[sa])/dd[sa], (x0+g.h[sa]+2*r-od[sa])/dd[sa]
			if t0 > t1 {
				t0, t1 = t1, t0
			}
			sA, sB = max(sA, t0), min(sB, t1)
			if sA > sB {
				continue
			}
		}
		yA, yB := od[sb]+sA*dd[sb], od[sb]+sB*dd[sb]
		zA, zB := od[sc]+sA*dd[sc], od[sc]+sB*dd[sc]
		j0, j1 := g.index(sb, min(yA, yB)-r), g.index(sb, max(yA, yB)+r)
		m0, m1 := g.index(sc, min(zA, zB)-r), g.index(sc, max(zA, zB)+r)
		for m := m0; m <= m1; m++ {
			for j := j0; j <= j1; j++ {
				c := i*stride[sa] + j*stride[sb] + m*stride[sc]
				for q := g.start[c]; q < g.start[c+1]; q++ {
					p := g.pos[q]
					vx, vy, vz := p.X-o.X, p.Y-o.Y, p.Z-o.Z
					s := vx*d.X + vy*d.Y + vz*d.Z
					s = min(max(s, 0), seg)
					wx, wy, wz := vx-s*d.X, vy-s*d.Y, vz-s*d.Z
					l := l0 + s
					if wx*wx+wy*wy+wz*wz <= k2*l*l {
						w.set.add(uint64(g.ids[q])<<32 | uint64(w.prefix(k)+1))
					}
				}
			}
		}
	}
}

// keySet is an open-addressing hash set of non-zero uint64 keys.
type keySet struct {
	keys []uint64
	n    int
}

func (s *keySet) add(k uint64) {
	if 2*(s.n+1) > len(s.keys) {
		s.grow()
	}
	mask := uint64(len(s.keys) - 1)
	for h := (k * 0x9E3779B97F4A7C15) >> 20 & mask; ; h = (h + 1) & mask {
		switch s.keys[h] {
		case k:
			return
		case 0:
			s.keys[h] = k
			s.n++
			return
		}
	}
}

func (s *keySet) grow() {
	old := s.keys
	s.keys = make([]uint64, max(1<<12, 2*len(old)))
	s.n = 0
	for _, k := range old {
		if k != 0 {
			s.add(k)
		}
	}
}

// sbrCandidates runs the ray launch over the workers and merges their candidate sets.
func (t *Tracer) sbrCandidates(ctx context.Context, tx geom.Vec3, rx []geom.Vec3) (*candidates, error) {
	g := newRxGrid(rx)
	nr := t.opt.Rays
	safety := rxSafety
	if t.safety > 0 {
		safety = t.safety
	}
	kappa := safety * math.Sqrt(4*math.Pi/float64(nr))
	workers := make([]*sbrWorker, t.opt.Workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for wi := range workers {
		w := &sbrWorker{t: t, g: g, kappa: kappa, trie: make(map[uint64]int32),
			seq: make([]int32, t.opt.MaxDepth), node: make([]int32, t.opt.MaxDepth)}
		workers[wi] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				b := int(next.Add(1) - 1)
				if b*sbrBatch >= nr {
					return
				}
				for i := b * sbrBatch; i < min(nr, (b+1)*sbrBatch); i++ {
					w.shoot(tx, fibonacci(i, nr))
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Merge the tries into one; node numbering may depend on scheduling, but only the set of
	// sequences per receiver matters downstream.
	c := &candidates{start: make([]int32, len(rx)+1)}
	global := make(map[uint64]int32)
	maps := make([][]int32, len(workers))
	for wi, w := range workers {
		m := make([]int32, len(w.nodes))
		for i, nd := range w.nodes {
			parent := int32(-1)
			if nd.parent >= 0 {
				parent = m[nd.parent]
			}
			key := uint64(uint32(parent+1))<<32 | uint64(uint32(nd.facet))
			id, ok := global[key]
			if !ok {
				id = int32(len(c.nodes))
				c.nodes = append(c.nodes, trieNode{parent: parent, facet: nd.facet, depth: nd.depth})
				global[key] = id
			}
			m[i] = id
		}
		maps[wi] = m
		for _, k := range w.set.keys {
			if k != 0 {
				c.start[k>>32+1]++
			}
		}
	}
	for i := range rx {
		c.start[i+1] += c.start[i]
	}
	c.seqs = make([]int32, c.start[len(rx)])
	fill := make([]int32, len(rx))
	copy(fill, c.start[:len(rx)])
	for wi, w := range workers {
		for _, k := range w.set.keys {
			if k != 0 {
				r := k >> 32
				c.seqs[fill[r]] = maps[wi][uint32(k)-1]
				fill[r]++
			}
		}
		w.set = keySet{} // release early: the sets are the biggest allocation of a trace
	}
	return c, nil
}
