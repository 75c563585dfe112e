package scene

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/cctrack/cctrack/internal/shareddata"
	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
)

// triPLY is one triangle (1,0,0), (0,1,0), (0,0,1).
const triPLY = "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n" +
	"element face 1\nproperty list uchar int vertex_indices\nend_header\n1 0 0\n0 1 0\n0 0 1\n3 0 1 2\n"

// testFS holds the meshes the XML tests refer to.
func testFS() fstest.MapFS {
	return fstest.MapFS{
		"meshes/quad.ply": {Data: []byte(asciiPLY)},
		"meshes/bin.ply":  {Data: binaryPLY(binary.LittleEndian)},
		"meshes/tri.ply":  {Data: []byte(triPLY)},
		"meshes/bad.ply":  {Data: []byte(strings.Replace(triPLY, "3 0 1 2", "3 0 1 7", 1))},
	}
}

// miniXML uses every material spelling, a nested bsdf, a transform and flip_normals.
const miniXML = `<scene version="2.1.0">
	<default name="spp" value="16"/>
	<integrator type="path"><integer name="max_depth" value="12"/></integrator>
	<bsdf type="itu-radio-material" id="conc">
		<string name="type" value="concrete"/>
		<float name="thickness" value="0.2"/>
		<float name="scattering_coefficient" value="0.3"/>
	</bsdf>
	<bsdf type="twosided" id="mat-itu_glass" name="mat-itu_glass">
		<bsdf type="diffuse" name="bsdf"><rgb value="0.2 0.5 0.8" name="reflectance"/></bsdf>
	</bsdf>
	<shape type="ply" id="a">
		<string name="filename" value="meshes/quad.ply"/>
		<boolean name="face_normals" value="true"/>
		<ref id="conc" name="bsdf"/>
	</shape>
	<shape type="ply" id="b">
		<string name="filename" value="meshes/tri.ply"/>
		<ref id="mat-itu_glass" name="bsdf"/>
		<transform name="to_world">
			<scale value="2"/>
			<rotate z="1" angle="90"/>
			<translate x="10"/>
		</transform>
	</shape>
	<shape type="ply" id="c">
		<string name="filename" value="meshes\tri.ply"/>
		<boolean name="flip_normals" value="true"/>
		<bsdf type="radio-material">
			<float name="relative_permittivity" value="4."/>
			<float name="conductivity" value="0.01"/>
			<float name="thickness" value="0"/>
		</bsdf>
	</shape>
	<shape type="ply" id="d">
		<string name="filename" value="meshes/bin.ply"/>
		<ref id="conc"/>
		<transform name="to_world">
			<matrix value="0 -1 0 10, 1 0 0 0, 0 0 1 0, 0 0 0 1"/>
		</transform>
	</shape>
</scene>
`

func TestReadXML(t *testing.T) {
	sc, err := ReadXML(strings.NewReader(miniXML), "mini.xml", testFS())
	if err != nil {
		t.Fatal(err)
	}
	conc, _ := material.Lookup("concrete")
	glass, _ := material.Lookup("glass")
	wantSurf := []Surface{
		{"conc", material.Surface{Material: conc, Thickness: 0.2}},
		{"mat-itu_glass", material.Surface{Material: glass, Thickness: 0.1}},
		{"c", material.Surface{Material: material.Constant("c", 4, 0.01), Thickness: 0}},
	}
	if fmt.Sprint(sc.Surfaces) != fmt.Sprint(wantSurf) {
		t.Errorf("surfaces\n got  %+v\n want %+v", sc.Surfaces, wantSurf)
	}
	if len(sc.Triangles) != 3+1+1+3 || len(sc.Vertices) != 5+3+3+5 {
		t.Fatalf("%d triangles, %d vertices", len(sc.Triangles), len(sc.Vertices))
	}
	if got := fmt.Sprint(sc.FaceSurface); got != "[0 0 0 1 2 0 0 0]" {
		t.Errorf("face surfaces %s", got)
	}
	// Shape b: scale 2, then 90 degrees about +z ((x, y) -> (-y, x)), then +10 in x. Shape d: the same
	// rotation and translation as one matrix. Tolerance 1e-12 m: cos(pi/2) rounds to 6e-17, times 2.
	want := map[int]geom.Vec3{
		5: {X: 10, Y: 2}, 6: {X: 8}, 7: {X: 10, Z: 2}, // b
		11: {X: 10}, 12: {X: 10, Y: 1}, 13: {X: 9, Y: 1}, 15: {X: 9.5, Y: 0.5, Z: 1}, // d (z stored as int)
	}
	for i, w := range want {
		if d := sc.Vertices[i].Dist(w); d > 1e-12 {
			t.Errorf("vertex %d = %v, want %v", i, sc.Vertices[i], w)
		}
	}
	// Shape c is flipped: (0, 1, 2) -> (0, 2, 1), offset by the 8 vertices before it.
	if got := sc.Triangles[4]; got != [3]int32{8, 10, 9} {
		t.Errorf("flipped triangle %v", got)
	}
	if sc.Name != "mini.xml" {
		t.Errorf("name %q", sc.Name)
	}
}

