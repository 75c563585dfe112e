// Package channel turns ray-traced paths (sim/rt.Path) into MIMO channel matrices between two
// uniform planar arrays, one OFDM subcarrier at a time.
//
// # Arrays
//
// A UPA has N_h x N_v isotropic elements in its local y–z plane, boresight along local +x. Element
// i = v*N_h + h sits at the local offset
//
//	r_i^local = (0, (h - (N_h-1)/2)·d, (v - (N_v-1)/2)·d),   d = Spacing,
//
// and its scene-frame offset from Position is r_i = R·r_i^local with
//
//	R = R_z(yaw) · R_y(pitch) · R_x(roll),
//
// the intrinsic z–y'–x” (Tait–Bryan) composition of 3GPP TR 38.901 §7.1.3, which Sionna RT also uses
// for its (alpha, beta, gamma) orientation: roll about the array's own boresight is applied first, then
// pitch, then yaw about the scene's z axis. With the right-handed elementary rotations this means
// yaw = +90° turns boresight from +x to +y, and pitch = +θ tilts boresight down by θ (R_y(θ)·x̂ =
// (cos θ, 0, -sin θ)).
//
// # Steering vectors and the channel matrix
//
// For a direction u = geom.Dir(theta, phi) pointing from the array towards the far end of a path,
//
//	a_i(theta, phi) = exp(+j 2π/λ · r_i·u).
//
// An element displaced by r_i towards the far end shortens the path by r_i·u, which advances the
// phase of exp(-j 2π f τ) by exactly that factor. The paths come from one trace with the BS as the
// tracer's transmitter (one trace from the fixed BS serves every user; the channel is reciprocal), so
// Omega_B = (AoDTheta, AoDPhi) and Omega_U = (AoATheta, AoAPhi) both point away from their array
// along the path. The link itself is uplink (the UE transmits, the BS receives), and H is N_B x N_U:
//
//	H(f) = Σ_l A_l · exp(-j 2π f τ_l) · a_B(Omega_B,l) · a_U(Omega_U,l)^T
//
// with f the absolute frequency (carrier plus subcarrier offset) and λ = c/f in both steering vectors:
// the arrays are modelled exactly at every subcarrier (no narrowband approximation, so beam squint
// across the band is included). A_l is used as the tracer computed it (its λ/(4π d) spreading at the
// tracer's frequency); only the delay phase and the steering vectors follow f.
//
// DESIGN.md and the paper write the product as a_B a_U^H. Since both displacements shorten the path,
// the physically right product with the exp(+j k r·u) convention at both ends is a_B a_U^T; it equals
// the a_B a_U^H form when a_U is defined with the conjugate convention a_U,i = exp(-j k r_i·u). The
// test TestMatrixMatchesExactFreeSpace pins this against the exact element-to-element free-space
// response λ/(4π d_bu)·exp(-j 2π f d_bu/c).
package channel

import (
	"fmt"
	"math"
	"math/cmplx"

	"github.com/cctrack/cctrack/sim/geom"
)

// UPA is a uniform planar array; see the package documentation for its geometry and orientation.
type UPA struct {
	Nh, Nv           int
	Spacing          float64 // element spacing in metres
	Position         geom.Vec3
	Yaw, Pitch, Roll float64 // radians
}

// N is the number of elements, N_h·N_v.
func (a UPA) N() int { return a.Nh * a.Nv }

// Validate reports a non-positive size or spacing, or non-finite position or orientation.
func (a UPA) Validate() error {
	switch {
	case a.Nh < 1 || a.Nv < 1:
		return fmt.Errorf("channel: UPA size %dx%d: both dimensions must be at least 1", a.Nh, a.Nv)
	case !(a.Spacing > 0) || math.IsInf(a.Spacing, 0):
		return fmt.Errorf("channel: UPA spacing %g m: must be positive and finite", a.Spacing)
	case !a.Position.Finite():
		return fmt.Errorf("channel: UPA position %v: must be finite", a.Position)
	case !geom.Finite(a.Yaw, a.Pitch, a.Roll):
		return fmt.Errorf("channel: UPA orientation (yaw %g, pitch %g, roll %g): must be finite", a.Yaw, a.Pitch, a.Roll)
	}
	return nil
}

