package channel

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
	"github.com/cctrack/cctrack/sim/rt"
)

const (
	carrier = 3.5e9
	lambdaC = material.C / carrier
	deg     = math.Pi / 180
)

func near(a, b geom.Vec3, tol float64) bool { return a.Dist(b) <= tol }

func TestSteeringNorm(t *testing.T) {
	// Every entry has unit modulus, so ||a|| = sqrt(N) up to rounding (1e-12 is ~1e4 ε).
	rng := rand.New(rand.NewPCG(1, 2))
	for _, a := range []UPA{
		{Nh: 1, Nv: 1, Spacing: lambdaC / 2},
		{Nh: 2, Nv: 2, Spacing: lambdaC / 2, Yaw: 0.3},
		{Nh: 10, Nv: 10, Spacing: lambdaC / 2, Pitch: -0.2},
		{Nh: 20, Nv: 5, Spacing: 0.7 * lambdaC, Yaw: 2, Pitch: 0.1, Roll: 0.5},
	} {
		s := make([]complex128, a.N())
		for range 20 {
			theta, phi := rng.Float64()*math.Pi, (2*rng.Float64()-1)*math.Pi
			a.Steering(theta, phi, lambdaC, s)
			var n2 float64
			for _, x := range s {
				n2 += real(x)*real(x) + imag(x)*imag(x)
			}
			if got, want := math.Sqrt(n2), math.Sqrt(float64(a.N())); math.Abs(got-want) > 1e-12*want {
				t.Fatalf("%dx%d: ||a|| = %v, want %v", a.Nh, a.Nv, got, want)
			}
		}
	}
}

func TestOrientation(t *testing.T) {
	// Exact rotations of unit axes; 1e-12 covers sin/cos rounding at multiples of 90°.
	x, y, z := geom.V(1, 0, 0), geom.V(0, 1, 0), geom.V(0, 0, 1)
	s := math.Sqrt(0.5)
	for _, tc := range []struct {
		name                    string
		yaw, pitch, roll        float64
		boresight, yAxis, zAxis geom.Vec3
	}{
		{"identity", 0, 0, 0, x, y, z},
		{"yaw 90 turns boresight to +y", 90 * deg, 0, 0, y, x.Neg(), z},
		{"pitch 45 tilts boresight down", 0, 45 * deg, 0, geom.V(s, 0, -s), y, geom.V(s, 0, s)},
		{"roll 90 turns local y to +z", 0, 0, 90 * deg, x, z, y.Neg()},
		// Roll is applied first (about the array's own boresight), yaw last.
		{"roll then yaw", 90 * deg, 0, 90 * deg, y, z, x},
		{"pitch then yaw", 90 * deg, 90 * deg, 0, z.Neg(), x.Neg(), y},
	} {
		a := UPA{Nh: 1, Nv: 1, Spacing: 1, Yaw: tc.yaw, Pitch: tc.pitch, Roll: tc.roll}
		if got := a.rotate(x); !near(got, tc.boresight, 1e-12) {
			t.Errorf("%s: boresight %v, want %v", tc.name, got, tc.boresight)
		}
		if got := a.rotate(y); !near(got, tc.yAxis, 1e-12) {
			t.Errorf("%s: local y %v, want %v", tc.name, got, tc.yAxis)
		}
		if got := a.rotate(z); !near(got, tc.zAxis, 1e-12) {
			t.Errorf("%s: local z %v, want %v", tc.name, got, tc.zAxis)
		}
	}

	// Observable consequence: a yaw-90° array sees a broadside wave (all phases equal) from +y, not +x.
	a := UPA{Nh: 4, Nv: 3, Spacing: lambdaC / 2, Yaw: 90 * deg}
	st := make([]complex128, a.N())
	a.Steering(math.Pi/2, math.Pi/2, lambdaC, st)
	for i, v := range st {
		if cmplx.Abs(v-1) > 1e-12 {
			t.Fatalf("yaw 90°, wave from +y: a[%d] = %v, want 1 (broadside)", i, v)
		}
	}
	a.Steering(math.Pi/2, 0, lambdaC, st)
	// From +x the wave now travels along the array's h axis (endfire): neighbours differ by pi.
	if got := cmplx.Phase(st[1] / st[0]); math.Abs(math.Abs(got)-math.Pi) > 1e-9 {
		t.Fatalf("yaw 90°, wave from +x: neighbour phase step %v, want ±pi", got)
	}
}

