package cmat

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
)

func randMat(rng *rand.Rand, r, c int, scale float64) []complex128 {
	a := make([]complex128, r*c)
	for i := range a {
		a[i] = complex(rng.NormFloat64()*scale, rng.NormFloat64()*scale)
	}
	return a
}

// op returns op(A) as a new r' x c' matrix, straight from the definition.
func op(t blas.Transpose, a []complex128, r, c int) ([]complex128, int, int) {
	if t == blas.NoTrans {
		return a, r, c
	}
	out := make([]complex128, r*c)
	for i := range r {
		for j := range c {
			v := a[i*c+j]
			if t == blas.ConjTrans {
				v = cmplx.Conj(v)
			}
			out[j*r+i] = v
		}
	}
	return out, c, r
}

func naiveMul(a []complex128, m, k int, b []complex128, n int) []complex128 {
	out := make([]complex128, m*n)
	for i := range m {
		for j := range n {
			var s complex128
			for l := range k {
				s += a[i*k+l] * b[l*n+j]
			}
			out[i*n+j] = s
		}
	}
	return out
}

// relDiff is ||a - b||_F / ||b||_F.
func relDiff(a, b []complex128) float64 {
	var num, den float64
	for i := range a {
		d := a[i] - b[i]
		num += real(d)*real(d) + imag(d)*imag(d)
		den += real(b[i])*real(b[i]) + imag(b[i])*imag(b[i])
	}
	return math.Sqrt(num / den)
}

// Products of O(1) random matrices of inner size k agree with the naive sums to a few ulps times k;
// 1e-13 leaves a wide margin for k <= 7.
const prodTol = 1e-13

func TestMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ops := []blas.Transpose{blas.NoTrans, blas.Trans, blas.ConjTrans}
	const m, k, n = 5, 7, 3
	for _, ta := range ops {
		for _, tb := range ops {
			t.Run(fmt.Sprintf("%c%c", ta, tb), func(t *testing.T) {
				ar, ac := m, k
				if ta != blas.NoTrans {
					ar, ac = k, m
				}
				br, bc := k, n
				if tb != blas.NoTrans {
					br, bc = n, k
				}
				a, b := randMat(rng, ar, ac, 1), randMat(rng, br, bc, 1)
				got := make([]complex128, m*n)
				Mul(got, ta, a, ar, ac, tb, b, br, bc)
				oa, _, _ := op(ta, a, ar, ac)
				ob, _, _ := op(tb, b, br, bc)
				if d := relDiff(got, naiveMul(oa, m, k, ob, n)); d > prodTol {
					t.Errorf("relative error %g > %g", d, prodTol)
				}
			})
		}
	}
}

func TestMulVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const r, c = 6, 4
	a := randMat(rng, r, c, 1)
	for _, ta := range []blas.Transpose{blas.NoTrans, blas.Trans, blas.ConjTrans} {
		oa, or, oc := op(ta, a, r, c)
		x := randMat(rng, oc, 1, 1)
		got := make([]complex128, or)
		MulVec(got, ta, a, r, c, x)
		if d := relDiff(got, naiveMul(oa, or, oc, x, 1)); d > prodTol {
			t.Errorf("%c: relative error %g > %g", ta, d, prodTol)
		}
	}
}

func TestAxpy(t *testing.T) {
	x := []complex128{1, 2i, -3, 4 + 1i, 5, 6i, 7} // odd length: the kernel's unrolled loop and its tail
	y := []complex128{1i, 1, 1, 1, 2, 2, 2}
	alpha := complex(0.5, -2)
	want := make([]complex128, len(y))
	for i := range y {
		want[i] = y[i] + alpha*x[i]
	}
	Axpy(alpha, x, y)
	if d := relDiff(y, want); d > prodTol {
		t.Errorf("relative error %g > %g", d, prodTol)
	}
}

func TestConjTranspose(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	a := randMat(rng, 3, 5, 1)
	got := make([]complex128, 15)
	ConjTranspose(got, a, 3, 5)
	want, _, _ := op(blas.ConjTrans, a, 3, 5)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("element %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func TestNorm2(t *testing.T) {
	if got := Norm2([]complex128{3 + 4i, -1, 2i}); got != 30 {
		t.Errorf("Norm2 = %g, want 25 + 1 + 4 = 30", got)
	}
}

func TestMulShapePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Mul with mismatched inner dimensions did not panic")
		}
	}()
	Mul(make([]complex128, 4), blas.NoTrans, make([]complex128, 6), 2, 3, blas.NoTrans, make([]complex128, 4), 2, 2)
}

