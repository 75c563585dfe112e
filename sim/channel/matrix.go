package channel

import (
	"fmt"
	"math"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
	"github.com/cctrack/cctrack/sim/rt"
)

// pathGeom is what one path contributes independently of frequency: its coefficient and delay, and
// for each array the path-length projections stepH·u and stepV·u of the element steps onto the
// path direction (metres). The UPA response is separable, a_i = e^{jk(h-c_h)p_h} · e^{jk(v-c_v)p_v},
// so these two numbers per array determine the whole steering vector at any frequency.
type pathGeom struct {
	a      complex128
	delay  float64
	bH, bV float64
	uH, uV float64
}

// arrayAxes holds the element-step vectors of both arrays, computed once per call.
type arrayAxes struct {
	bsH, bsV, ueH, ueV geom.Vec3
}

func newArrayAxes(bs, ue UPA) arrayAxes {
	var ax arrayAxes
	ax.bsH, ax.bsV = bs.axes()
	ax.ueH, ax.ueV = ue.axes()
	return ax
}

func (ax arrayAxes) geom(p *rt.Path) pathGeom {
	ub := geom.Dir(p.AoDTheta, p.AoDPhi)
	uu := geom.Dir(p.AoATheta, p.AoAPhi)
	return pathGeom{
		a: p.A, delay: p.Delay,
		bH: ax.bsH.Dot(ub), bV: ax.bsV.Dot(ub),
		uH: ax.ueH.Dot(uu), uV: ax.ueV.Dot(uu),
	}
}

// Matrix writes the N_B x N_U uplink channel at absolute frequency f (Hz) into dst, row-major
// (H[b*N_U+u]), overwriting it:
//
//	H = Σ_l A_l · exp(-j 2π f τ_l) · a_B(AoD_l) · a_U(AoA_l)^T,   λ = c/f in both steering vectors,
//
// with the paths traced from the BS (AoD at the BS, AoA at the UE); see the package documentation
// for why the product is a_B a_U^T. It panics unless len(dst) == bs.N()·ue.N(). It does not allocate
// for UE arrays of up to 64 elements.
//
// Cost: O(L·N_B·N_U) complex multiply-adds plus 11 sincos per path (4 for the two directions, 7 for
// the phasors; Matrices shares the first 4 across subcarriers). The steering phases are built by
// phasor recurrence along each array axis (the UPA response is separable), so no BS steering vector
// is stored; the recurrence's rounding error grows like (N_h+N_v)·ε, about 1e-14 relative for a
// 20x20 array.
func Matrix(paths []rt.Path, bs, ue UPA, f float64, dst []complex128) {
	if len(dst) != bs.N()*ue.N() {
		panic(fmt.Sprintf("channel: Matrix: len(dst) = %d, want N_B·N_U = %d·%d", len(dst), bs.N(), ue.N()))
	}
	clear(dst)
	var buf [stackUE]complex128
	w := scratch(&buf, ue.N())
	ax := newArrayAxes(bs, ue)
	for i := range paths {
		accumulate(dst, w, ax.geom(&paths[i]), bs, ue, f)
	}
}

// Matrices writes the channel of each subcarrier subcarriers[i] of o into dst[i], exactly as
// Matrix(paths, bs, ue, o.Carrier+o.Offset(subcarriers[i]), dst[i]) would. The per-path geometry
// (directions and their projections onto both arrays) is computed once and reused for every
// subcarrier; the steering phases themselves depend on f and are rebuilt per subcarrier from N_h+N_v
// phasors per array. It allocates one small per-path table per call. It panics unless
// len(dst) == len(subcarriers), every dst[i] has length N_B·N_U, and every index is in range.
func Matrices(paths []rt.Path, bs, ue UPA, o OFDM, subcarriers []int, dst [][]complex128) {
	if len(dst) != len(subcarriers) {
		panic(fmt.Sprintf("channel: Matrices: %d destinations for %d subcarriers", len(dst), len(subcarriers)))
	}
	n := bs.N() * ue.N()
	for i, d := range dst {
		if len(d) != n {
			panic(fmt.Sprintf("channel: Matrices: len(dst[%d]) = %d, want N_B·N_U = %d·%d", i, len(d), bs.N(), ue.N()))
		}
	}
	ax := newArrayAxes(bs, ue)
	geoms := make([]pathGeom, len(paths))
	for i := range paths {
		geoms[i] = ax.geom(&paths[i])
	}
	var buf [stackUE]complex128
	w := scratch(&buf, ue.N())
	for i, k := range subcarriers {
		f := o.Carrier + o.Offset(k)
		clear(dst[i])
		for _, g := range geoms {
			accumulate(dst[i], w, g, bs, ue, f)
		}
	}
}

// accumulate adds one path's rank-one term at frequency f to dst, using w (length N_U) as scratch:
// w_u = coef·a_U,u first, then for each BS element b (its phasor a_B,b advanced by one
// multiplication per element) row b gets a_B,b·w. The row update is N_U independent multiply-adds on
// contiguous memory, so the serial phasor recurrence costs one multiplication per row, not per entry.
func accumulate(dst, w []complex128, g pathGeom, bs, ue UPA, f float64) {
	k := 2 * math.Pi * f / material.C
	coef := g.a * expj(-2*math.Pi*f*g.delay)

	// Element (h, v) of either array has phase k((h-c_h)p_h + (v-c_v)p_v).
	uRow := coef * expj(-k*(float64(ue.Nh-1)/2*g.uH+float64(ue.Nv-1)/2*g.uV))
	uStepH, uStepV := expj(k*g.uH), expj(k*g.uV)
	for vu := 0; vu < ue.Nv; vu++ {
		x := uRow
		for hu := 0; hu < ue.Nh; hu++ {
			w[vu*ue.Nh+hu] = x
			x *= uStepH
		}
		uRow *= uStepV
	}

	nu := len(w)
	bRow := expj(-k * (float64(bs.Nh-1)/2*g.bH + float64(bs.Nv-1)/2*g.bV))
	bStepH, bStepV := expj(k*g.bH), expj(k*g.bV)
	b := 0
	for vb := 0; vb < bs.Nv; vb++ {
		ab := bRow
		for hb := 0; hb < bs.Nh; hb++ {
			row := dst[b*nu : b*nu+nu]
			for u, wu := range w {
				row[u] += ab * wu
			}
			ab *= bStepH
			b++
		}
		bRow *= bStepV
	}
}

// stackUE is the largest UE array whose scratch lives on the stack; larger ones allocate once per
// call. The paper's UE has 4 elements.
const stackUE = 64

// scratch returns a length-n buffer, buf's storage when it fits.
func scratch(buf *[stackUE]complex128, n int) []complex128 {
	if n <= stackUE {
		return buf[:n]
	}
	return make([]complex128, n)
}

// expj is exp(jx).
func expj(x float64) complex128 {
	s, c := math.Sincos(x)
	return complex(c, s)
}
