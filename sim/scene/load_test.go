package scene

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoad reads the files in testdata/mini (copies of the in-memory fixtures miniXML, asciiPLY,
// triPLY and binaryPLY) through Load and checks that disk and memory give the same scene.
func TestLoad(t *testing.T) {
	surf := concreteSurface(t)
	fromDisk, err := Load(filepath.Join("testdata", "mini", "mini.xml"), surf)
	if err != nil {
		t.Fatal(err)
	}
	fromMem, err := ReadXML(strings.NewReader(miniXML), "mini.xml", testFS())
	if err != nil {
		t.Fatal(err)
	}
	sameScene(t, fromDisk, fromMem)

	// Extensions are matched case-insensitively.
	data, err := os.ReadFile(filepath.Join("testdata", "mini", "meshes", "quad.ply"))
	if err != nil {
		t.Fatal(err)
	}
	upper := filepath.Join(t.TempDir(), "QUAD.PLY")
	if err := os.WriteFile(upper, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join("testdata", "mini", "meshes", "quad.ply"), upper} {
		sc, err := Load(p, surf)
		if err != nil {
			t.Fatal(err)
		}
		checkMesh(t, sc, wantVerts, wantTris)
		if sc.Surfaces[0] != surf || sc.Name != p {
			t.Errorf("%s: surfaces %+v, name %q", p, sc.Surfaces, sc.Name)
		}
	}
}

func sameScene(t *testing.T, a, b *Scene) {
	t.Helper()
	for _, f := range []func(*Scene) any{
		func(s *Scene) any { return s.Vertices },
		func(s *Scene) any { return s.Triangles },
		func(s *Scene) any { return s.FaceSurface },
		func(s *Scene) any { return s.Surfaces },
	} {
		if fmt.Sprint(f(a)) != fmt.Sprint(f(b)) {
			t.Errorf("scenes differ:\n %v\n %v", f(a), f(b))
		}
	}
}

func TestLoadUnsupported(t *testing.T) {
	_, err := Load("city.obj", concreteSurface(t))
	want := `load scene city.obj: unsupported extension ".obj" (want .ply or .xml)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}
