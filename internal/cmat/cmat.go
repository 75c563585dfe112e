// Package cmat holds the few dense complex-matrix operations the estimators need, built on gonum.
//
// Every matrix is a row-major []complex128: element (i, j) of an r x c matrix is at i*c + j. Shapes
// are passed explicitly; a slice whose length does not match its shape is a programmer error and
// panics. Results go into caller-supplied destinations, which must not overlap the operands.
//
// Factorisations (pseudo-inverse, Hermitian solve) work on the real embedding of a complex matrix,
//
//	E(A) = [[Re A, -Im A], [Im A, Re A]],
//
// which maps products to products (E(AB) = E(A) E(B)) and the conjugate transpose to the
// transpose (E(A^H) = E(A)^T). Hence E(pinv A) = pinv E(A), and A is Hermitian positive definite
// exactly when E(A) is symmetric positive definite, so gonum's real SVD and Cholesky serve.
package cmat

import (
	"errors"
	"fmt"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	"gonum.org/v1/gonum/mat"
)

// impl is gonum's pure-Go BLAS; its level-1 complex kernels (dot, axpy) are assembly on amd64.
var impl gonum.Implementation

// Mul computes dst = op(A) op(B), where A is stored ar x ac, B is stored br x bc, and op is the
// identity (blas.NoTrans), the transpose (blas.Trans) or the conjugate transpose (blas.ConjTrans).
// dst has rows(op(A)) x cols(op(B)) elements.
func Mul(dst []complex128, tA blas.Transpose, a []complex128, ar, ac int, tB blas.Transpose, b []complex128, br, bc int) {
	checkShape("Mul: A", a, ar, ac)
	checkShape("Mul: B", b, br, bc)
	m, k := ar, ac
	if tA != blas.NoTrans {
		m, k = ac, ar
	}
	kb, n := br, bc
	if tB != blas.NoTrans {
		kb, n = bc, br
	}
	if k != kb {
		panic(fmt.Sprintf("cmat: Mul: inner dimensions %d and %d differ", k, kb))
	}
	checkShape("Mul: dst", dst, m, n)
	if tA == blas.NoTrans && tB == blas.NoTrans {
		// Row i of the product is sum_l A[i][l] B[l]: as row updates it runs on the assembly axpy
		// kernel, several times faster than Zgemm's pure-Go loops for long rows.
		for i := range m {
			ci := dst[i*n : (i+1)*n]
			clear(ci)
			for l, av := range a[i*k : (i+1)*k] {
				impl.Zaxpy(n, av, b[l*n:(l+1)*n], 1, ci, 1)
			}
		}
		return
	}
	impl.Zgemm(tA, tB, m, n, k, 1, a, max(ac, 1), b, max(bc, 1), 0, dst, max(n, 1))
}

// MulVec computes dst = op(A) x, where A is stored r x c.
func MulVec(dst []complex128, tA blas.Transpose, a []complex128, r, c int, x []complex128) {
	checkShape("MulVec: A", a, r, c)
	n, m := c, r
	if tA != blas.NoTrans {
		n, m = r, c
	}
	checkShape("MulVec: x", x, n, 1)
	checkShape("MulVec: dst", dst, m, 1)
	impl.Zgemv(tA, r, c, 1, a, max(c, 1), x, 1, 0, dst, 1)
}

// Axpy computes y += alpha x.
func Axpy(alpha complex128, x, y []complex128) {
	if len(x) != len(y) {
		panic(fmt.Sprintf("cmat: Axpy: x has %d elements, y %d", len(x), len(y)))
	}
	impl.Zaxpy(len(x), alpha, x, 1, y, 1)
}

// ConjTranspose writes A^H (c x r) into dst, where A is r x c.
func ConjTranspose(dst, a []complex128, r, c int) {
	checkShape("ConjTranspose: A", a, r, c)
	checkShape("ConjTranspose: dst", dst, c, r)
	for i := range r {
		for j, v := range a[i*c : (i+1)*c] {
			dst[j*r+i] = complex(real(v), -imag(v))
		}
	}
}

