package estimator

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// newAll returns one of each classical estimator for a 10x10 BS and 2x2 UE.
func newAll(t testing.TB) []Estimator {
	t.Helper()
	omp, err := NewOMP(DefaultOMPConfig(UPA{10, 10}, UPA{2, 2}))
	if err != nil {
		t.Fatal(err)
	}
	return []Estimator{NewLS(), NewLMMSE(newKronModel(100, 4, 0.9, 0.5, 1e-11).covariance()), omp}
}

// Estimate writes into the caller's buffer and allocates nothing, whatever the estimator does.
func TestEstimateAllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	d := randomDesign(rng, 100, 4, 24, 4, paperPower)
	cfg := DefaultOMPConfig(UPA{10, 10}, UPA{2, 2})
	// Three on-grid paths plus noise keep OMP iterating (several atoms, QR updates).
	h := gridChannel(rng, cfg, 3, 3e-6, func(int) bool { return true })
	y := observe(rng, d, h, paperNoise)
	hhat := make([]complex128, len(h))
	for _, e := range newAll(t) {
		if err := e.Prepare(d, paperNoise); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		allocs := testing.AllocsPerRun(20, func() {
			if err := e.Estimate(hhat, y); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Estimate, want 0", e.Name(), allocs)
		}
	}
}

func TestEstimateErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	d := randomDesign(rng, 100, 4, 24, 4, paperPower)
	for _, e := range newAll(t) {
		if err := e.Estimate(make([]complex128, 400), make([]complex128, 96)); !errors.Is(err, errNotPrepared) {
			t.Errorf("%s before Prepare: error %v, want %v", e.Name(), err, errNotPrepared)
		}
		if err := e.Prepare(d, -1); err == nil || !strings.Contains(err.Error(), "noise power") {
			t.Errorf("%s: Prepare with negative noise: error %v", e.Name(), err)
		}
		if err := e.Prepare(d, paperNoise); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		if err := e.Estimate(make([]complex128, 400), make([]complex128, 95)); err == nil || !strings.Contains(err.Error(), "y has 95 entries") {
			t.Errorf("%s: short y: error %v", e.Name(), err)
		}
		if err := e.Estimate(make([]complex128, 399), make([]complex128, 96)); err == nil || !strings.Contains(err.Error(), "dst has 399 entries") {
			t.Errorf("%s: short dst: error %v", e.Name(), err)
		}
		for _, bad := range []complex128{complex(math.NaN(), 0), complex(0, math.Inf(-1))} {
			y := make([]complex128, 96)
			y[17] = bad
			if err := e.Estimate(make([]complex128, 400), y); err == nil || !strings.Contains(err.Error(), "y[17]") {
				t.Errorf("%s: y with %v: error %v", e.Name(), bad, err)
			}
		}
	}
}
