package estimator

import (
	"errors"
	"fmt"
	"math"
)

// errNotPrepared is returned by Estimate before a successful Prepare.
var errNotPrepared = errors.New("not prepared")

// checkNoise rejects a noise power that is negative, NaN or infinite.
func checkNoise(name string, noise float64) error {
	if !(noise >= 0) || math.IsInf(noise, 1) {
		return fmt.Errorf("estimator %s: prepare: noise power %g W, want finite and >= 0", name, noise)
	}
	return nil
}

// checkIO checks Estimate's buffers against the prepared sizes (y is M_B x M_U, dst N_B x N_U)
// and y for NaN or infinite entries, which would otherwise pass silently into Ĥ.
func checkIO(name string, prepared bool, dst, y []complex128, nh, ny int) error {
	for i, v := range y {
		if math.IsNaN(real(v)) || math.IsNaN(imag(v)) || math.IsInf(real(v), 0) || math.IsInf(imag(v), 0) {
			return fmt.Errorf("estimator %s: estimate: y[%d] = %v is not finite", name, i, v)
		}
	}
	switch {
	case !prepared:
		return fmt.Errorf("estimator %s: estimate: %w", name, errNotPrepared)
	case len(y) != ny:
		return fmt.Errorf("estimator %s: estimate: y has %d entries, want M_B·M_U = %d", name, len(y), ny)
	case len(dst) != nh:
		return fmt.Errorf("estimator %s: estimate: dst has %d entries, want N_B·N_U = %d", name, len(dst), nh)
	}
	return nil
}
