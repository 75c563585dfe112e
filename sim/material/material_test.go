package material

import (
	"math"
	"math/cmplx"
	"strings"
	"testing"
)

func TestPermittivityTable(t *testing.T) {
	// Wireless InSite's "ITU wet earth 3.5 GHz" is the P.2040 fit evaluated at 3.5 GHz:
	// eps_r 18.1758, sigma 0.7645 S/m (../shared/data/README.md); both quoted to 4-6 digits.
	wet, err := Lookup("wet_ground")
	if err != nil {
		t.Fatal(err)
	}
	f := 3.5e9
	eta := wet.Permittivity(f)
	if math.Abs(real(eta)-18.1758) > 1e-3 {
		t.Errorf("wet_ground eps' = %.5f, want 18.1758", real(eta))
	}
	sigma := -imag(eta) * 2 * math.Pi * f * Eps0
	if math.Abs(sigma-0.7645) > 5e-4 {
		t.Errorf("wet_ground sigma = %.5f S/m, want 0.7645", sigma)
	}
	// concrete: eps' = 5.24, sigma = 0.0462 f^0.7822 (P.2040 table 3), f = 1 GHz makes sigma = c.
	c, _ := Lookup("concrete")
	eta = c.Permittivity(1e9)
	if real(eta) != 5.24 || math.Abs(-imag(eta)*2*math.Pi*1e9*Eps0-0.0462) > 1e-12 {
		t.Errorf("concrete at 1 GHz: %v", eta)
	}
}

func TestLookupNames(t *testing.T) {
	want := []string{"concrete", "brick", "plasterboard", "wood", "glass", "ceiling_board", "chipboard",
		"plywood", "marble", "floorboard", "metal", "very_dry_ground", "medium_dry_ground", "wet_ground"}
	for _, n := range want {
		for _, spelling := range []string{n, "itu_" + n, "mat-itu_" + n, strings.ToUpper(n)} {
			m, err := Lookup(spelling)
			if err != nil || m.Name != n {
				t.Errorf("Lookup(%q) = %v, %v", spelling, m.Name, err)
			}
		}
	}
	if _, err := Lookup("unobtainium"); err == nil || !strings.Contains(err.Error(), "unobtainium") {
		t.Errorf("unknown material error: %v", err)
	}
}

// Tolerances below are 1e-12: the formulas are evaluated in closed form, so only rounding differs.
func TestFresnelClosedForms(t *testing.T) {
	f := 3.5e9
	// Normal incidence: r_TE = (1 - sqrt eta)/(1 + sqrt eta) and r_TM = -r_TE in Sionna's basis.
	for _, name := range []string{"concrete", "glass", "wet_ground"} {
		m, _ := Lookup(name)
		s := Surface{Material: m}
		rTE, rTM := s.Reflection(f, 1)
		sq := cmplx.Sqrt(m.Permittivity(f))
		want := (1 - sq) / (1 + sq)
		if cmplx.Abs(rTE-want) > 1e-12 || cmplx.Abs(rTM+want) > 1e-12 {
			t.Errorf("%s normal incidence: rTE %v rTM %v, want %v and its negative", name, rTE, rTM, want)
		}
		// Grazing incidence reflects totally with a sign flip for both polarisations.
		rTE, rTM = s.Reflection(f, 0)
		if cmplx.Abs(rTE+1) > 1e-12 || cmplx.Abs(rTM+1) > 1e-12 {
			t.Errorf("%s grazing: %v %v, want -1", name, rTE, rTM)
		}
	}
	// Brewster angle of a lossless dielectric: r_TM = 0 at tan(theta) = sqrt(eps).
	d := Surface{Material: Constant("lossless", 4, 0)}
	tb := math.Atan(2)
	_, rTM := d.Reflection(f, math.Cos(tb))
	if cmplx.Abs(rTM) > 1e-12 {
		t.Errorf("Brewster: |r_TM| = %g", cmplx.Abs(rTM))
	}
	// A perfect conductor reflects with r = -1.
	metal, _ := Lookup("metal")
	rTE, _ := Surface{Material: metal}.Reflection(f, 0.7)
	if cmplx.Abs(rTE+1) > 1e-3 { // sigma = 1e7 S/m is finite: |r + 1| ~ 2 cos t / sqrt|eta| ~ 4e-4
		t.Errorf("metal rTE = %v", rTE)
	}
}

func TestSlab(t *testing.T) {
	f := 3.5e9
	lambda := C / f
	// A lossless half-wave slab (d = lambda / (2 sqrt eps)) is transparent at normal incidence.
	eps := 4.0
	s := Surface{Material: Constant("lossless", eps, 0), Thickness: lambda / (2 * math.Sqrt(eps))}
	rTE, rTM := s.Reflection(f, 1)
	if cmplx.Abs(rTE) > 1e-12 || cmplx.Abs(rTM) > 1e-12 {
		t.Errorf("half-wave slab reflects: %v %v", rTE, rTM)
	}
	// A quarter-wave slab reflects most: |R| = 2|r|/(1+|r|^2).
	s.Thickness /= 2
	rTE, _ = s.Reflection(f, 1)
	r := (1 - math.Sqrt(eps)) / (1 + math.Sqrt(eps))
	if want := 2 * math.Abs(r) / (1 + r*r); math.Abs(cmplx.Abs(rTE)-want) > 1e-12 {
		t.Errorf("quarter-wave slab |R| = %g, want %g", cmplx.Abs(rTE), want)
	}
	// A thick lossy slab is a half-space: the wave inside decays by exp(-2 Im(q)) before it can
	// come back; 3 m of wet ground attenuates by far more than 1e-9.
	wet, _ := Lookup("wet_ground")
	half := Surface{Material: wet}
	thick := Surface{Material: wet, Thickness: 3}
	for _, c := range []float64{1, 0.5, 0.1} {
		a, b := half.Reflection(f, c)
		x, y := thick.Reflection(f, c)
		if cmplx.Abs(a-x) > 1e-9 || cmplx.Abs(b-y) > 1e-9 {
			t.Errorf("cos %g: thick slab %v %v vs half-space %v %v", c, x, y, a, b)
		}
	}
}

func BenchmarkReflection(b *testing.B) {
	m, _ := Lookup("concrete")
	s := Surface{Material: m, Thickness: 0.3}
	var sink complex128
	for i := 0; i < b.N; i++ {
		x, y := s.Reflection(3.5e9, 0.3+0.5*float64(i%2))
		sink += x + y
	}
	_ = sink
}