// TestTransformOrder checks Mitsuba's rule that later steps apply after earlier ones against a
// hand-computed point, for a non-commuting pair.
func TestTransformOrder(t *testing.T) {
	doc := func(steps string) string {
		return `<scene><bsdf type="itu-radio-material" id="m"><string name="type" value="metal"/></bsdf>
<shape type="ply"><string name="filename" value="meshes/tri.ply"/><ref id="m"/>
<transform name="to_world">` + steps + `</transform></shape></scene>`
	}
	cases := []struct {
		steps string
		want  geom.Vec3 // image of vertex 0 = (1, 0, 0)
	}{
		{`<translate value="1 2 3"/><scale x="2"/>`, geom.V(4, 2, 3)},
		{`<scale x="2"/><translate value="1, 2, 3"/>`, geom.V(3, 2, 3)},
		{`<rotate value="0 0 1" angle="90"/><rotate x="1" angle="90"/>`, geom.V(0, 0, 1)},
		{`<rotate y="1" angle="-90"/>`, geom.V(0, 0, 1)},
		{`<matrix value="0 1 0 1 0 0 0 0 1"/>`, geom.V(0, 1, 0)},
	}
	for _, c := range cases {
		sc, err := ReadXML(strings.NewReader(doc(c.steps)), "t.xml", testFS())
		if err != nil {
			t.Errorf("%s: %v", c.steps, err)
			continue
		}
		// 1e-12: rounding of sin/cos of multiples of pi/2 is ~1e-16.
		if d := sc.Vertices[0].Dist(c.want); d > 1e-12 {
			t.Errorf("%s: vertex 0 -> %v, want %v", c.steps, sc.Vertices[0], c.want)
		}
	}
}

