package rt

import (
	"context"
	"fmt"
	"testing"

	"github.com/cctrack/cctrack/internal/shareddata"
	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/scene"
)

// BenchmarkTrace traces a synthetic 6x6-block box city (a ground plane, 36 buildings) to a 40x40
// receiver grid at 1.5 m, at reflection depths 1 to 3; receivers/s is reported per run.
func BenchmarkTrace(b *testing.B) {
	sc := boxCity(b, 6, 6, 30, 15, 1)
	var rx []geom.Vec3
	for i := range 40 {
		for j := range 40 {
			rx = append(rx, geom.V(-130+6.5*float64(i), -130+6.5*float64(j), 1.5))
		}
	}
	tx := geom.V(0, 0, 10) // the central street intersection
	for depth := 1; depth <= 3; depth++ {
		b.Run(fmt.Sprintf("boxcity/depth%d", depth), func(b *testing.B) {
			benchTrace(b, mustNew(b, sc, Options{MaxDepth: depth}), tx, rx)
		})
	}
}

// BenchmarkTraceDiffraction is BenchmarkTrace's box city with first-order diffraction and no
// reflections: the per-receiver loop over the wedges lit by the transmitter.
func BenchmarkTraceDiffraction(b *testing.B) {
	sc := boxCity(b, 6, 6, 30, 15, 1)
	var rx []geom.Vec3
	for i := range 40 {
		for j := range 40 {
			rx = append(rx, geom.V(-130+6.5*float64(i), -130+6.5*float64(j), 1.5))
		}
	}
	benchTrace(b, mustNew(b, sc, Options{Diffraction: true}), geom.V(0, 0, 10), rx)
}

// BenchmarkTraceChicago is the project's performance target: the InSite Chicago scene, BS1, the
// full 4480-point user grid, up to 3 reflections (target: under 10 s on 2 cores).
func BenchmarkTraceChicago(b *testing.B) {
	sc := chicagoScene(b)
	grid := chicagoGrid(b)
	benchTrace(b, mustNew(b, sc, Options{MaxDepth: 3}), chicagoTx[0], grid)
}

func benchTrace(b *testing.B, tr *Tracer, tx geom.Vec3, rx []geom.Vec3) {
	b.ReportAllocs()
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
}

// BenchmarkTraceMunich is the second performance target: Sionna's munich scene (39k triangles),
// 1000 receivers on a 40 x 25 grid at 1.5 m over the central 400 m x 250 m, transmitter at
// Sionna's example position (8.5, 21, 27), up to 2 reflections (target: under 60 s on 2 cores).
func BenchmarkTraceMunich(b *testing.B) {
	sc, err := scene.LoadXML(shareddata.Path(b, "sionna-scenes/munich/munich.xml"))
	if err != nil {
		b.Fatal(err)
	}
	var rx []geom.Vec3
	for i := range 40 {
		for j := range 25 {
			rx = append(rx, geom.V(-200+10*float64(i)+5, -125+10*float64(j)+5, 1.5))
		}
	}
	benchTrace(b, mustNew(b, sc, Options{MaxDepth: 2}), geom.V(8.5, 21, 27), rx)
}

// BenchmarkSceneScaling shows how tracing cost grows with triangle count and reflection order on
// Sionna's example scenes: a rooftop transmitter 5 m above the highest point of the scene's
// centre, and 400 receivers on a 20 x 20 grid at 1.5 m over the central 60 % of the footprint.
func BenchmarkSceneScaling(b *testing.B) {
	for _, name := range []string{"simple_street_canyon", "etoile", "florence", "munich"} {
		sc, err := scene.LoadXML(shareddata.Path(b, "sionna-scenes/"+name+"/"+name+".xml"))
		if err != nil {
			b.Fatal(err)
		}
		lo, hi := sc.Bounds()
		c := lo.Add(hi).Scale(0.5)
		tx := geom.V(c.X, c.Y, hi.Z+5)
		var rx []geom.Vec3
		for i := range 20 {
			for j := range 20 {
				fx, fy := 0.2+0.6*(float64(i)+0.5)/20, 0.2+0.6*(float64(j)+0.5)/20
				rx = append(rx, geom.V(lo.X+fx*(hi.X-lo.X), lo.Y+fy*(hi.Y-lo.Y), 1.5))
			}
		}
		for depth := 1; depth <= 3; depth++ {
			tr := mustNew(b, sc, Options{MaxDepth: depth})
			b.Run(fmt.Sprintf("%s/tris=%d/depth=%d", name, len(sc.Triangles), depth), func(b *testing.B) {
				benchTrace(b, tr, tx, rx)
			})
		}
	}
}