func TestOffsetsLayout(t *testing.T) {
	a := UPA{Nh: 3, Nv: 2, Spacing: 0.5, Position: geom.V(10, 20, 30)}
	off := a.Offsets(nil)
	want := []geom.Vec3{
		{Y: -0.5, Z: -0.25}, {Y: 0, Z: -0.25}, {Y: 0.5, Z: -0.25}, // v = 0, h = 0..2
		{Y: -0.5, Z: 0.25}, {Y: 0, Z: 0.25}, {Y: 0.5, Z: 0.25}, // v = 1
	}
	if len(off) != len(want) {
		t.Fatalf("len = %d, want %d", len(off), len(want))
	}
	for i := range want {
		if !near(off[i], want[i], 1e-15) {
			t.Errorf("offset %d = %v, want %v", i, off[i], want[i])
		}
	}
	// Storage is reused when it fits.
	buf := make([]geom.Vec3, 0, 10)
	if got := a.Offsets(buf); &got[0] != &buf[:1][0] {
		t.Error("Offsets did not reuse a large enough dst")
	}
}

func TestSteeringMatchesOffsets(t *testing.T) {
	// Steering must be exp(+j k r_i·u) for the offsets Offsets reports; the phases are O(10) rad so
	// 1e-12 leaves room for rounding in two different evaluation orders.
	rng := rand.New(rand.NewPCG(3, 4))
	a := UPA{Nh: 5, Nv: 4, Spacing: 0.6 * lambdaC, Yaw: 0.7, Pitch: -0.3, Roll: 1.1}
	off := a.Offsets(nil)
	st := make([]complex128, a.N())
	for range 10 {
		theta, phi := rng.Float64()*math.Pi, (2*rng.Float64()-1)*math.Pi
		a.Steering(theta, phi, lambdaC, st)
		u := geom.Dir(theta, phi)
		for i, r := range off {
			want := cmplx.Exp(complex(0, 2*math.Pi/lambdaC*r.Dot(u)))
			if cmplx.Abs(st[i]-want) > 1e-12 {
				t.Fatalf("a[%d] = %v, want %v", i, st[i], want)
			}
		}
	}
}

// randomPaths returns n paths with random angles, delays of a few microseconds and coefficients of
// free-space size.
func randomPaths(rng *rand.Rand, n int) []rt.Path {
	ps := make([]rt.Path, n)
	for i := range ps {
		d := 50 + 500*rng.Float64()
		ps[i] = rt.Path{
			Kind:     rt.Reflection,
			A:        cmplx.Rect(lambdaC/(4*math.Pi*d)*rng.Float64(), 2*math.Pi*rng.Float64()),
			Delay:    d / material.C,
			AoDTheta: rng.Float64() * math.Pi, AoDPhi: (2*rng.Float64() - 1) * math.Pi,
			AoATheta: rng.Float64() * math.Pi, AoAPhi: (2*rng.Float64() - 1) * math.Pi,
		}
	}
	return ps
}

// reference builds H from Steering at λ = c/f, straight from the documented formula.
func reference(paths []rt.Path, bs, ue UPA, f float64) []complex128 {
	lambda := material.C / f
	h := make([]complex128, bs.N()*ue.N())
	ab, au := make([]complex128, bs.N()), make([]complex128, ue.N())
	for _, p := range paths {
		bs.Steering(p.AoDTheta, p.AoDPhi, lambda, ab)
		ue.Steering(p.AoATheta, p.AoAPhi, lambda, au)
		c := p.A * cmplx.Exp(complex(0, -2*math.Pi*f*p.Delay))
		for b := range ab {
			for u := range au {
				h[b*ue.N()+u] += c * ab[b] * au[u]
			}
		}
	}
	return h
}

// maxRelErr is max_i |got_i - want_i| / max_i |want_i|.
func maxRelErr(got, want []complex128) float64 {
	var e, m float64
	for i := range want {
		e = math.Max(e, cmplx.Abs(got[i]-want[i]))
		m = math.Max(m, cmplx.Abs(want[i]))
	}
	return e / m
}

