// Package material models radio materials after Recommendation ITU-R P.2040-3 and their specular
// reflection coefficients.
//
// Complex relative permittivity at frequency f (table 3 of P.2040, f in GHz):
//
//	eta(f) = eps'(f) - j sigma(f) / (2 pi f eps0),   eps'(f) = a f^b,   sigma(f) = c f^d  [S/m]
//
// Reflection uses the Fresnel coefficients of a half-space (P.2040 eqs. 31a/31b)
//
//	r_TE = (cos t - sqrt(eta - sin^2 t)) / (cos t + sqrt(eta - sin^2 t))
//	r_TM = (eta cos t - sqrt(eta - sin^2 t)) / (eta cos t + sqrt(eta - sin^2 t))
//
// or, when the surface has a thickness d > 0, the single-layer slab of P.2040 §2.2.3
//
//	q = (2 pi d / lambda) sqrt(eta - sin^2 t)
//	R = r (1 - exp(-j 2q)) / (1 - r^2 exp(-j 2q))
//
// applied to each polarisation's half-space r. The polarisation basis is Sionna's: e_perp = k_i × n
// normalised, e_par = e_perp × k (incident and reflected k respectively), so that at normal incidence
// r_TM = -r_TE describes the same physical reflection.
package material

import (
	"fmt"
	"math"
	"math/cmplx"
	"sort"
	"strings"
)

// Eps0 is the vacuum permittivity in F/m; C is the speed of light in m/s.
const (
	Eps0 = 8.8541878128e-12
	C    = 299792458.0
)

// ITU is one row of the P.2040 material table: eps' = A f^B, sigma = C f^D with f in GHz.
type ITU struct {
	Name       string
	A, B, C, D float64
	// FMinGHz and FMaxGHz bound the frequency range P.2040 states for the fit.
	FMinGHz, FMaxGHz float64
}

// table is ITU-R P.2040-3 table 3 (glass: the 0.1–100 GHz row).
var table = []ITU{
	{"vacuum", 1, 0, 0, 0, 0.001, 100},
	{"concrete", 5.24, 0, 0.0462, 0.7822, 1, 100},
	{"brick", 3.91, 0, 0.0238, 0.16, 1, 40},
	{"plasterboard", 2.73, 0, 0.0085, 0.9395, 1, 100},
	{"wood", 1.99, 0, 0.0047, 1.0718, 0.001, 100},
	{"glass", 6.31, 0, 0.0036, 1.3394, 0.1, 100},
	{"ceiling_board", 1.48, 0, 0.0011, 1.0750, 1, 100},
	{"chipboard", 2.58, 0, 0.0217, 0.7800, 1, 100},
	{"plywood", 2.71, 0, 0.33, 0, 1, 40},
	{"marble", 7.074, 0, 0.0055, 0.9262, 1, 60},
	{"floorboard", 3.66, 0, 0.0044, 1.3515, 50, 100},
	{"metal", 1, 0, 1e7, 0, 1, 100},
	{"very_dry_ground", 3, 0, 0.00015, 2.52, 1, 10},
	{"medium_dry_ground", 15, -0.1, 0.035, 1.63, 1, 10},
	{"wet_ground", 30, -0.4, 0.15, 1.30, 1, 10},
}

// Lookup returns the P.2040 material with the given name. The Sionna prefixes "itu_" and
// "mat-itu_" are accepted.
func Lookup(name string) (ITU, error) {
	n := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(name), "mat-"), "itu_")
	for _, m := range table {
		if m.Name == n {
			return m, nil
		}
	}
	return ITU{}, fmt.Errorf("unknown ITU material %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Names lists the known material names, sorted.
func Names() []string {
	out := make([]string, 0, len(table))
	for _, m := range table {
		out = append(out, m.Name)
	}
	sort.Strings(out)
	return out
}

// Constant returns a material with frequency-independent permittivity and conductivity, for
// measured values such as a ray-tracing study's own material file.
func Constant(name string, epsR, sigma float64) ITU {
	return ITU{Name: name, A: epsR, C: sigma, FMinGHz: 0, FMaxGHz: math.Inf(1)}
}

// Permittivity returns the complex relative permittivity eta(f) at f Hz.
func (m ITU) Permittivity(f float64) complex128 {
	g := f / 1e9
	epsR := m.A * math.Pow(g, m.B)
	sigma := m.C * math.Pow(g, m.D)
	return complex(epsR, -sigma/(2*math.Pi*f*Eps0))
}

// Surface is a material as it appears on a face: Thickness 0 is a half-space, otherwise a slab.
type Surface struct {
	Material  ITU
	Thickness float64 // metres
}

// Reflection returns (r_TE, r_TM) at frequency f Hz for an incidence angle t given by
// cosTheta = |cos t| (angle between the incoming ray and the surface normal).
func (s Surface) Reflection(f, cosTheta float64) (rTE, rTM complex128) {
	eta := s.Material.Permittivity(f)
	c := complex(math.Abs(cosTheta), 0)
	sin2 := complex(1-real(c)*real(c), 0)
	root := cmplx.Sqrt(eta - sin2)
	rTE = (c - root) / (c + root)
	rTM = (eta*c - root) / (eta*c + root)
	if s.Thickness <= 0 {
		return rTE, rTM
	}
	q := complex(2*math.Pi*s.Thickness*f/C, 0) * root
	e := cmplx.Exp(-2i * q)
	slab := func(r complex128) complex128 { return r * (1 - e) / (1 - r*r*e) }
	return slab(rTE), slab(rTM)
}
