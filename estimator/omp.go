package estimator

import (
	"fmt"
	"math"
	"math/cmplx"

	"gonum.org/v1/gonum/blas"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/internal/cmat"
)

// UPA is the shape of a uniform planar array: Nh x Nv elements, element index i = v*Nh + h
// (DESIGN.md).
type UPA struct{ Nh, Nv int }

// OMPConfig configures the OMP estimator.
type OMPConfig struct {
	BS, UE UPA
	// Oversample is the number of dictionary points per element along each array dimension: the
	// grid of one dimension with N elements has Oversample·N spatial frequencies.
	Oversample int
	// MaxPaths is the most atoms (paths) an estimate uses.
	MaxPaths int
	// ResidualFactor sets the stopping rule ||R||_F^2 <= ResidualFactor · M_B M_U σ², the expected
	// energy of the noise alone.
	ResidualFactor float64
}

// DefaultOMPConfig returns the defaults for arrays bs and ue: oversampling 2, at most 8 paths, and
// stopping once the residual is down to the expected noise energy (ResidualFactor 1).
func DefaultOMPConfig(bs, ue UPA) OMPConfig {
	return OMPConfig{BS: bs, UE: ue, Oversample: 2, MaxPaths: 8, ResidualFactor: 1}
}

func (c OMPConfig) validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"BS.Nh", c.BS.Nh}, {"BS.Nv", c.BS.Nv}, {"UE.Nh", c.UE.Nh}, {"UE.Nv", c.UE.Nv}, {"Oversample", c.Oversample}, {"MaxPaths", c.MaxPaths}} {
		if f.v < 1 {
			return fmt.Errorf("estimator omp: config: %s = %d, want >= 1", f.name, f.v)
		}
	}
	if !(c.ResidualFactor >= 0) || math.IsInf(c.ResidualFactor, 1) {
		return fmt.Errorf("estimator omp: config: ResidualFactor = %g, want finite and >= 0", c.ResidualFactor)
	}
	return nil
}

// dictionary is the oversampled 2-D DFT dictionary of one UPA: atom a = p_v·(O N_h) + p_h is
//
//	a_a[v N_h + h] = exp(j2π (h p_h / (O N_h) + v p_v / (O N_v))) / sqrt(N_h N_v),
//
// the unit-norm response to spatial frequencies p_h/(O N_h) and p_v/(O N_v) cycles per element.
// With half-wavelength spacing a path's spatial frequency is sin(angle)/2, so the grid [0, 1)
// covers all of the visible region.
type dictionary struct {
	nh, gh, gv int          // elements per row; grid sizes O·N_h, O·N_v
	rootH      []complex128 // exp(j2π l/gh), l < gh
	rootV      []complex128 // exp(j2π l/gv), l < gv
	scale      float64      // 1/sqrt(N_h N_v)
}

func newDictionary(u UPA, oversample int) dictionary {
	roots := func(n int) []complex128 {
		r := make([]complex128, n)
		for l := range r {
			r[l] = cmplx.Rect(1, 2*math.Pi*float64(l)/float64(n))
		}
		return r
	}
	gh, gv := oversample*u.Nh, oversample*u.Nv
	return dictionary{nh: u.Nh, gh: gh, gv: gv, rootH: roots(gh), rootV: roots(gv), scale: 1 / math.Sqrt(float64(u.Nh*u.Nv))}
}

// elem is entry i of atom a. The exponents are reduced modulo the grid so that the tables hold
// them exactly.
func (d dictionary) elem(i, a int) complex128 {
	h, v := i%d.nh, i/d.nh
	ph, pv := a%d.gh, a/d.gh
	return d.rootH[h*ph%d.gh] * d.rootV[v*pv%d.gv] * complex(d.scale, 0)
}

// atom writes atom a into dst (N_h N_v entries).
func (d dictionary) atom(dst []complex128, a int) {
	for i := range dst {
		dst[i] = d.elem(i, a)
	}
}