func TestMatrixMatchesSteering(t *testing.T) {
	// Matrix's phasor recurrence against direct evaluation: the recurrence error grows like
	// (N_h+N_v)·ε per entry and the delay phase 2π f τ ~ 4e4 rad carries ~1e-11 absolute rounding in
	// both, so 1e-10 relative to the largest entry is a safe bound that still catches any index or
	// sign slip (those give O(1) errors).
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ bs, ue UPA }{
		{UPA{Nh: 10, Nv: 10, Spacing: lambdaC / 2, Position: geom.V(0, 0, 25), Pitch: 10 * deg}, UPA{Nh: 2, Nv: 2, Spacing: lambdaC / 2}},
		{UPA{Nh: 3, Nv: 7, Spacing: 0.4, Yaw: 1, Roll: 0.2}, UPA{Nh: 4, Nv: 1, Spacing: 0.03, Yaw: -2, Pitch: 0.5}},
		{UPA{Nh: 1, Nv: 1, Spacing: 1}, UPA{Nh: 1, Nv: 1, Spacing: 1}},
		// A UE larger than the stack scratch (64 elements) takes the allocating path.
		{UPA{Nh: 2, Nv: 3, Spacing: lambdaC / 2}, UPA{Nh: 9, Nv: 8, Spacing: lambdaC / 2, Roll: 0.3}},
	} {
		paths := randomPaths(rng, 25)
		for _, f := range []float64{carrier, carrier - 5e6, 28e9} {
			got := make([]complex128, tc.bs.N()*tc.ue.N())
			Matrix(paths, tc.bs, tc.ue, f, got)
			if e := maxRelErr(got, reference(paths, tc.bs, tc.ue, f)); e > 1e-10 {
				t.Errorf("%dx%d x %dx%d at %g Hz: relative error %g", tc.bs.Nh, tc.bs.Nv, tc.ue.Nh, tc.ue.Nv, f, e)
			}
		}
	}
}

// losPath is the single line-of-sight path the BS-side tracer would report between the array
// centres, with the free-space coefficient at wavelength lambda.
func losPath(bs, ue geom.Vec3, lambda float64) rt.Path {
	d := bs.Dist(ue)
	p := rt.Path{Kind: rt.LoS, A: complex(lambda/(4*math.Pi*d), 0), Delay: d / material.C}
	p.AoDTheta, p.AoDPhi = geom.Angles(ue.Sub(bs))
	p.AoATheta, p.AoAPhi = geom.Angles(bs.Sub(ue))
	return p
}

// exactFreeSpace is the element-to-element response λ/(4π d_bu)·exp(-j 2π f d_bu/c) from the real
// element positions, and the far-field error bound for comparing it with the plane-wave model:
// with Δ = r_u - r_b and D = max|Δ|, the path length differs from d + Δ·û by at most
// D²/(2(d-D)) and the amplitude by a factor within D/(d-D), so the relative error is at most
// k·D²/(2(d-D)) + D/(d-D).
func exactFreeSpace(bs, ue UPA, f float64) (h []complex128, bound float64) {
	ob, ou := bs.Offsets(nil), ue.Offsets(nil)
	lambda := material.C / f
	h = make([]complex128, len(ob)*len(ou))
	var dmax float64
	for b, rb := range ob {
		for u, ru := range ou {
			dmax = math.Max(dmax, ru.Dist(rb))
			d := bs.Position.Add(rb).Dist(ue.Position.Add(ru))
			h[b*len(ou)+u] = complex(lambda/(4*math.Pi*d), 0) * cmplx.Exp(complex(0, -2*math.Pi*f*d/material.C))
		}
	}
	d := bs.Position.Dist(ue.Position)
	k := 2 * math.Pi / lambda
	return h, k*dmax*dmax/(2*(d-dmax)) + dmax/(d-dmax)
}

