// Package beamforming models analog phase-shifter arrays: B-bit phase quantisation, per-element gain
// and phase errors, codebooks for the UE precoder F and the BS combiner W, pilot symbols, and the
// measurement they form.
//
// Signal model (uplink, DESIGN.md): Y = W^H H F S + N, with H (N_B x N_U), W (N_B x M_B),
// F (N_U x M_U), S = diag(s) (M_U x M_U, |s_j|^2 = P_tx) and N i.i.d. CN(0, sigma^2). Every matrix in
// this package and its users is stored row-major in a []complex128: element (i, j) of an r x c matrix
// is at i*c + j, as in sim/channel.Matrix.
package beamforming

// Design is one pilot measurement as an estimator sees it: the combiner, the precoder and the pilots.
// For hardware it holds the weights the estimator assumes (nominal or calibrated), not the unknown
// physical ones.
type Design struct {
	NB, NU, MB, MU int
	W              []complex128 // N_B x M_B combiner, row-major
	F              []complex128 // N_U x M_U precoder, row-major
	S              []complex128 // M_U pilot symbols, |s_j|^2 = P_tx
}

// G returns F S (N_U x M_U, row-major): column j of F scaled by s_j. With it Y = W^H H G + N.
func (d Design) G() []complex128 {
	g := make([]complex128, d.NU*d.MU)
	for i := range d.NU {
		for j := range d.MU {
			g[i*d.MU+j] = d.F[i*d.MU+j] * d.S[j]
		}
	}
	return g
}

// Validate panics unless the slices match the dimensions (a programmer error).
func (d Design) Validate() {
	if d.NB <= 0 || d.NU <= 0 || d.MB <= 0 || d.MU <= 0 || len(d.W) != d.NB*d.MB || len(d.F) != d.NU*d.MU || len(d.S) != d.MU {
		panic("beamforming: Design dimensions do not match its slices")
	}
}

// Measurement returns the dense measurement matrix M = G^T ⊗ W^H ((M_B M_U) x (N_B N_U), row-major)
// with vec(Y) = M vec(H) + vec(N), vec stacking columns (DESIGN.md). Estimators exploit the Kronecker
// structure instead; this dense form is for tests and for estimators that need the whole matrix.
func (d Design) Measurement() []complex128 {
	d.Validate()
	g := d.G()
	rows, cols := d.MB*d.MU, d.NB*d.NU
	m := make([]complex128, rows*cols)
	// Row (b + MB*u) of vec(Y) is Y[b][u] = sum_{i,k} conj(W[i][b]) H[i][k] G[k][u]; column (i + NB*k).
	for u := range d.MU {
		for b := range d.MB {
			row := m[(b+d.MB*u)*cols:][:cols]
			for k := range d.NU {
				gku := g[k*d.MU+u]
				for i := range d.NB {
					w := d.W[i*d.MB+b]
					row[i+d.NB*k] = complex(real(w), -imag(w)) * gku
				}
			}
		}
	}
	return m
}
