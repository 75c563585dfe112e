package estimator

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas"

	"github.com/cctrack/cctrack/beamforming"
	"github.com/cctrack/cctrack/internal/cmat"
)

func identityCovariance(nb, nu int, v float64) Covariance {
	n := nb * nu
	r := make([]complex128, n*n)
	for i := range n {
		r[i*n+i] = complex(v, 0)
	}
	return Covariance{NB: nb, NU: nu, R: r}
}

// For i.i.d. unit-variance H (R = I) and an orthogonal design (M^H M = P I), the LMMSE error is
// i.i.d. with variance 1/(1 + P/σ²): the NMSE is 1/(1+SNR).
func TestLMMSEIIDIsOneOverOnePlusSNR(t *testing.T) {
	const nb, nu, trials = 16, 4, 500
	n := float64(nb * nu * trials)
	// The pooled error and signal sums are Gamma sums of n terms, relative std 1/sqrt(n) each;
	// they are correlated here, so bound the ratio's relative std by their sum, 2/sqrt(n) ≈ 1.1 %;
	// 4 standard deviations.
	tol := 4 * 2 / math.Sqrt(n)
	for _, snrDB := range []float64{0, 10, 20} {
		rng := rand.New(rand.NewPCG(21, uint64(snrDB)))
		noise := paperNoise
		snr := math.Pow(10, snrDB/10)
		d := orthogonalDesign(nb, nu, noise*snr)
		acc := iidTrials(t, NewLMMSE(identityCovariance(nb, nu, 1)), d, rng, trials, noise)
		want := 1 / (1 + snr)
		got := acc.nmse()
		t.Logf("SNR %g dB: NMSE %.3f dB, 1/(1+SNR) = %.3f dB", snrDB, DB(got), DB(want))
		if math.Abs(got/want-1) > tol {
			t.Errorf("SNR %g dB: NMSE %.3f dB, want %.3f dB (relative tolerance %.3f)", snrDB, DB(got), DB(want), tol)
		}
	}
}

// mulM (the Kronecker product M X) equals the dense Measurement() times X.
func TestMulMEqualsDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(28, 29))
	const nb, nu, mb, mu, r = 6, 3, 4, 2, 5
	d := randomDesign(rng, nb, nu, mb, mu, paperPower)
	x := iidChannel(rng, nb*nu*r, 1)
	wh := make([]complex128, mb*nb)
	cmat.ConjTranspose(wh, d.W, nb, mb)
	got := mulM(d, wh, d.G(), x, r)
	want := make([]complex128, mb*mu*r)
	cmat.Mul(want, blas.NoTrans, d.Measurement(), mb*mu, nb*nu, blas.NoTrans, x, nb*nu, r)
	// Same sums in a different order: agreement to a few ulps of the O(sqrt(P)) entries.
	if diff := NMSE(want, got); diff > 1e-26 {
		t.Errorf("||dense - Kronecker||^2 / ||dense||^2 = %g > 1e-26", diff)
	}
}

// lmmseErrorCovariance returns C_e = R - R M^H (M R M^H + σ² I)^{-1} M R, the error covariance of
// the LMMSE estimate (in the vec ordering).
func lmmseErrorCovariance(t *testing.T, d beamforming.Design, r []complex128, noise float64) []complex128 {
	t.Helper()
	nh, ny := d.NB*d.NU, d.MB*d.MU
	m := d.Measurement()
	mr := make([]complex128, ny*nh)
	cmat.Mul(mr, blas.NoTrans, m, ny, nh, blas.NoTrans, r, nh, nh)
	a := make([]complex128, ny*ny)
	cmat.Mul(a, blas.NoTrans, mr, ny, nh, blas.ConjTrans, m, ny, nh)
	for i := range ny {
		a[i*ny+i] += complex(noise, 0)
	}
	x := make([]complex128, ny*nh)
	if err := cmat.SolveHPD(x, a, ny, mr, nh); err != nil {
		t.Fatal(err)
	}
	ce := make([]complex128, nh*nh)
	cmat.Mul(ce, blas.ConjTrans, mr, ny, nh, blas.NoTrans, x, ny, nh)
	for i := range ce {
		ce[i] = r[i] - ce[i]
	}
	return ce
}

