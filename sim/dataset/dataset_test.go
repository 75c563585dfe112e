package dataset

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctrack/cctrack/internal/npz"
)

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

// writeShard writes a shard-shaped archive with the given shard ids and pos rows.
func writeShard(t *testing.T, ids []int64, posRows int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.npz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	z := npz.NewWriter(f)
	errs := []error{
		z.Complex64("H", []int{2, 1, 1}, make([]complex64, 2)),
		z.Float64("pos", []int{posRows, 3}, make([]float64, 3*posRows)),
		z.Complex64("traj_H", []int{0, 4, 1, 1}, nil),
		z.Float64("traj_pos", []int{0, 4, 3}, nil),
		z.Float64("freq_hz", []int{1}, []float64{3.5e9}),
		z.String("config", "{}"),
		z.Int64("shard", []int{2}, ids),
		z.Close(), f.Close(),
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return p
}

// Crafted shard files give errors naming the file, never a panic or a huge allocation.
func TestReadShardRejectsBadFiles(t *testing.T) {
	for _, tc := range []struct {
		ids  []int64
		pos  int
		want string
	}{
		{[]int64{0, -1}, 2, "want (i, n)"},
		{[]int64{3, 2}, 2, "want (i, n)"},
		{[]int64{0, 1}, 2, "want (i, n)"},
		{[]int64{0, 2}, 5, "pos has shape [5 3], want [2 3]"},
	} {
		p := writeShard(t, tc.ids, tc.pos)
		_, err := ReadShard(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("shard %v pos %d: %v, want %q naming the file", tc.ids, tc.pos, err, tc.want)
		}
	}
	// A huge shard count in an otherwise valid file fails at merge time without allocating n slots.
	s, err := ReadShard(writeShard(t, []int64{0, 1 << 40}, 2))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Merge([]*Shard{s}); err == nil || !strings.Contains(err.Error(), "1 files for 1099511627776 shards") {
		t.Errorf("merge: %v", err)
	}
}