// matrix returns the whole dictionary, n x (gh gv) with the atoms as columns, filled row by row.
func (d dictionary) matrix(n int) []complex128 {
	na := d.gh * d.gv
	m := make([]complex128, n*na)
	for i := range n {
		row := m[i*na : (i+1)*na]
		for a := range row {
			row[a] = d.elem(i, a)
		}
	}
	return m
}

const (
	// unseenAtom: an atom whose image under the design has a squared norm below this fraction of
	// the best-seen atom's is treated as unobservable (its normalised image would be round-off,
	// e.g. a DFT beam orthogonal to every combiner column). 1e-12 is 120 dB.
	unseenAtom = 1e-12
	// dependentAtom: a selected atom whose image has less than this fraction of its norm outside
	// the span of the atoms already selected adds nothing that is not round-off; fitting it would
	// only amplify that, so the search stops instead.
	dependentAtom = 1e-8
	// residualFloor: the search also stops once ||R||^2 <= residualFloor · ||Y||^2 (a residual
	// amplitude 100 dB below the observation), where it would otherwise fit round-off when σ² = 0.
	residualFloor = 1e-20
)

// OMP is orthogonal matching pursuit over a Kronecker dictionary of array responses:
//
//	H ≈ sum_k x_k a_B(b_k) a_U(u_k)^T,
//
// a_B and a_U from the oversampled 2-D DFT dictionaries of the BS and UE arrays (A_B and A_U atoms).
// In the measurement the atom (b, u) is Φ = (W^H a_B(b)) (G^T a_U(u))^T, and its correlation with
// the residual R (M_B x M_U) is, for all atoms at once,
//
//	C = B^H R conj(U),  B = W^H D_B (M_B x A_B),  U = G^T D_U (M_U x A_U),
//
// with B and U computed in Prepare (columns normalised, so C ranks atoms by |<Φ, R>|/||Φ||).
// Each iteration selects the best atom, refits all selected coefficients by least squares (an
// incremental Gram–Schmidt QR of the selected images), and stops when ||R||_F^2 <=
// ResidualFactor·M_B M_U σ² or after MaxPaths atoms. B^H R is not recomputed from R: with
// R = Y - sum_j x_j Φ_j it is B^H Y - sum_j (B^H b_j)(x_j u_j)^T, which costs A_B M_U per selected
// atom instead of A_B M_B M_U.
type OMP struct {
	cfg    OMPConfig
	dB, dU dictionary
	nb, nu int
	mb, mu int
	ab, au int     // dictionary sizes A_B, A_U
	thr    float64 // ResidualFactor · M_B M_U σ²

	// bht is conj(B) with unit-norm columns (the normalised B^H, transposed), M_B x A_B: column a
	// is conj(W^H a_B(a)) / ||W^H a_B(a)||. Stored so that products with B^H are M_B updates of
	// A_B-long vectors rather than A_B short dot products.
	bht  []complex128
	bn   []float64    // ||W^H a_B(a)||
	uc   []complex128 // U^T, A_U x M_U: row u is G^T a_U(u)
	ub   []complex128 // normalised conj(U)^T, A_U x M_U: row u is conj(G^T a_U(u)) / ||G^T a_U(u)||
	last int          // atoms used by the last Estimate

	// Per-Estimate scratch, sized in Prepare.
	yt    []complex128 // Y^T, M_U x M_B
	d0t   []complex128 // (normalised B^H Y)^T, M_U x A_B: one contiguous matrix-vector product per column of Y
	dt    []complex128 // (normalised B^H R)^T, M_U x A_B
	dn    []float64    // squared norms of the columns of dt (rows of B^H R)
	row   []complex128 // one row of B^H R, M_U
	g     []complex128 // row j: normalised B^H b_j, MaxPaths x A_B
	v     []complex128 // row j: x_j u_j, MaxPaths x M_U
	sel   [][2]int     // selected atoms (b, u)
	q     []complex128 // orthonormal basis of the selected images, MaxPaths x M_B M_U
	rt    []complex128 // upper-triangular QR factor, MaxPaths x MaxPaths
	z     []complex128 // Q^H y
	x     []complex128 // coefficients
	r     []complex128 // residual, M_B M_U
	w     []complex128 // image being orthogonalised, M_B M_U
	bcol  []complex128 // W^H a_B(b), M_B
	atomB []complex128 // a_B(b), N_B
	atomU []complex128 // a_U(u), N_U
}