// On a correlated channel (Kronecker exponential correlation) with an underdetermined design
// (12 observations of 64 unknowns), LMMSE reaches its theoretical MSE tr(C_e), with the true R and
// with R estimated from samples, and beats minimum-norm LS by a wide margin.
func TestLMMSECorrelatedUnderdetermined(t *testing.T) {
	const nb, nu, mb, mu, trials = 16, 4, 6, 2, 400
	rng := rand.New(rand.NewPCG(22, 23))
	model := newKronModel(nb, nu, 0.95, 0.8, 1e-11)
	d := randomDesign(rng, nb, nu, mb, mu, paperPower)
	// σ² puts the mean per-observation SNR at about 20 dB: E|y|^2 ≈ P·v·(beamforming gains ~1).
	noise := paperPower * model.v / 100
	trueCov := model.covariance()
	train := make([][]complex128, 20*nb*nu)
	for i := range train {
		train[i] = model.sample(rng)
	}
	estCov, err := EstimateCovariance(nb, nu, train)
	if err != nil {
		t.Fatal(err)
	}

	ce := lmmseErrorCovariance(t, d, trueCov.R, noise)
	nh := nb * nu
	var trCe, trCe2, trR float64
	for i := range nh {
		trCe += real(ce[i*nh+i])
		trR += real(trueCov.R[i*nh+i])
	}
	for i := range nh {
		for j := range nh {
			trCe2 += real(ce[i*nh+j] * ce[j*nh+i])
		}
	}
	wantNMSE := trCe / trR
	lsNMSE := lsTheoryMSE(t, d, trueCov.R, noise) / trR

	ls := NewLS()
	lTrue, lEst := NewLMMSE(trueCov), NewLMMSE(estCov)
	var accLS, accTrue, accEst pooled
	hhat := make([]complex128, nh)
	for _, e := range []Estimator{ls, lTrue, lEst} {
		if err := e.Prepare(d, noise); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
	}
	for range trials {
		h := model.sample(rng)
		y := observe(rng, d, h, noise)
		for _, c := range []struct {
			e   Estimator
			acc *pooled
		}{{ls, &accLS}, {lTrue, &accTrue}, {lEst, &accEst}} {
			if err := c.e.Estimate(hhat, y); err != nil {
				t.Fatal(err)
			}
			c.acc.add(h, hhat)
		}
	}
	t.Logf("NMSE: LS %.2f dB (theory %.2f dB), LMMSE true R %.2f dB (theory %.2f dB), LMMSE estimated R %.2f dB",
		DB(accLS.nmse()), DB(lsNMSE), DB(accTrue.nmse()), DB(wantNMSE), DB(accEst.nmse()))

	// The summed squared error of a Gaussian error vector with covariance C_e has mean T·tr(C_e)
	// and variance T·tr(C_e²): compare the mean per trial with tr(C_e) at 4 standard deviations.
	if got, tol := accTrue.err/trials, 4*math.Sqrt(trCe2/trials); math.Abs(got-trCe) > tol {
		t.Errorf("LMMSE (true R): mean squared error %g, theory tr(C_e) = %g ± %g", got, trCe, tol)
	}
	// A sample covariance from T = 20·N_B N_U samples is mismatched by O(N_B N_U / T) = 5 %
	// relative, which costs LMMSE a fraction of a dB; 1 dB bounds that plus the Monte-Carlo spread
	// of the pooled NMSE (±0.2 dB at 4 standard deviations here).
	if gap := DB(accEst.nmse()) - DB(wantNMSE); gap > 1 {
		t.Errorf("LMMSE with estimated R is %.2f dB above theory with the true R, want <= 1 dB", gap)
	}
	// Minimum-norm LS sets the unobserved part of H to zero, while LMMSE predicts it from the
	// correlation. Require half the theoretical gap (4.3 dB for this seeded design): the pooled
	// NMSEs of 400 trials each stray by a few tenths of a dB at most.
	theoryGap := DB(lsNMSE) - DB(wantNMSE)
	if gap := DB(accLS.nmse()) - DB(accEst.nmse()); gap < theoryGap/2 {
		t.Errorf("LMMSE beats LS by %.2f dB, want >= %.2f dB (half the theoretical gap)", gap, theoryGap/2)
	}
}

