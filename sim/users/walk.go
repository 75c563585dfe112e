package users

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"

	"github.com/cctrack/cctrack/sim/geom"
)

const (
	// straightWeight is the odds of walking on through a new opening against taking one turn: at a
	// crossing with openings left and right the walker goes straight with probability 2/4.
	straightWeight = 2
	// walkAttempts bounds the restarts of a walk that gets stuck (a dead end too narrow to turn in).
	walkAttempts = 64
	// tol (m) absorbs rounding when comparing sums of lattice moves with tangent lengths.
	tol = 1e-9
)

// Random returns a seeded random walk through the walkable space, sampled as FromWaypoints samples
// its path: Steps positions Speed·Interval apart in arc length, the first at a lattice point of the
// largest connected part of the walkable space, all at the walkable height. The same rng state and
// parameters give the same trajectory.
//
// The walk moves along lattice lines (8 directions) and keeps its heading. Where a side opening
// appears (a direction 90° off the heading whose clear run is at least JunctionRun) it decides
// once per opening: on straight with weight 2, or into one of the new openings with weight 1 each,
// turning at a random point of the opening where the corner arc fits. Where it cannot go on it must
// turn (up to 135°), preferring long runs along the lattice axes, then bends into long diagonal
// runs, then short axis runs; it never reverses in place. At a dead end it turns across the street
// and back, which needs a street at least 2·TurnRadius wide; with TurnRadius 0 it may reverse.
//
// A corner of angle a at a lattice point is rounded by an arc of radius TurnRadius from
// TurnRadius·tan(a/2) before the point to as far after it; a turn is taken only where that arc lies in
// walkable cells with clear chords, where the leg since the previous corner has room for both arcs and
// where the new direction is clear for the arc plus TurnRadius (room for the next corner). So every
// sample is within a walkable cell (Contains holds) and the heading turns by at most 1/TurnRadius
// radians per metre. A walk that gets stuck restarts from a new random point; Random fails after 64
// stuck walks. Random calls the segmentClear predicate (for corner arcs) but is otherwise read-only.
func (w *Walkable) Random(rng *rand.Rand, p TrajectoryParams) ([]geom.Vec3, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	wk := walker{w: w, r: p.TurnRadius, junction: p.JunctionRun, arcs: map[uint32]bool{}}
	if wk.junction == 0 {
		wk.junction = DefaultJunctionRun
	}
	for range walkAttempts {
		verts, ok := wk.walk(rng, p.Length())
		if !ok {
			continue
		}
		pieces, err := smooth(verts, p.TurnRadius)
		if err != nil {
			// The walk only takes corners whose arcs fit, so this is a bug, not bad input.
			panic(fmt.Sprintf("users: random walk made an unsmoothable path: %v", err))
		}
		return sample(make([]geom.Vec3, 0, p.Steps), verts[0], pieces, p)
	}
	return nil, fmt.Errorf("random walk: %d walks of %.6g m got stuck; TurnRadius %g m may be too large for the walkable space",
		walkAttempts, p.Length(), p.TurnRadius)
}

// walker is the state of one Random call shared by its attempts.
type walker struct {
	w           *Walkable
	r, junction float64
	// arcs caches arcClear by point<<6 | heading<<3 | new heading (the lattice has < 2^24 points).
	arcs map[uint32]bool
	at   []int32 // scratch for plan
}

// walk returns the corner points of one walk whose smoothed length is at least need, or false if it
// got stuck.
func (wk *walker) walk(rng *rand.Rand, need float64) ([]geom.Vec3, bool) {
	w := wk.w
	n := w.starts[rng.IntN(len(w.starts))]
	// Head along one of the longest clear runs from the start (at least half the longest), so that a
	// walk starting in a street follows it rather than crossing it; lattice axes first, as a walk
	// keeps right angles to its first heading wherever it can.
	longest := 0.0
	for k := range 8 {
		longest = max(longest, wk.runM(n, k))
	}
	var heads []int
	for _, k := range [8]int{0, 2, 4, 6, 1, 3, 5, 7} {
		if k%2 == 1 && len(heads) > 0 {
			break
		}
		if w.run[k][n] > 0 && wk.runM(n, k) >= longest/2 {
			heads = append(heads, k)
		}
	}
	k := heads[rng.IntN(len(heads))]
	verts := []geom.Vec3{w.pos(n)}
	// length is the smoothed path length up to n, counting the last corner's arc as completed, which
	// it is once since >= lastT.
	length, since, lastT := 0.0, 0.0, 0.0
	open := wk.openings(n, k)
	planAt, planK := int32(-1), 0
	turn := func(k2 int) {
		t, theta := wk.corner(k, k2)
		verts = append(verts, w.pos(n))
		length -= 2*t - wk.r*theta
		since, lastT, k = 0, t, k2
		open = wk.openings(n, k)
		planAt = -1
	}
	for {
		if length >= need && since >= lastT-tol {
			if since > 0 {
				verts = append(verts, w.pos(n))
			}
			return verts, true
		}
		if planAt < 0 {
			o := wk.openings(n, k)
			if fresh := o &^ open; fresh != 0 {
				planAt, planK = wk.plan(rng, n, k, since, lastT, fresh)
			}
			open = o
		}
		if planAt == n {
			turn(planK)
			continue
		}
		if w.conn[n]&(1<<k) != 0 {
			n = w.next(n, k)
			since += w.moveLen(k)
			length += w.moveLen(k)
			continue
		}
		k2, ok := wk.forced(rng, n, k, since, lastT)
		if !ok {
			return nil, false
		}
		turn(k2)
	}
}