// TestPinv checks the four Moore–Penrose conditions, which define pinv(A) uniquely:
// A X A = A, X A X = X, (A X)^H = A X, (X A)^H = X A.
func TestPinv(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	lowRank := func(m, n, r int, scale float64) []complex128 {
		return naiveMul(randMat(rng, m, r, scale), m, r, randMat(rng, r, n, 1), n)
	}
	for _, tc := range []struct {
		name string
		m, n int
		a    []complex128
	}{
		{"tall", 9, 4, randMat(rng, 9, 4, 1)},
		{"wide", 4, 9, randMat(rng, 4, 9, 1)},
		{"square", 6, 6, randMat(rng, 6, 6, 1)},
		// A channel-sized scale: the rank cut is relative, so nothing is dropped.
		{"wide 1e-6", 5, 12, randMat(rng, 5, 12, 1e-6)},
		{"rank 3 of 8x6", 8, 6, lowRank(8, 6, 3, 1)},
		{"rank 2 of 5x7 at 1e-6", 5, 7, lowRank(5, 7, 2, 1e-6)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, n, a := tc.m, tc.n, tc.a
			x := make([]complex128, n*m)
			if err := Pinv(x, a, m, n); err != nil {
				t.Fatal(err)
			}
			ax := naiveMul(a, m, n, x, m) // m x m
			xa := naiveMul(x, n, m, a, n) // n x n
			axh, _, _ := op(blas.ConjTrans, ax, m, m)
			xah, _, _ := op(blas.ConjTrans, xa, n, n)
			// These matrices have condition numbers below about 1e2 on their range, so each
			// condition holds to about cond·ε·size (observed: below 1e-14); 1e-12 leaves a margin.
			const tol = 1e-12
			for _, c := range []struct {
				name      string
				got, want []complex128
			}{
				{"A X A = A", naiveMul(ax, m, m, a, n), a},
				{"X A X = X", naiveMul(xa, n, n, x, m), x},
				{"(A X)^H = A X", axh, ax},
				{"(X A)^H = X A", xah, xa},
			} {
				if d := relDiff(c.got, c.want); d > tol {
					t.Errorf("%s: relative error %g > %g", c.name, d, tol)
				}
			}
		})
	}
}

func TestPinvZero(t *testing.T) {
	x := []complex128{1, 2, 3, 4, 5, 6}
	if err := Pinv(x, make([]complex128, 6), 2, 3); err != nil {
		t.Fatal(err)
	}
	for i, v := range x {
		if v != 0 {
			t.Fatalf("pinv(0)[%d] = %v, want 0", i, v)
		}
	}
}

func TestSolveHPD(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const n, nrhs = 7, 3
	for _, scale := range []float64{1, 1e-9} {
		// A = Z Z^H + n I·scale² is HPD with a condition number of a few tens.
		z := randMat(rng, n, n, scale)
		zh, _, _ := op(blas.ConjTrans, z, n, n)
		a := naiveMul(z, n, n, zh, n)
		for i := range n {
			a[i*n+i] += complex(n*scale*scale, 0)
		}
		b := randMat(rng, n, nrhs, 1)
		x := make([]complex128, n*nrhs)
		if err := SolveHPD(x, a, n, b, nrhs); err != nil {
			t.Fatal(err)
		}
		// Backward stable: ||A X - B|| <~ cond·ε·n·||B|| ≈ 1e-13.
		const tol = 1e-11
		if d := relDiff(naiveMul(a, n, n, x, nrhs), b); d > tol {
			t.Errorf("scale %g: ||A X - B||/||B|| = %g > %g", scale, d, tol)
		}
		// A A^{-1} = I from the solve with B = I.
		eye := make([]complex128, n*n)
		for i := range n {
			eye[i*n+i] = 1
		}
		inv := make([]complex128, n*n)
		if err := SolveHPD(inv, a, n, eye, n); err != nil {
			t.Fatal(err)
		}
		if d := relDiff(naiveMul(a, n, n, inv, n), eye); d > tol {
			t.Errorf("scale %g: ||A A^-1 - I||/||I|| = %g > %g", scale, d, tol)
		}
	}
}

func TestSolveHPDNotPositiveDefinite(t *testing.T) {
	a := []complex128{1, 2i, -2i, 1} // eigenvalues 3 and -1
	if err := SolveHPD(make([]complex128, 2), a, 2, []complex128{1, 1}, 1); err == nil {
		t.Error("indefinite A: no error")
	}
}