// lsTheoryMSE returns E||h - pinv(M) y||^2 = tr((I-P) R (I-P)) + σ² ||pinv(M)||_F^2, P = pinv(M) M
// the orthogonal projector onto the observed subspace.
func lsTheoryMSE(t *testing.T, d beamforming.Design, r []complex128, noise float64) float64 {
	t.Helper()
	nh, ny := d.NB*d.NU, d.MB*d.MU
	m := d.Measurement()
	pm := make([]complex128, nh*ny)
	if err := cmat.Pinv(pm, m, ny, nh); err != nil {
		t.Fatal(err)
	}
	q := make([]complex128, nh*nh) // I - P
	cmat.Mul(q, blas.NoTrans, pm, nh, ny, blas.NoTrans, m, ny, nh)
	for i := range q {
		q[i] = -q[i]
	}
	for i := range nh {
		q[i*nh+i]++
	}
	qr := make([]complex128, nh*nh)
	cmat.Mul(qr, blas.NoTrans, q, nh, nh, blas.NoTrans, r, nh, nh)
	var mse float64
	for i := range nh {
		for j := range nh {
			mse += real(qr[i*nh+j] * q[j*nh+i])
		}
	}
	for _, v := range pm {
		mse += noise * sq(v)
	}
	return mse
}

func sq(x complex128) float64 { return real(x)*real(x) + imag(x)*imag(x) }

func TestEstimateCovariance(t *testing.T) {
	const nb, nu, samples = 6, 3, 4000
	rng := rand.New(rand.NewPCG(24, 25))
	// Different correlations at the two ends, so that a wrong vec ordering (R_B ⊗ R_U instead of
	// R_U ⊗ R_B) is far off.
	model := newKronModel(nb, nu, 0.8, 0.1, 2e-12)
	s := make([][]complex128, samples)
	for i := range s {
		s[i] = model.sample(rng)
	}
	got, err := EstimateCovariance(nb, nu, s)
	if err != nil {
		t.Fatal(err)
	}
	want := model.covariance()
	if got.NB != nb || got.NU != nu || len(got.R) != len(want.R) {
		t.Fatalf("covariance %d x %d with %d entries, want %d x %d with %d", got.NB, got.NU, len(got.R), nb, nu, len(want.R))
	}
	n := nb * nu
	var errF, trR float64
	for i := range n {
		trR += real(want.R[i*n+i])
		if imag(got.R[i*n+i]) != 0 {
			t.Errorf("R[%d][%d] = %v is not real", i, i, got.R[i*n+i])
		}
		for j := range n {
			errF += sq(got.R[i*n+j] - want.R[i*n+j])
			if got.R[i*n+j] != cmplx.Conj(got.R[j*n+i]) {
				t.Errorf("R[%d][%d] != conj(R[%d][%d])", i, j, j, i)
			}
		}
	}
	// Each sample entry r̂_pq is a mean of T products with E|r̂_pq - r_pq|^2 = R_pp R_qq / T, so
	// E||R̂ - R||_F^2 = tr(R)^2 / T; the sum of n² such terms concentrates, and 2x its mean is
	// far above its spread.
	if limit := 2 * trR * trR / samples; errF > limit {
		t.Errorf("||R̂ - R||_F^2 = %g > 2 tr(R)^2/T = %g", errF, limit)
	}
}

func TestEstimateCovarianceErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		nb, nu  int
		samples [][]complex128
		want    string
	}{
		{"no samples", 2, 2, nil, "no samples"},
		{"sizes differ", 2, 2, [][]complex128{make([]complex128, 4), make([]complex128, 3)}, "sample 1 has 3 entries"},
		{"bad shape", 0, 2, [][]complex128{{}}, "sizes 0 x 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EstimateCovariance(tc.nb, tc.nu, tc.samples)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestLMMSEPrepareErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(26, 27))
	d := randomDesign(rng, 8, 2, 4, 2, paperPower)
	rank1 := Covariance{NB: 8, NU: 2, R: make([]complex128, 256)}
	rank1.R[0] = 1
	for _, tc := range []struct {
		name  string
		cov   Covariance
		noise float64
		want  string
	}{
		{"transposed sizes", identityCovariance(2, 8, 1), paperNoise, "covariance is for 2 x 8"},
		{"wrong size", identityCovariance(4, 2, 1), paperNoise, "covariance is for 4 x 2"},
		{"negative noise", identityCovariance(8, 2, 1), -1, "noise power"},
		{"NaN noise", identityCovariance(8, 2, 1), math.NaN(), "noise power"},
		{"singular without noise", rank1, 0, "positive definite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := NewLMMSE(tc.cov)
			err := e.Prepare(d, tc.noise)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if err := e.Estimate(make([]complex128, 16), make([]complex128, 8)); err == nil {
				t.Error("Estimate after a failed Prepare: no error")
			}
		})
	}
}
