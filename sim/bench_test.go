package sim

import (
	"context"
	"fmt"
	"testing"

	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/rt"
)

// BenchmarkSceneScaling shows how tracing cost grows with triangle count and reflection order on
// Sionna's example scenes: a rooftop transmitter 5 m above the highest point of the scene's
// centre, and 400 receivers on a 20 x 20 grid at 1.5 m over the central 60 % of the footprint.
// Run: go test ./sim -run '^$' -bench SceneScaling -count 6 | benchstat -
func BenchmarkSceneScaling(b *testing.B) {
	for _, name := range []string{"simple_street_canyon", "etoile", "florence", "munich"} {
		sc, err := LoadScene(SceneSpec{Source: sionnaScene(b, name)})
		if err != nil {
			b.Fatal(err)
		}
		lo, hi := sc.Bounds()
		c := lo.Add(hi).Scale(0.5)
		tx := geom.V(c.X, c.Y, hi.Z+5)
		var rx []geom.Vec3
		for i := 0; i < 20; i++ {
			for j := 0; j < 20; j++ {
				fx, fy := 0.2+0.6*(float64(i)+0.5)/20, 0.2+0.6*(float64(j)+0.5)/20
				rx = append(rx, geom.V(lo.X+fx*(hi.X-lo.X), lo.Y+fy*(hi.Y-lo.Y), 1.5))
			}
		}
		for depth := 1; depth <= 3; depth++ {
			tr, err := rt.New(sc, rt.Options{Frequency: 3.5e9, MaxDepth: depth})
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/tris=%d/depth=%d", name, len(sc.Triangles), depth), func(b *testing.B) {
				paths := 0
				for b.Loop() {
					out, err := tr.Trace(context.Background(), tx, rx, nil)
					if err != nil {
						b.Fatal(err)
					}
					paths = 0
					for _, p := range out {
						paths += len(p)
					}
				}
				b.ReportMetric(float64(len(rx)*b.N)/b.Elapsed().Seconds(), "rx/s")
				b.ReportMetric(float64(paths), "paths")
			})
		}
	}
}
