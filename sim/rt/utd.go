package rt

import (
	"math"
	"math/cmplx"
)

// transition is the UTD transition function of Kouyoumjian and Pathak,
//
//	F(x) = 2j sqrt(x) e^{jx} ∫_{sqrt(x)}^∞ e^{-j t²} dt,   x >= 0.
//
// Rotating the contour (t = s e^{-j pi/4}) turns the integral into e^{-j pi/4} (sqrt(pi)/2)
// erfc(z) with z = sqrt(x) e^{j pi/4}. For sqrt(x) <= 2 the integral is sqrt(pi)/2 e^{-j pi/4} minus
// the power series ∫_0^u e^{-j t²} dt = Σ (-j)^n u^{2n+1} / (n! (2n+1)) (terms peak near e^{u²}/…,
// so at most one digit is lost); beyond, the continued fraction
//
//	erfc(z) = e^{-z²}/sqrt(pi) · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …))))
//
// evaluated with the modified Lentz method gives F(x) = j u e^{-j pi/4} / K(z), K the denominator
// above, free of the cancellation a large x would cause in the series. Both branches are accurate
// to about 1e-14.
func transition(x float64) complex128 {
	if x <= 0 {
		return 0
	}
	u := math.Sqrt(x)
	em := cmplx.Exp(complex(0, -math.Pi/4))
	if u <= 2 {
		// ∫_0^u e^{-j t²} dt by its power series.
		var sum complex128
		term := complex(u, 0) // (-j)^n u^{2n+1} / n!
		for n := 0; n < 200; n++ {
			c := term / complex(float64(2*n+1), 0)
			sum += c
			if cmplx.Abs(c) < 1e-17*cmplx.Abs(sum) {
				break
			}
			term *= complex(0, -x) / complex(float64(n+1), 0)
		}
		g := complex(math.Sqrt(math.Pi)/2, 0)*em - sum
		return complex(0, 2*u) * cmplx.Exp(complex(0, x)) * g
	}
	z := complex(u, 0) * cmplx.Exp(complex(0, math.Pi/4))
	const tiny = 1e-300
	f := z
	c, d := f, complex128(0)
	for n := 1; n < 1000; n++ {
		a := complex(float64(n)/2, 0)
		d = z + a*d
		if d == 0 {
			d = tiny
		}
		c = z + a/c
		if c == 0 {
			c = tiny
		}
		d = 1 / d
		delta := c * d
		f *= delta
		if cmplx.Abs(delta-1) < 1e-16 {
			break
		}
	}
	return complex(0, u) * em / f
}

// cotF returns cot((pi + sgn·beta)/(2n)) · F(k L a(beta)) for one term of the UTD coefficient, with
// a^±(beta) = 2 cos²((2 pi n N - beta)/2) and N the integer nearest to (beta ± pi)/(2 pi n). On a
// shadow boundary the cotangent is infinite and F vanishes; the product's limit there,
// n sqrt(2 pi k L) e^{j pi/4} · sign(eps) with eps = pi + sgn·beta - 2 pi n N·sgn, is used when
// sin of the cotangent's argument is below 1e-12.
func cotF(sgn, beta, n, kl float64) complex128 {
	N := math.Round((beta + sgn*math.Pi) / (2 * math.Pi * n))
	arg := (math.Pi + sgn*beta) / (2 * n)
	s, c := math.Sincos(arg)
	if math.Abs(s) < 1e-12 {
		eps := math.Pi + sgn*beta - sgn*2*math.Pi*n*N
		if eps == 0 {
			return 0
		}
		return complex(math.Copysign(n*math.Sqrt(2*math.Pi*kl), eps), 0) * cmplx.Exp(complex(0, math.Pi/4))
	}
	h := math.Cos((2*math.Pi*n*N - beta) / 2)
	return complex(c/s, 0) * transition(kl*2*h*h)
}

// utdCoefficients returns the soft and hard diffraction coefficients of a wedge of exterior angle
// n·pi (Kouyoumjian–Pathak) with Luebbers' reflection coefficients for lossy faces:
//
//	D = -e^{-j pi/4} / (2n sqrt(2 pi k) sin beta0) · [ cotF(+, phi-phi') + cotF(-, phi-phi')
//	    + R_n cotF(+, phi+phi') + R_0 cotF(-, phi+phi') ]
//
// phi' and phi are the angles of the source and the observer from face 0, beta0 the angle between
// the incident ray and the edge, k = 2 pi / lambda, L = s s' sin² beta0 / (s + s'). R_0 and R_n are
// the faces' reflection coefficients for the soft (E along the edge: r_TE) and hard (r_TM)
// polarisations; a perfect conductor has (-1, +1), which gives the classic ∓ sign.
func utdCoefficients(n, phiI, phiD, sinB0, k, l float64, r0s, rns, r0h, rnh complex128) (ds, dh complex128) {
	kl := k * l
	t1 := cotF(1, phiD-phiI, n, kl)
	t2 := cotF(-1, phiD-phiI, n, kl)
	t3 := cotF(1, phiD+phiI, n, kl)
	t4 := cotF(-1, phiD+phiI, n, kl)
	pre := -cmplx.Exp(complex(0, -math.Pi/4)) / complex(2*n*math.Sqrt(2*math.Pi*k)*sinB0, 0)
	ds = pre * (t1 + t2 + rns*t3 + r0s*t4)
	dh = pre * (t1 + t2 + rnh*t3 + r0h*t4)
	return ds, dh
}