// NewOMP returns an OMP estimator, or an error naming the first invalid field of cfg.
func NewOMP(cfg OMPConfig) (*OMP, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &OMP{cfg: cfg}, nil
}

// Name is "omp".
func (*OMP) Name() string { return "omp" }

// Paths returns the number of atoms (paths) the last Estimate used.
func (e *OMP) Paths() int { return e.last }

// Prepare computes the normalised dictionary images B and U for d and the stopping threshold. It
// returns an error if the configured arrays do not have d's N_B and N_U elements.
func (e *OMP) Prepare(d beamforming.Design, noise float64) error {
	*e = OMP{cfg: e.cfg} // a failed Prepare leaves the estimator unprepared
	d.Validate()
	if err := checkNoise(e.Name(), noise); err != nil {
		return err
	}
	c := e.cfg
	if n := c.BS.Nh * c.BS.Nv; n != d.NB {
		return fmt.Errorf("estimator omp: prepare: BS array %d x %d has %d elements, design N_B = %d", c.BS.Nh, c.BS.Nv, n, d.NB)
	}
	if n := c.UE.Nh * c.UE.Nv; n != d.NU {
		return fmt.Errorf("estimator omp: prepare: UE array %d x %d has %d elements, design N_U = %d", c.UE.Nh, c.UE.Nv, n, d.NU)
	}
	dB, dU := newDictionary(c.BS, c.Oversample), newDictionary(c.UE, c.Oversample)
	ab, au := dB.gh*dB.gv, dU.gh*dU.gv

	// bht = conj(W^H D_B) with unit-norm columns; U^T = D_U^T G (A_U x M_U), and ub its conjugate
	// with unit-norm rows.
	wh := make([]complex128, d.MB*d.NB)
	cmat.ConjTranspose(wh, d.W, d.NB, d.MB)
	bht := make([]complex128, d.MB*ab)
	cmat.Mul(bht, blas.NoTrans, wh, d.MB, d.NB, blas.NoTrans, dB.matrix(d.NB), d.NB, ab)
	bn := make([]float64, ab)
	for i, v := range bht {
		bn[i%ab] += real(v)*real(v) + imag(v)*imag(v)
	}
	atomNorms(bn)
	for i, v := range bht {
		bht[i] = scaleConj(v, bn[i%ab])
	}
	uc := make([]complex128, au*d.MU)
	cmat.Mul(uc, blas.Trans, dU.matrix(d.NU), d.NU, au, blas.NoTrans, d.G(), d.NU, d.MU)
	un := make([]float64, au)
	for i, v := range uc {
		un[i/d.MU] += real(v)*real(v) + imag(v)*imag(v)
	}
	atomNorms(un)
	ub := make([]complex128, au*d.MU)
	for i, v := range uc {
		ub[i] = scaleConj(v, un[i/d.MU])
	}

	k, ny := c.MaxPaths, d.MB*d.MU
	*e = OMP{
		cfg: c, dB: dB, dU: dU, nb: d.NB, nu: d.NU, mb: d.MB, mu: d.MU, ab: ab, au: au,
		thr: c.ResidualFactor * float64(ny) * noise,
		bht: bht, bn: bn, uc: uc, ub: ub,
		yt: make([]complex128, d.MU*d.MB), d0t: make([]complex128, d.MU*ab),
		dt: make([]complex128, d.MU*ab), dn: make([]float64, ab), row: make([]complex128, d.MU),
		g: make([]complex128, k*ab), v: make([]complex128, k*d.MU), sel: make([][2]int, k),
		q: make([]complex128, k*ny), rt: make([]complex128, k*k), z: make([]complex128, k), x: make([]complex128, k),
		r: make([]complex128, ny), w: make([]complex128, ny), bcol: make([]complex128, d.MB),
		atomB: make([]complex128, d.NB), atomU: make([]complex128, d.NU),
	}
	return nil
}

