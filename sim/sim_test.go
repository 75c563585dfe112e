package sim

import (
	"context"
	"math"
	"math/cmplx"
	"testing"

	"github.com/cctrack/cctrack/internal/shareddata"
	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
	"github.com/cctrack/cctrack/sim/rt"
	"github.com/cctrack/cctrack/sim/scene"
)

// Sionna's example scenes load and trace. simple_reflector is a 1 m x 1 m metal plate (slab 0.01 m)
// at z = 0: a receiver mirrored across its centre gets LoS and one reflection off the centre with
// |a| = lambda/(4 pi d_image) |r|, r the slab's TM coefficient (1e-9 relative: closed form).
func TestSionnaScenesTrace(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tx     geom.Vec3
		rx     []geom.Vec3
		depth  int
		minLoS int
	}{
		{"simple_reflector", geom.V(-0.2, 0.1, 1), []geom.Vec3{geom.V(0.2, -0.1, 1)}, 3, 1},
		{"box", geom.V(0, 0, 3), []geom.Vec3{geom.V(1, 1, 3), geom.V(-1, 0.5, 2)}, 3, 2},
		{"simple_street_canyon", geom.V(-20, 0, 10), []geom.Vec3{geom.V(20, 0, 1.5), geom.V(0, 2, 1.5)}, 3, 2},
		{"munich", geom.V(8.5, 21, 27), []geom.Vec3{geom.V(40, 20, 1.5), geom.V(-30, 60, 1.5), geom.V(100, -40, 1.5)}, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := LoadScene(SceneSpec{Source: shareddata.Path(t, "sionna-scenes/"+tc.name+"/"+tc.name+".xml")})
			if err != nil {
				t.Fatal(err)
			}
			tr, err := rt.New(sc, rt.Options{Frequency: 3.5e9, MaxDepth: tc.depth})
			if err != nil {
				t.Fatal(err)
			}
			out, err := tr.Trace(context.Background(), tc.tx, tc.rx, nil)
			if err != nil {
				t.Fatal(err)
			}
			los, total := 0, 0
			for _, ps := range out {
				total += len(ps)
				for _, p := range ps {
					if p.Kind == rt.LoS {
						los++
					}
					if math.IsNaN(real(p.A)) || p.Delay <= 0 {
						t.Errorf("bad path %+v", p)
					}
				}
			}
			if los < tc.minLoS || total == 0 {
				t.Errorf("%d LoS of %d paths, want >= %d LoS", los, total, tc.minLoS)
			}
			t.Logf("%s: %d triangles, %d paths to %d receivers", tc.name, len(sc.Triangles), total, len(tc.rx))
			if tc.name != "simple_reflector" {
				return
			}
			ps := out[0]
			if len(ps) != 2 || ps[1].Kind != rt.Reflection {
				t.Fatalf("want LoS + 1 reflection, got %+v", ps)
			}
			metal, _ := material.Lookup("metal")
			di := tc.tx.Sub(geom.V(tc.rx[0].X, tc.rx[0].Y, -tc.rx[0].Z)).Norm()
			cos := (tc.tx.Z + tc.rx[0].Z) / di // incidence: total height over image distance
			_, rTM := material.Surface{Material: metal, Thickness: 0.01}.Reflection(3.5e9, cos)
			want := material.C / 3.5e9 / (4 * math.Pi * di) * cmplx.Abs(rTM)
			if got := cmplx.Abs(ps[1].A); math.Abs(got-want) > 1e-9*want {
				t.Errorf("|a| = %g, want %g", got, want)
			}
			if ps[1].Vertices[0].Norm() > 1e-9 {
				t.Errorf("specular point %v, want the plate centre", ps[1].Vertices[0])
			}
		})
	}
}

func TestLoadSceneBuiltin(t *testing.T) {
	for _, src := range []string{"builtin:city", "builtin:city:42"} {
		sc, err := LoadScene(SceneSpec{Source: src, City: scene.DefaultCityParams()})
		if err != nil || len(sc.Triangles) == 0 {
			t.Errorf("%s: %v", src, err)
		}
	}
	for _, src := range []string{"builtin:city:", "builtin:city:-1", "builtin:cityx", "builtin:city:1:2"} {
		if _, err := LoadScene(SceneSpec{Source: src, City: scene.DefaultCityParams()}); err == nil {
			t.Errorf("%s: no error", src)
		}
	}
}

// A requested ground replaces the built-in city's own instead of lying coplanar under it.
func TestBuiltinGroundReplaced(t *testing.T) {
	metal, _ := material.Lookup("metal")
	sc, err := LoadScene(SceneSpec{Source: "builtin:city:3", City: scene.DefaultCityParams(), Ground: material.Surface{Material: metal}})
	if err != nil {
		t.Fatal(err)
	}
	ground := 0
	for i, tri := range sc.Triangles {
		if sc.Vertices[tri[0]].Z == 0 && sc.Vertices[tri[1]].Z == 0 && sc.Vertices[tri[2]].Z == 0 {
			ground++
			if m := sc.Surfaces[sc.FaceSurface[i]].Material.Name; m != "metal" {
				t.Fatalf("ground triangle %d is %s, want metal", i, m)
			}
		}
	}
	if ground == 0 {
		t.Fatal("no ground")
	}
}