// runM is the clear run from point n in direction k, in metres.
func (wk *walker) runM(n int32, k int) float64 {
	return float64(wk.w.run[k][n]) * wk.w.moveLen(k)
}

// corner returns the tangent length t = r·tan(theta/2) and the turning angle theta of a corner from
// heading k to k2.
func (wk *walker) corner(k, k2 int) (t, theta float64) {
	d := (k2 - k + 8) % 8
	d = min(d, 8-d)
	theta = float64(d) * math.Pi / 4
	if d == 4 {
		return 0, theta // a reversal, only taken with r == 0
	}
	return wk.r * math.Tan(theta/2), theta
}

// openings returns the directions 90° off heading k whose clear run from n is at least JunctionRun,
// as bits. Diagonal moves are not openings: on a lattice a 45° run from a street often reaches
// JunctionRun by cutting through a crossing into the next street, which is no junction.
func (wk *walker) openings(n int32, k int) uint8 {
	var o uint8
	for _, d := range [2]int{2, 6} {
		k2 := (k + d) % 8
		if wk.w.run[k2][n] > 0 && wk.runM(n, k2) >= wk.junction {
			o |= 1 << k2
		}
	}
	return o
}

// canTurn reports whether the walk, at n with heading k, since metres past its last corner whose
// tangent length was lastT, may turn to k2.
func (wk *walker) canTurn(n int32, k, k2 int, since, lastT float64) bool {
	t, _ := wk.corner(k, k2)
	if since < lastT+t-tol || wk.w.run[k2][n] == 0 || wk.runM(n, k2) < t+wk.r-tol {
		return false
	}
	if wk.r == 0 {
		return true
	}
	key := uint32(n)<<6 | uint32(k)<<3 | uint32(k2)
	ok, seen := wk.arcs[key]
	if !seen {
		arc, _ := fillet(wk.w.pos(n), unit(k), unit(k2), wk.r)
		ok = wk.w.arcClear(&arc)
		wk.arcs[key] = ok
	}
	return ok
}

// plan makes the walk's one decision at new openings: on (-1) or a turn into one of them, at a point
// drawn among those of the opening ahead (within JunctionRun) where the turn fits.
func (wk *walker) plan(rng *rand.Rand, n int32, k int, since, lastT float64, fresh uint8) (int32, int) {
	w := wk.w
	c := rng.IntN(bits.OnesCount8(fresh) + straightWeight)
	if c < straightWeight {
		return -1, 0
	}
	c -= straightWeight
	k2 := 0
	for f := fresh; ; f &= f - 1 {
		if k2 = bits.TrailingZeros8(f); c == 0 {
			break
		}
		c--
	}
	wk.at = wk.at[:0]
	for j := 0.0; j*w.moveLen(k) < wk.junction && wk.openings(n, k)&(1<<k2) != 0; j++ {
		if wk.canTurn(n, k, k2, since+j*w.moveLen(k), lastT) {
			wk.at = append(wk.at, n)
		}
		if w.conn[n]&(1<<k) == 0 {
			break
		}
		n = w.next(n, k)
	}
	if len(wk.at) == 0 {
		return -1, 0
	}
	return wk.at[rng.IntN(len(wk.at))], k2
}

// forced picks the turn of a walk that cannot go on among the turns up to 135° that fit, by rank and
// at random among equals: first into a run of at least JunctionRun along a lattice axis, then into
// such a run diagonally by at most 90° (a street bending), then into a shorter run along an axis (at a
// dead end: across the street, to come back along it), then any other; within a rank the smallest
// angle. Axes first because streets mostly run along them (they do in the built-in city and in
// scenes aligned with the lattice): a walk that once turned diagonally across an open square would
// otherwise zig-zag across it for good, 90° turns keeping it diagonal.
func (wk *walker) forced(rng *rand.Rand, n int32, k int, since, lastT float64) (int, bool) {
	var best []int
	bestRank := math.MaxInt
	for _, d := range [6]int{2, 6, 1, 7, 3, 5} {
		k2 := (k + d) % 8
		if !wk.canTurn(n, k, k2, since, lastT) {
			continue
		}
		angle := min(d, 8-d) // 1…3 by 45°
		long, axis := wk.runM(n, k2) >= wk.junction, k2%2 == 0
		rank := 12 + angle
		switch {
		case long && axis:
			rank = angle
		case long && angle <= 2:
			rank = 4 + angle
		case axis:
			rank = 8 + angle
		}
		switch {
		case rank < bestRank:
			best, bestRank = append(best[:0], k2), rank
		case rank == bestRank:
			best = append(best, k2)
		}
	}
	if len(best) > 0 {
		return best[rng.IntN(len(best))], true
	}
	if wk.r == 0 && wk.w.run[(k+4)%8][n] > 0 {
		return (k + 4) % 8, true
	}
	return 0, false
}