// atomNorms turns squared image norms into norms, zeroing those below the unseenAtom fraction of
// the largest.
func atomNorms(sq []float64) {
	top := 0.0
	for _, v := range sq {
		top = max(top, v)
	}
	for i, v := range sq {
		if v > unseenAtom*top {
			sq[i] = math.Sqrt(v)
		} else {
			sq[i] = 0
		}
	}
}

// scaleConj returns conj(v)/n, or 0 for an unseen atom (n = 0).
func scaleConj(v complex128, n float64) complex128 {
	if n == 0 {
		return 0
	}
	return complex(real(v)/n, -imag(v)/n)
}

// Estimate runs OMP on y and writes Ĥ = sum_k x_k a_B(b_k) a_U(u_k)^T into dst.
func (e *OMP) Estimate(dst, y []complex128) error {
	ny := e.mb * e.mu
	if err := checkIO(e.Name(), e.bht != nil, dst, y, e.nb*e.nu, ny); err != nil {
		return err
	}
	copy(e.r, y)
	res := cmat.Norm2(y)
	thr := max(e.thr, residualFloor*res)
	for b := range e.mb {
		for m := range e.mu {
			e.yt[m*e.mb+b] = y[b*e.mu+m]
		}
	}
	for m := range e.mu {
		cmat.MulVec(e.d0t[m*e.ab:(m+1)*e.ab], blas.Trans, e.bht, e.mb, e.ab, e.yt[m*e.mb:(m+1)*e.mb])
	}
	k := 0
	for k < e.cfg.MaxPaths && res > thr {
		b, u := e.best(k)
		if b < 0 {
			break // the residual correlates with no observable atom
		}
		if !e.appendAtom(k, b, u) {
			break
		}
		e.sel[k] = [2]int{b, u}
		k++
		res = cmat.Norm2(e.r)
		e.refit(k)
	}
	e.last = k

	clear(dst)
	for j, s := range e.sel[:k] {
		e.dB.atom(e.atomB, s[0])
		e.dU.atom(e.atomU, s[1])
		for i, bv := range e.atomB {
			c := e.x[j] * bv
			row := dst[i*e.nu : (i+1)*e.nu]
			for kk, uv := range e.atomU {
				row[kk] += c * uv
			}
		}
	}
	return nil
}

// best returns the atom (b, u) with the largest normalised correlation |C[b][u]|^2 with the
// residual after k atoms, or b = -1 if every correlation is zero.
//
// Row b of C is d_b^T conj(U) with d_b = row b of the normalised B^H R, formed (transposed, so
// that each update is one long vector operation) as B^H Y - sum_j g_j v_j^T. The columns of conj(U)
// have unit norm, so |C[b][u]|^2 <= ||d_b||^2 (Cauchy–Schwarz): starting from the row with the
// largest ||d_b||, rows whose norm cannot beat the best score so far are skipped. The result is
// that of a full scan; usually most rows go.
func (e *OMP) best(k int) (int, int) {
	mu, ab := e.mu, e.ab
	copy(e.dt, e.d0t)
	clear(e.dn)
	for m := range mu {
		dm := e.dt[m*ab : (m+1)*ab]
		for j := range k {
			cmat.Axpy(-e.v[j*mu+m], e.g[j*ab:(j+1)*ab], dm)
		}
		for b, v := range dm {
			e.dn[b] += real(v)*real(v) + imag(v)*imag(v)
		}
	}
	bmax, nmax := -1, 0.0
	for b, n := range e.dn {
		if n > nmax {
			bmax, nmax = b, n
		}
	}
	if bmax < 0 {
		return -1, -1
	}
	bb, bu, top := -1, -1, 0.0
	scan := func(b int) {
		for m := range e.row {
			e.row[m] = e.dt[m*ab+b]
		}
		for u := range e.au {
			var c complex128
			for m, um := range e.ub[u*mu : (u+1)*mu] {
				c += e.row[m] * um
			}
			if s := real(c)*real(c) + imag(c)*imag(c); s > top {
				bb, bu, top = b, u, s
			}
		}
	}
	scan(bmax)
	for b, n := range e.dn {
		if n > top && b != bmax {
			scan(b)
		}
	}
	return bb, bu
}