// rotate applies R = R_z(yaw)·R_y(pitch)·R_x(roll) to the local vector p.
func (a UPA) rotate(p geom.Vec3) geom.Vec3 {
	sr, cr := math.Sincos(a.Roll)
	p = geom.Vec3{X: p.X, Y: cr*p.Y - sr*p.Z, Z: sr*p.Y + cr*p.Z}
	sp, cp := math.Sincos(a.Pitch)
	p = geom.Vec3{X: cp*p.X + sp*p.Z, Y: p.Y, Z: -sp*p.X + cp*p.Z}
	sy, cy := math.Sincos(a.Yaw)
	return geom.Vec3{X: cy*p.X - sy*p.Y, Y: sy*p.X + cy*p.Y, Z: p.Z}
}

// axes returns the scene-frame images of the local y and z axes, scaled by the spacing: the
// displacement between neighbouring elements along h and along v.
func (a UPA) axes() (stepH, stepV geom.Vec3) {
	return a.rotate(geom.Vec3{Y: a.Spacing}), a.rotate(geom.Vec3{Z: a.Spacing})
}

// Offsets returns the element offsets r_i from Position in the scene frame, i = v*N_h + h. It
// reuses dst's storage when its capacity is at least N and allocates otherwise.
func (a UPA) Offsets(dst []geom.Vec3) []geom.Vec3 {
	n := a.N()
	if cap(dst) < n {
		dst = make([]geom.Vec3, n)
	}
	dst = dst[:n]
	stepH, stepV := a.axes()
	ch, cv := float64(a.Nh-1)/2, float64(a.Nv-1)/2
	for v := 0; v < a.Nv; v++ {
		for h := 0; h < a.Nh; h++ {
			dst[v*a.Nh+h] = stepH.Scale(float64(h) - ch).Add(stepV.Scale(float64(v) - cv))
		}
	}
	return dst
}

// Steering writes a_i = exp(+j 2π/λ · r_i·u), u = geom.Dir(theta, phi) pointing from the array
// towards the far end of the path, into dst. It panics unless len(dst) == N.
//
// Each element's phase is evaluated directly (no recurrence); Matrix uses a faster recurrence and is
// tested against this function.
func (a UPA) Steering(theta, phi, lambda float64, dst []complex128) {
	if len(dst) != a.N() {
		panic(fmt.Sprintf("channel: Steering: len(dst) = %d, want N = %d", len(dst), a.N()))
	}
	u := geom.Dir(theta, phi)
	stepH, stepV := a.axes()
	k := 2 * math.Pi / lambda
	ph, pv := k*stepH.Dot(u), k*stepV.Dot(u)
	ch, cv := float64(a.Nh-1)/2, float64(a.Nv-1)/2
	for v := 0; v < a.Nv; v++ {
		for h := 0; h < a.Nh; h++ {
			dst[v*a.Nh+h] = cmplx.Exp(complex(0, (float64(h)-ch)*ph+(float64(v)-cv)*pv))
		}
	}
}

// OFDM is a subcarrier grid: Subcarriers over Bandwidth Hz around Carrier Hz, spacing
// Δf = Bandwidth/Subcarriers, subcarrier k at baseband offset (k - Subcarriers/2)·Δf (integer
// division, so for an even count subcarrier Subcarriers/2 sits on the carrier).
type OFDM struct {
	Carrier, Bandwidth float64 // Hz
	Subcarriers        int
}

// Offset is the baseband offset (k - Subcarriers/2)·Bandwidth/Subcarriers of subcarrier k in Hz. It
// panics unless 0 <= k < Subcarriers.
func (o OFDM) Offset(k int) float64 {
	if k < 0 || k >= o.Subcarriers {
		panic(fmt.Sprintf("channel: OFDM.Offset(%d) with %d subcarriers", k, o.Subcarriers))
	}
	return float64(k-o.Subcarriers/2) * o.Bandwidth / float64(o.Subcarriers)
}

// Validate requires a positive carrier, a positive bandwidth below twice the carrier (so that every
// subcarrier has a positive absolute frequency), and at least one subcarrier.
func (o OFDM) Validate() error {
	switch {
	case !(o.Carrier > 0) || math.IsInf(o.Carrier, 0):
		return fmt.Errorf("channel: OFDM carrier %g Hz: must be positive and finite", o.Carrier)
	case !(o.Bandwidth > 0) || !(o.Bandwidth < 2*o.Carrier):
		return fmt.Errorf("channel: OFDM bandwidth %g Hz: must be positive and below twice the carrier (%g Hz)", o.Bandwidth, o.Carrier)
	case o.Subcarriers < 1:
		return fmt.Errorf("channel: OFDM subcarriers %d: must be at least 1", o.Subcarriers)
	}
	return nil
}