func TestMatrixMatchesExactFreeSpace(t *testing.T) {
	// A 3x2 BS (non-square, so an h/v mix-up shows) and a 2x2 UE, both rotated, at an absolute
	// frequency off the carrier (steering at c/f). Within the far-field bound the plane-wave channel
	// must equal the exact spherical-wave one; at 1 m the bound is large and so is the error, which
	// shows that the comparison can tell the two regimes apart.
	f := carrier + 3e6
	lambda := material.C / f
	bs := UPA{Nh: 3, Nv: 2, Spacing: lambdaC / 2, Position: geom.V(0, 0, 25), Yaw: 30 * deg, Pitch: 10 * deg, Roll: 5 * deg}
	dir := geom.Dir(95*deg, 50*deg)
	for _, tc := range []struct {
		d           float64
		far         bool
		maxErrBound float64
	}{
		{d: 500, far: true, maxErrBound: 1e-3},
		{d: 5000, far: true, maxErrBound: 1e-4}, // the error must keep shrinking like 1/d
		{d: 1, far: false},
	} {
		ue := UPA{Nh: 2, Nv: 2, Spacing: lambdaC / 2, Position: bs.Position.AddScaled(tc.d, dir), Yaw: 200 * deg, Pitch: -5 * deg}
		paths := []rt.Path{losPath(bs.Position, ue.Position, lambda)}
		got := make([]complex128, bs.N()*ue.N())
		Matrix(paths, bs, ue, f, got)
		want, bound := exactFreeSpace(bs, ue, f)
		e := maxRelErr(got, want)
		t.Logf("d = %g m: relative error %.3g, far-field bound %.3g", tc.d, e, bound)
		if tc.far {
			if bound >= tc.maxErrBound {
				t.Fatalf("d = %g m: far-field bound %g is not below %g; test geometry is wrong", tc.d, bound, tc.maxErrBound)
			}
			if e > bound {
				t.Errorf("d = %g m: Matrix differs from the exact free-space response by %g > bound %g", tc.d, e, bound)
			}
			// The conjugate form a_B a_U^H (with a_U from the same +j convention) must fail this test.
			ab, au := make([]complex128, bs.N()), make([]complex128, ue.N())
			bs.Steering(paths[0].AoDTheta, paths[0].AoDPhi, lambda, ab)
			ue.Steering(paths[0].AoATheta, paths[0].AoAPhi, lambda, au)
			c := paths[0].A * cmplx.Exp(complex(0, -2*math.Pi*f*paths[0].Delay))
			conj := make([]complex128, len(got))
			for b := range ab {
				for u := range au {
					conj[b*ue.N()+u] = c * ab[b] * cmplx.Conj(au[u])
				}
			}
			if ec := maxRelErr(conj, want); ec < 0.1 {
				t.Errorf("a_B a_U^H matched the exact response too (error %g); the test cannot tell the conventions apart", ec)
			}
		} else if e < 1e-2 {
			t.Errorf("d = %g m: error %g, expected the near-field mismatch to show (> 1e-2)", tc.d, e)
		}
	}
}

func TestMatricesMatchesMatrix(t *testing.T) {
	// Same arithmetic in the same order, so the results agree to the last bit or nearly; 1e-13
	// allows for the compiler fusing operations differently in the two call sites.
	rng := rand.New(rand.NewPCG(7, 8))
	bs := UPA{Nh: 6, Nv: 4, Spacing: lambdaC / 2, Yaw: 0.4}
	ue := UPA{Nh: 2, Nv: 2, Spacing: lambdaC / 2, Yaw: 2.5}
	o := OFDM{Carrier: carrier, Bandwidth: 10e6, Subcarriers: 512}
	paths := randomPaths(rng, 12)
	subs := []int{0, 1, 255, 256, 511, 100}
	dst := make([][]complex128, len(subs))
	for i := range dst {
		dst[i] = make([]complex128, bs.N()*ue.N())
		dst[i][0] = 42 // must be overwritten
	}
	Matrices(paths, bs, ue, o, subs, dst)
	one := make([]complex128, bs.N()*ue.N())
	for i, k := range subs {
		Matrix(paths, bs, ue, o.Carrier+o.Offset(k), one)
		if e := maxRelErr(dst[i], one); e > 1e-13 {
			t.Errorf("subcarrier %d: Matrices differs from Matrix by %g", k, e)
		}
	}
	// Frequency dependence is real: the band edges differ.
	if e := maxRelErr(dst[0], dst[4]); e < 1e-3 {
		t.Errorf("subcarriers 0 and 511 agree to %g; delay phases missing?", e)
	}
}

func TestOFDMOffset(t *testing.T) {
	o := OFDM{Carrier: carrier, Bandwidth: 10e6, Subcarriers: 512}
	df := 10e6 / 512
	for _, tc := range []struct {
		k    int
		want float64
	}{{0, -5e6}, {256, 0}, {257, df}, {511, 5e6 - df}} {
		if got := o.Offset(tc.k); math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("Offset(%d) = %v, want %v", tc.k, got, tc.want)
		}
	}
	odd := OFDM{Carrier: carrier, Bandwidth: 3e6, Subcarriers: 3}
	if got := odd.Offset(1); got != 0 {
		t.Errorf("3 subcarriers: Offset(1) = %v, want 0", got)
	}
}