// appendAtom adds atom (b, u) as the k-th selected atom: its image Φ = b_col u_col^T is
// orthogonalised against the first k basis vectors (classical Gram–Schmidt, twice, which keeps Q
// orthonormal to working precision), the residual loses its component along the new basis vector,
// and g[k] = normalised B^H b_col is stored for later rows of B^H R. It returns false, changing
// nothing, if Φ is numerically in the span of the atoms already selected.
func (e *OMP) appendAtom(k, b, u int) bool {
	ny, mp := e.mb*e.mu, e.cfg.MaxPaths
	// b_col = W^H a_B(b) = conj(column b of bht) · ||W^H a_B(b)||.
	nb := complex(e.bn[b], 0)
	for i := range e.bcol {
		e.bcol[i] = cmplx.Conj(e.bht[i*e.ab+b]) * nb
	}
	ucol := e.uc[u*e.mu : (u+1)*e.mu]
	for i, bv := range e.bcol {
		for m, uv := range ucol {
			e.w[i*e.mu+m] = bv * uv
		}
	}
	norm := math.Sqrt(cmat.Norm2(e.w))
	for j := range k {
		e.rt[j*mp+k] = 0
	}
	for range 2 {
		for j := range k {
			qj := e.q[j*ny : (j+1)*ny]
			var c complex128
			for i, qv := range qj {
				c += cmplx.Conj(qv) * e.w[i]
			}
			e.rt[j*mp+k] += c
			for i, qv := range qj {
				e.w[i] -= c * qv
			}
		}
	}
	rkk := math.Sqrt(cmat.Norm2(e.w))
	if !(rkk > dependentAtom*norm) {
		return false
	}
	e.rt[k*mp+k] = complex(rkk, 0)
	qk := e.q[k*ny : (k+1)*ny]
	inv := complex(1/rkk, 0)
	var zk complex128
	for i, wv := range e.w {
		qk[i] = wv * inv
		zk += cmplx.Conj(qk[i]) * e.r[i]
	}
	e.z[k] = zk
	for i, qv := range qk {
		e.r[i] -= zk * qv
	}
	cmat.MulVec(e.g[k*e.ab:(k+1)*e.ab], blas.Trans, e.bht, e.mb, e.ab, e.bcol)
	return true
}

// refit solves R_t x = z for the k selected coefficients by back substitution and sets
// v[j] = x_j u_col(u_j). z_j = q_j^H y, computed as q_j^H of the residual before atom j (the same,
// q_j being orthogonal to the earlier basis vectors).
func (e *OMP) refit(k int) {
	mp := e.cfg.MaxPaths
	for i := k - 1; i >= 0; i-- {
		s := e.z[i]
		for j := i + 1; j < k; j++ {
			s -= e.rt[i*mp+j] * e.x[j]
		}
		e.x[i] = s / e.rt[i*mp+i]
	}
	for j, s := range e.sel[:k] {
		ucol := e.uc[s[1]*e.mu : (s[1]+1)*e.mu]
		vj := e.v[j*e.mu : (j+1)*e.mu]
		for m, uv := range ucol {
			vj[m] = e.x[j] * uv
		}
	}
}

var _ Estimator = (*OMP)(nil)