// TestReadXMLErrors checks the message, including the line, of each kind of bad scene.
func TestReadXMLErrors(t *testing.T) {
	const mat = `<bsdf type="itu-radio-material" id="m"><string name="type" value="metal"/></bsdf>`
	shape := func(inner string) string {
		return "<scene>\n" + mat + "\n<shape type=\"ply\" id=\"s\">\n" + inner + "\n</shape>\n</scene>"
	}
	const file = `<string name="filename" value="meshes/tri.ply"/>`
	cases := []struct{ name, doc, want string }{
		{"syntax", "<scene>\n<bsdf>\n</scene>", "x.xml: XML syntax error on line 3: element <bsdf> closed by </scene>"},
		{"empty", "", "x.xml: no XML element"},
		{"root", "<mitsuba/>", "x.xml: line 1: root element is <mitsuba>, want <scene>"},
		{"unknown element", "<scene>\n<include filename=\"more.xml\"/>\n</scene>", "x.xml: line 2: unsupported element <include>"},
		{"unknown itu", "<scene>\n<bsdf type=\"itu-radio-material\" id=\"m\">\n<string name=\"type\" value=\"unobtainium\"/>\n</bsdf>\n</scene>",
			`x.xml: line 3: bsdf "m": unknown ITU material "unobtainium" (known: ` + strings.Join(material.Names(), ", ") + ")"},
		{"missing type", "<scene>\n<bsdf type=\"itu-radio-material\" id=\"m\">\n</bsdf>\n</scene>",
			`x.xml: line 2: bsdf "m": itu-radio-material without <string name="type">`},
		{"legacy unknown", "<scene>\n<bsdf type=\"twosided\" id=\"mat-plastic\"/>\n</scene>",
			`x.xml: line 2: bsdf "mat-plastic" (type "twosided") is not a radio material: want type "itu-radio-material" or "radio-material", or an id "mat-itu_<material>"`},
		{"legacy unknown itu", "<scene>\n<bsdf type=\"twosided\" id=\"mat-itu_cheese\"/>\n</scene>",
			`x.xml: line 2: bsdf "mat-itu_cheese": unknown ITU material "cheese" (known: ` + strings.Join(material.Names(), ", ") + ")"},
		{"no id", "<scene>\n<bsdf type=\"twosided\"/>\n</scene>", "x.xml: line 2: top-level <bsdf> has no id"},
		{"dup id", "<scene>\n" + mat + "\n" + mat + "\n</scene>", `x.xml: line 3: bsdf id "m" defined twice`},
		{"thickness", "<scene>\n<bsdf type=\"twosided\" id=\"itu_wood\">\n<float name=\"thickness\" value=\"-1\"/></bsdf>\n</scene>",
			`x.xml: line 2: bsdf "itu_wood": negative thickness -1`},
		{"thickness nan", "<scene>\n<bsdf type=\"twosided\" id=\"itu_wood\">\n<float name=\"thickness\" value=\"NaN\"/></bsdf>\n</scene>",
			`x.xml: line 3: float "thickness": "NaN" is not a finite number`},
		{"radio eps", "<scene>\n<bsdf type=\"radio-material\" id=\"r\">\n<float name=\"relative_permittivity\" value=\"0.5\"/></bsdf>\n</scene>",
			`x.xml: line 2: bsdf "r": relative_permittivity 0.5 must be >= 1 and conductivity 0 >= 0`},
		{"shape type", "<scene>\n<shape type=\"obj\" id=\"s\"/>\n</scene>", `x.xml: line 2: shape "s": type "obj" is not supported (only "ply")`},
		{"unknown ref", shape(file + "\n<ref id=\"nope\" name=\"bsdf\"/>"), `x.xml: line 5: shape "s": unknown bsdf id "nope"`},
		{"no bsdf", shape(file), `x.xml: line 3: shape "s" has no bsdf`},
		{"two bsdfs", shape(file + "\n<ref id=\"m\"/>\n<ref id=\"m\"/>"), `x.xml: line 6: shape "s" has more than one bsdf`},
		{"no filename", shape(`<ref id="m"/>`), `x.xml: line 3: shape "s" has no <string name="filename">`},
		{"unknown param", shape(file + "\n<ref id=\"m\"/>\n<float name=\"radius\" value=\"2\"/>"), `x.xml: line 6: shape "s": unsupported <float name="radius">`},
		{"flip value", shape(file + "\n<ref id=\"m\"/>\n<boolean name=\"flip_normals\" value=\"maybe\"/>"), `x.xml: line 6: shape "s": flip_normals: "maybe" is not a boolean`},
		{"lookat", shape(file + "\n<ref id=\"m\"/>\n<transform name=\"to_world\">\n<lookat origin=\"0 0 1\" target=\"0 0 0\"/>\n</transform>"),
			`x.xml: line 7: shape "s": to_world: unsupported transform step <lookat>`},
		{"projective", shape(file + "\n<ref id=\"m\"/>\n<transform name=\"to_world\">\n<matrix value=\"1 0 0 0 0 1 0 0 0 0 1 0 0 0 1 1\"/>\n</transform>"),
			`x.xml: line 7: shape "s": to_world: matrix: last row [0 0 1 1] is not 0 0 0 1 (projective transforms are not supported)`},
		{"zero axis", shape(file + "\n<ref id=\"m\"/>\n<transform name=\"to_world\">\n<rotate angle=\"3\"/>\n</transform>"),
			`x.xml: line 7: shape "s": to_world: rotate: zero axis`},
		{"matrix size", shape(file + "\n<ref id=\"m\"/>\n<transform name=\"to_world\">\n<matrix value=\"1 0 0 0 0 1 0 0 0 0 1 0\"/>\n</transform>"),
			`x.xml: line 7: shape "s": to_world: matrix has 12 values, want 16 or 9`},
		{"bad number", shape(file + "\n<ref id=\"m\"/>\n<transform name=\"to_world\">\n<translate x=\"1m\"/>\n</transform>"),
			`x.xml: line 7: shape "s": to_world: translate x: "1m" is not a finite number`},
		{"bad translate", shape(file + "\n<ref id=\"m\"/>\n<transform name=\"to_world\">\n<translate value=\"1 2\"/>\n</transform>"),
			`x.xml: line 7: shape "s": to_world: translate value "1 2": want 3 numbers`},
		{"overflow", shape(file + "\n<ref id=\"m\"/>\n<transform name=\"to_world\">\n<scale value=\"1e308\"/><scale value=\"1e308\"/>\n</transform>"),
			`x.xml: line 3: shape "s": vertex 0 is not finite after to_world`},
		{"missing mesh", shape(`<string name="filename" value="meshes/none.ply"/>` + "\n<ref id=\"m\"/>"),
			`x.xml: line 4: shape "s": open mesh: open meshes/none.ply: file does not exist`},
		{"escaping mesh", shape(`<string name="filename" value="../secret.ply"/>` + "\n<ref id=\"m\"/>"),
			`x.xml: line 4: shape "s": mesh filename "../secret.ply" must be a relative path inside the scene's directory`},
		{"bad mesh", shape(`<string name="filename" value="meshes/bad.ply"/>` + "\n<ref id=\"m\"/>"),
			`x.xml: line 4: shape "s": ` + filepath.Join("dir", "meshes", "bad.ply") + `: line 13: face 0: vertex index 7 out of range (3 vertices)`},
		{"two filenames", shape(file + "\n" + file + "\n<ref id=\"m\"/>"), `x.xml: line 5: shape "s" has two filenames`},
		{"two transforms", shape(file + "\n<ref id=\"m\"/>\n<transform name=\"to_world\"/>\n<transform name=\"to_world\"/>"),
			`x.xml: line 7: shape "s" has two to_world transforms`},
		{"anonymous", "<scene>\n<shape type=\"ply\">\n" + file + "\n<bsdf type=\"itu-radio-material\"/>\n</shape>\n</scene>",
			`x.xml: line 4: shape (no id): nested bsdf has no id either, so the material has no name`},
		{"angle", shape(file + "\n<ref id=\"m\"/>\n<transform name=\"to_world\">\n<rotate x=\"1\" angle=\"ninety\"/>\n</transform>"),
			`x.xml: line 7: shape "s": to_world: rotate angle: "ninety" is not a finite number`},
		{"long matrix", shape(file + "\n<ref id=\"m\"/>\n<transform name=\"to_world\">\n<matrix value=\"" + strings.Repeat("1 ", 17) + "\"/>\n</transform>"),
			`x.xml: line 7: shape "s": to_world: matrix: 17 values, at most 16 expected`},
		{"bad scale", shape(file + "\n<ref id=\"m\"/>\n<transform name=\"to_world\">\n<scale value=\"1 1\"/>\n</transform>"),
			`x.xml: line 7: shape "s": to_world: scale value "1 1": want 3 numbers`},
		{"deep", strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40), "x.xml: line 1: elements nested deeper than 32"},
	}
	for _, c := range cases {
		name := "x.xml"
		if c.name == "bad mesh" {
			name = filepath.Join("dir", "x.xml")
			c.want = filepath.Join("dir", "x.xml") + strings.TrimPrefix(c.want, "x.xml")
		}
		_, err := ReadXML(strings.NewReader(c.doc), name, testFS())
		if err == nil {
			t.Errorf("%s: no error, want %q", c.name, c.want)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("%s:\n got  %q\n want %q", c.name, err, c.want)
		}
	}
}