// Pinv writes the Moore–Penrose pseudo-inverse of A (m x n) into dst (n x m):
//
//	pinv(A) = V Σ^+ U^H,  Σ^+_ii = 1/σ_i if σ_i > max(m, n)·ε·σ_1, else 0,
//
// from the SVD A = U Σ V^H (ε the float64 machine epsilon). The rank cut is relative to the largest
// singular value σ_1, so the result does not depend on the scale of A (channels of 1e-6 and
// transmit powers of 30 W alike). The SVD is that of the real embedding E(A), whose singular values
// are those of A, each twice; the first block column of pinv E(A) = E(pinv A) is [Re; Im] of pinv A.
func Pinv(dst, a []complex128, m, n int) error {
	checkShape("Pinv: A", a, m, n)
	checkShape("Pinv: dst", dst, n, m)
	var svd mat.SVD
	if !svd.Factorize(embed(a, m, n), mat.SVDThin) {
		return errors.New("cmat: pinv: SVD did not converge")
	}
	s := svd.Values(nil)
	var u, v mat.Dense
	svd.UTo(&u) // 2m x r
	svd.VTo(&v) // 2n x r
	tol := float64(max(m, n)) * eps * s[0]
	// Column j of pinv E(A) (j < m) is sum_l v_l (u_l[j] / σ_l); rows 0..n-1 are Re, n..2n-1 Im.
	clear(dst)
	for l, sl := range s {
		if !(sl > tol) {
			break // singular values are sorted, largest first
		}
		inv := 1 / sl
		for j := range m {
			c := u.At(j, l) * inv
			if c == 0 {
				continue
			}
			for i := range n {
				dst[i*m+j] += complex(v.At(i, l)*c, v.At(n+i, l)*c)
			}
		}
	}
	return nil
}

// eps is the float64 machine epsilon, 2^-52.
const eps = 0x1p-52

// SolveHPD solves A X = B for X (n x nrhs, into dst), A (n x n) Hermitian positive definite and B
// (n x nrhs), by a Cholesky factorisation of E(A). A is taken to be Hermitian (not checked): only
// the upper triangle of E(A) is read. It returns an error when A is not numerically positive definite (the factorisation fails or its condition number exceeds gonum's
// mat.ConditionTolerance, 1e16).
func SolveHPD(dst, a []complex128, n int, b []complex128, nrhs int) error {
	checkShape("SolveHPD: A", a, n, n)
	checkShape("SolveHPD: B", b, n, nrhs)
	checkShape("SolveHPD: dst", dst, n, nrhs)
	e := embed(a, n, n)
	sym := mat.NewSymDense(2*n, e.RawMatrix().Data)
	var chol mat.Cholesky
	if !chol.Factorize(sym) {
		return errors.New("cmat: solve HPD: matrix is not positive definite")
	}
	// E(A) E(X) = E(B); the first block column of that is E(A) [Re X; Im X] = [Re B; Im B].
	rb := mat.NewDense(2*n, nrhs, nil)
	for i := range n {
		for j, v := range b[i*nrhs : (i+1)*nrhs] {
			rb.Set(i, j, real(v))
			rb.Set(n+i, j, imag(v))
		}
	}
	var x mat.Dense
	if err := chol.SolveTo(&x, rb); err != nil {
		return fmt.Errorf("cmat: solve HPD: %w", err)
	}
	for i := range n {
		for j := range nrhs {
			dst[i*nrhs+j] = complex(x.At(i, j), x.At(n+i, j))
		}
	}
	return nil
}

// embed returns E(A) (2m x 2n) for A (m x n).
func embed(a []complex128, m, n int) *mat.Dense {
	e := mat.NewDense(2*m, 2*n, nil)
	for i := range m {
		for j, v := range a[i*n : (i+1)*n] {
			re, im := real(v), imag(v)
			e.Set(i, j, re)
			e.Set(i, n+j, -im)
			e.Set(m+i, j, im)
			e.Set(m+i, n+j, re)
		}
	}
	return e
}

func checkShape(what string, s []complex128, r, c int) {
	if r < 0 || c < 0 || len(s) != r*c {
		panic(fmt.Sprintf("cmat: %s has %d elements, want %d x %d", what, len(s), r, c))
	}
}

// Norm2 returns the squared Frobenius norm sum |a_i|^2 of a vector or matrix.
func Norm2(a []complex128) float64 {
	var s float64
	for _, v := range a {
		s += real(v)*real(v) + imag(v)*imag(v)
	}
	return s
}
