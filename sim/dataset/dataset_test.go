package dataset

import "testing"

// Shards tile every item exactly once, in order, for any n and shard count.
func TestPartsTile(t *testing.T) {
	for n := 0; n < 40; n++ {
		for m := 1; m < 9; m++ {
			next := 0
			for i := 0; i < m; i++ {
				lo, hi := part(n, i, m)
				if lo != next || hi < lo {
					t.Fatalf("n=%d shard %d/%d: [%d, %d) after %d", n, i, m, lo, hi, next)
				}
				next = hi
			}
			if next != n {
				t.Fatalf("n=%d over %d shards covers %d", n, m, next)
			}
		}
	}
}
