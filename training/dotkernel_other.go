//go:build !amd64

package training

// dotBlock is nil: only amd64 has an assembly block kernel; simplego's own kernel stays in place.
var dotBlock func(lhs, rhs, out *float32, bd int)
