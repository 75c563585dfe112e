// Package rt is cctrack's geometric ray tracer: a BVH over a scene's triangles, line of sight,
// specular reflections (exact image-method paths) up to a configurable order, and optional first-order
// edge diffraction.
package rt

import (
	"github.com/cctrack/cctrack/sim/geom"
)

// Kind classifies a path by its interactions.
type Kind uint8

const (
	LoS Kind = iota
	Reflection
	Diffraction
)

func (k Kind) String() string {
	switch k {
	case LoS:
		return "los"
	case Reflection:
		return "reflection"
	default:
		return "diffraction"
	}
}

// Path is one propagation path from the transmitter to a receiver.
//
// A is the complex path coefficient without the propagation phase: for a path of total length d,
//
//	A = lambda/(4 pi d) · (theta_rx · R_n … R_1 · theta_tx)
//
// with R_i the reflection (or diffraction) dyadics and theta_* the vertical-polarisation unit vectors
// of the isotropic antennas at each end. The phase exp(-j 2 pi f tau) is added by whoever forms a
// channel at frequency f (sim/channel uses the absolute frequency, carrier plus subcarrier offset).
// Angles follow Sionna: theta is the zenith angle from +z, phi the azimuth from +x towards +y; AoD
// is the direction leaving the transmitter, AoA the direction at the receiver pointing back along the
// arriving wave.
type Path struct {
	Kind Kind
	// Interactions has one letter per vertex: 'R' reflection, 'D' diffraction.
	Interactions string
	// Vertices are the interaction points, transmitter and receiver excluded.
	Vertices []geom.Vec3
	// Faces are the triangle indices of the reflections (-1 for a diffraction vertex).
	Faces            []int32
	A                complex128
	Delay            float64 // seconds
	AoDTheta, AoDPhi float64
	AoATheta, AoAPhi float64
}
