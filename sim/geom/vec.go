// Package geom holds the small amount of 3-D vector geometry shared by the scene loaders, the ray
// tracer and the array models. Coordinates are metres in the scene frame; z is up.
package geom

import "math"

// Vec3 is a point or direction in metres.
type Vec3 struct{ X, Y, Z float64 }

// V is shorthand for Vec3{x, y, z}.
func V(x, y, z float64) Vec3 { return Vec3{x, y, z} }

func (a Vec3) Add(b Vec3) Vec3                  { return Vec3{a.X + b.X, a.Y + b.Y, a.Z + b.Z} }
func (a Vec3) Sub(b Vec3) Vec3                  { return Vec3{a.X - b.X, a.Y - b.Y, a.Z - b.Z} }
func (a Vec3) Scale(s float64) Vec3             { return Vec3{a.X * s, a.Y * s, a.Z * s} }
func (a Vec3) Dot(b Vec3) float64               { return a.X*b.X + a.Y*b.Y + a.Z*b.Z }
func (a Vec3) Norm() float64                    { return math.Sqrt(a.Dot(a)) }
func (a Vec3) Norm2() float64                   { return a.Dot(a) }
func (a Vec3) Neg() Vec3                        { return Vec3{-a.X, -a.Y, -a.Z} }
func (a Vec3) Dist(b Vec3) float64              { return a.Sub(b).Norm() }
func (a Vec3) AddScaled(s float64, b Vec3) Vec3 { return Vec3{a.X + s*b.X, a.Y + s*b.Y, a.Z + s*b.Z} }

// Cross is the right-handed cross product a × b.
func (a Vec3) Cross(b Vec3) Vec3 {
	return Vec3{a.Y*b.Z - a.Z*b.Y, a.Z*b.X - a.X*b.Z, a.X*b.Y - a.Y*b.X}
}

// Unit returns a/|a|; the zero vector stays zero.
func (a Vec3) Unit() Vec3 {
	n := a.Norm()
	if n == 0 {
		return a
	}
	return a.Scale(1 / n)
}

// Index returns component i (0=x, 1=y, 2=z).
func (a Vec3) Index(i int) float64 {
	switch i {
	case 0:
		return a.X
	case 1:
		return a.Y
	default:
		return a.Z
	}
}

// Min and Max are component-wise.
func Min(a, b Vec3) Vec3 { return Vec3{math.Min(a.X, b.X), math.Min(a.Y, b.Y), math.Min(a.Z, b.Z)} }
func Max(a, b Vec3) Vec3 { return Vec3{math.Max(a.X, b.X), math.Max(a.Y, b.Y), math.Max(a.Z, b.Z)} }

// Angles returns the Sionna spherical angles of direction d: theta is the zenith angle from +z in
// [0, pi], phi the azimuth from +x towards +y in (-pi, pi].
func Angles(d Vec3) (theta, phi float64) {
	n := d.Norm()
	if n == 0 {
		return 0, 0
	}
	return math.Acos(clamp(d.Z/n, -1, 1)), math.Atan2(d.Y, d.X)
}

// Dir is the unit vector with zenith theta and azimuth phi (inverse of Angles).
func Dir(theta, phi float64) Vec3 {
	st, ct := math.Sincos(theta)
	sp, cp := math.Sincos(phi)
	return Vec3{st * cp, st * sp, ct}
}

// ThetaHat and PhiHat are the spherical unit vectors at direction (theta, phi).
func ThetaHat(theta, phi float64) Vec3 {
	st, ct := math.Sincos(theta)
	sp, cp := math.Sincos(phi)
	return Vec3{ct * cp, ct * sp, -st}
}

func PhiHat(phi float64) Vec3 {
	sp, cp := math.Sincos(phi)
	return Vec3{-sp, cp, 0}
}

// Finite reports whether every x is neither NaN nor infinite.
func Finite(xs ...float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// Finite reports whether every component of a is finite.
func (a Vec3) Finite() bool { return Finite(a.X, a.Y, a.Z) }

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }
