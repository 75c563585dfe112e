package geom

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Round-trip and orthonormality hold to rounding (1e-12) for directions away from the poles.
func TestAnglesBasis(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1000; i++ {
		theta := 0.01 + rng.Float64()*(math.Pi-0.02)
		phi := (rng.Float64()*2 - 1) * math.Pi
		d := Dir(theta, phi)
		th, ph := Angles(d.Scale(3.7))
		if math.Abs(th-theta) > 1e-12 || math.Abs(ph-phi) > 1e-12 {
			t.Fatalf("Angles(Dir(%g, %g)) = %g, %g", theta, phi, th, ph)
		}
		tt, pp := ThetaHat(theta, phi), PhiHat(phi)
		if math.Abs(tt.Norm()-1) > 1e-12 || math.Abs(tt.Dot(d)) > 1e-12 || math.Abs(pp.Dot(d)) > 1e-12 || math.Abs(tt.Dot(pp)) > 1e-12 {
			t.Fatalf("basis not orthonormal at %g, %g", theta, phi)
		}
		// (r, theta, phi) is right-handed: r x theta = phi.
		if d.Cross(tt).Sub(pp).Norm() > 1e-12 {
			t.Fatalf("r x theta != phi at %g, %g", theta, phi)
		}
	}
	if th, ph := Angles(V(0, 0, -1)); th != math.Pi || ph != 0 {
		t.Errorf("nadir: %g %g", th, ph)
	}
}