// TestReadXMLSurfaceClash: a nested anonymous bsdf takes its shape's id as name, which may not
// name a different material already in the scene.
func TestReadXMLSurfaceClash(t *testing.T) {
	doc := `<scene>
<bsdf type="itu-radio-material" id="s"><string name="type" value="metal"/></bsdf>
<shape type="ply" id="t"><string name="filename" value="meshes/tri.ply"/><ref id="s"/></shape>
<shape type="ply" id="s">
<string name="filename" value="meshes/tri.ply"/>
<bsdf type="itu-radio-material"><string name="type" value="wood"/></bsdf>
</shape>
</scene>`
	_, err := ReadXML(strings.NewReader(doc), "x.xml", testFS())
	if err == nil || err.Error() != `x.xml: line 4: two different materials are named "s"` {
		t.Errorf("err = %v", err)
	}
}

// sionnaScenes are the example scenes of Sionna RT v1.0.1 with their sizes, counted independently
// of this loader (a Python struct-unpacking script over the PLY files the XML lists).
var sionnaScenes = []struct {
	name        string
	verts, tris int
	surfaces    []string // "ITU material thickness" per surface, in order of first use; nil: not checked
}{
	{"box", 14, 12, []string{"metal 1"}},
	{"box_one_screen", 18, 14, []string{"metal 1", "glass 0.01"}},
	{"box_two_screens", 22, 16, []string{"glass 0.01", "metal 1"}},
	{"double_reflector", 8, 4, []string{"metal 0.1"}},
	{"etoile", 14193, 13058, nil},
	{"floor_wall", 8, 4, []string{"concrete 0.1", "brick 0.1"}},
	{"florence", 37964, 35373, nil},
	{"munich", 42293, 38938, []string{"marble 0.1", "metal 0.1", "brick 0.1", "wood 0.1", "concrete 0.1"}},
	{"simple_reflector", 4, 2, []string{"metal 0.01"}},
	{"simple_street_canyon", 88, 74, []string{"glass 0.1", "wood 0.1", "marble 0.1", "brick 0.1", "concrete 0.1"}},
	{"simple_street_canyon_with_cars", 184, 234, nil},
	{"simple_wedge", 6, 4, []string{"concrete 0.1"}},
	{"triple_reflector", 12, 6, []string{"metal 0.1"}},
}