func TestValidate(t *testing.T) {
	good := UPA{Nh: 2, Nv: 2, Spacing: 0.04}
	for _, tc := range []struct {
		name string
		mod  func(*UPA)
		want string // substring of the error, "" for valid
	}{
		{"valid", func(*UPA) {}, ""},
		{"zero Nh", func(a *UPA) { a.Nh = 0 }, "size 0x2"},
		{"negative Nv", func(a *UPA) { a.Nv = -1 }, "size 2x-1"},
		{"zero spacing", func(a *UPA) { a.Spacing = 0 }, "spacing"},
		{"NaN spacing", func(a *UPA) { a.Spacing = math.NaN() }, "spacing"},
		{"inf spacing", func(a *UPA) { a.Spacing = math.Inf(1) }, "spacing"},
		{"NaN position", func(a *UPA) { a.Position.Y = math.NaN() }, "position"},
		{"inf yaw", func(a *UPA) { a.Yaw = math.Inf(-1) }, "orientation"},
	} {
		a := good
		tc.mod(&a)
		err := a.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}

	goodO := OFDM{Carrier: carrier, Bandwidth: 10e6, Subcarriers: 512}
	for _, tc := range []struct {
		name string
		mod  func(*OFDM)
		want string
	}{
		{"valid", func(*OFDM) {}, ""},
		{"zero carrier", func(o *OFDM) { o.Carrier = 0 }, "carrier"},
		{"NaN carrier", func(o *OFDM) { o.Carrier = math.NaN() }, "carrier"},
		{"negative bandwidth", func(o *OFDM) { o.Bandwidth = -1 }, "bandwidth"},
		{"bandwidth beyond carrier", func(o *OFDM) { o.Bandwidth = 2 * carrier }, "bandwidth"},
		{"no subcarriers", func(o *OFDM) { o.Subcarriers = 0 }, "subcarriers"},
	} {
		o := goodO
		tc.mod(&o)
		err := o.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
}

func TestShapePanics(t *testing.T) {
	a := UPA{Nh: 2, Nv: 2, Spacing: 0.04}
	o := OFDM{Carrier: carrier, Bandwidth: 10e6, Subcarriers: 4}
	for name, fn := range map[string]func(){
		"Steering short dst": func() { a.Steering(0, 0, lambdaC, make([]complex128, 3)) },
		"Matrix short dst":   func() { Matrix(nil, a, a, carrier, make([]complex128, 15)) },
		"Matrices count":     func() { Matrices(nil, a, a, o, []int{0, 1}, make([][]complex128, 1)) },
		"Matrices entry":     func() { Matrices(nil, a, a, o, []int{0}, [][]complex128{make([]complex128, 4)}) },
		"Offset range":       func() { o.Offset(4) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			fn()
		}()
	}
}

func benchmarkMatrix(b *testing.B, nh, nv int) {
	rng := rand.New(rand.NewPCG(9, 10))
	bs := UPA{Nh: nh, Nv: nv, Spacing: lambdaC / 2, Position: geom.V(0, 0, 25)}
	ue := UPA{Nh: 2, Nv: 2, Spacing: lambdaC / 2}
	paths := randomPaths(rng, 25)
	dst := make([]complex128, bs.N()*ue.N())
	b.ReportAllocs()
	for b.Loop() {
		Matrix(paths, bs, ue, carrier, dst)
	}
}

func BenchmarkMatrix10x10x2x2L25(b *testing.B) { benchmarkMatrix(b, 10, 10) }
func BenchmarkMatrix20x20x2x2L25(b *testing.B) { benchmarkMatrix(b, 20, 20) }

func BenchmarkMatrices20x20x2x2L25K64(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	bs := UPA{Nh: 20, Nv: 20, Spacing: lambdaC / 2}
	ue := UPA{Nh: 2, Nv: 2, Spacing: lambdaC / 2}
	o := OFDM{Carrier: carrier, Bandwidth: 10e6, Subcarriers: 512}
	paths := randomPaths(rng, 25)
	subs := make([]int, 64)
	dst := make([][]complex128, len(subs))
	for i := range subs {
		subs[i] = i * 8
		dst[i] = make([]complex128, bs.N()*ue.N())
	}
	b.ReportAllocs()
	for b.Loop() {
		Matrices(paths, bs, ue, o, subs, dst)
	}
}