func TestLoadXMLSionnaScenes(t *testing.T) {
	dir := shareddata.Path(t, "sionna-scenes")
	for _, s := range sionnaScenes {
		t.Run(s.name, func(t *testing.T) {
			sc, err := LoadXML(filepath.Join(dir, s.name, s.name+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			if len(sc.Vertices) != s.verts || len(sc.Triangles) != s.tris {
				t.Errorf("%d vertices, %d triangles; want %d, %d", len(sc.Vertices), len(sc.Triangles), s.verts, s.tris)
			}
			if s.surfaces != nil {
				var got []string
				for _, sf := range sc.Surfaces {
					got = append(got, fmt.Sprintf("%s %g", sf.Material.Name, sf.Thickness))
				}
				if fmt.Sprint(got) != fmt.Sprint(s.surfaces) {
					t.Errorf("surfaces %v, want %v", got, s.surfaces)
				}
			}
			for _, sf := range sc.Surfaces {
				if sf.Thickness <= 0 || sf.Thickness > 1 {
					t.Errorf("surface %s: thickness %g", sf.Name, sf.Thickness)
				}
			}
		})
	}
}

// TestSimpleReflector checks geometry and material of the 1 m x 1 m metal plate at z = 0.
func TestSimpleReflector(t *testing.T) {
	p := shareddata.Path(t, "sionna-scenes/simple_reflector/simple_reflector.xml")
	sc, err := LoadXML(p)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := sc.Bounds()
	// The plate's corners are stored as float32 +-0.5, which is exact.
	if lo != geom.V(-0.5, -0.5, 0) || hi != geom.V(0.5, 0.5, 0) {
		t.Errorf("bounds %v .. %v", lo, hi)
	}
	var area float64
	for _, tr := range sc.Triangles {
		a, b, c := sc.Vertices[tr[0]], sc.Vertices[tr[1]], sc.Vertices[tr[2]]
		area += b.Sub(a).Cross(c.Sub(a)).Norm() / 2
	}
	if math.Abs(area-1) > 1e-12 {
		t.Errorf("area %g, want 1", area)
	}
	if len(sc.Surfaces) != 1 || sc.Surfaces[0].Material.Name != "metal" {
		t.Errorf("surfaces %+v", sc.Surfaces)
	}
}

func TestLoadXMLMissing(t *testing.T) {
	_, err := LoadXML(filepath.Join(t.TempDir(), "none.xml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v", err)
	}
}

// BenchmarkLoadXML loads munich: 2367 PLY files, 38938 triangles.
func BenchmarkLoadXML(b *testing.B) {
	p := shareddata.Path(b, "sionna-scenes/munich/munich.xml")
	for b.Loop() {
		if _, err := LoadXML(p); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzReadXML: any document gives a scene or an error, never a panic; meshes come from an in-memory
// file system so the fuzzer does not touch the disk.
func FuzzReadXML(f *testing.F) {
	f.Add([]byte(miniXML))
	f.Add([]byte(`<scene><bsdf type="twosided" id="mat-itu_metal"/><shape type="ply" id="x"><string name="filename" value="meshes/bin.ply"/><ref id="mat-itu_metal"/><transform name="to_world"><rotate x="1" angle="30"/><matrix value="1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1"/><scale x="2"/></transform></shape></scene>`))
	f.Add([]byte(`<scene><shape type="ply"><string name="filename" value="meshes/bad.ply"/><bsdf type="radio-material" id="r"/></shape></scene>`))
	fsys := testFS()
	f.Fuzz(func(t *testing.T, doc []byte) {
		sc, err := ReadXML(strings.NewReader(string(doc)), "fuzz.xml", fsys)
		if err != nil {
			if sc != nil {
				t.Fatal("scene and error both returned")
			}
			return
		}
		if err := sc.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}
