package scene

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cctrack/cctrack/internal/shareddata"
	"github.com/cctrack/cctrack/sim/geom"
	"github.com/cctrack/cctrack/sim/material"
)

func concreteSurface(t testing.TB) Surface {
	t.Helper()
	m, err := material.Lookup("concrete")
	if err != nil {
		t.Fatal(err)
	}
	return Surface{Name: "concrete", Surface: material.Surface{Material: m, Thickness: 0.2}}
}

// asciiPLY is a quad, a triangle and an extra element; the header is 17 lines, so vertex 0 is on
// line 18 and face 0 on line 23.
const asciiPLY = `ply
format ascii 1.0
comment hand-written: a quad, a triangle, an edge element to skip
obj_info test file
element vertex 5
property float x
property float y
property double z
property float nx
property uchar red
element face 2
property list uchar int vertex_indices
property uchar flags
element edge 1
property int vertex1
property int vertex2
end_header
0 0 0 0.5 255
1 0 0 0.5 1
1 1 0 0.5 2
0 1 0 0.5 3
0.5 0.5 1.25 0.5 4
4 0 1 2 3 7
3 0 1 4 9
0 1
`

var (
	wantVerts = []geom.Vec3{{X: 0, Y: 0, Z: 0}, {X: 1, Y: 0, Z: 0}, {X: 1, Y: 1, Z: 0}, {X: 0, Y: 1, Z: 0}, {X: 0.5, Y: 0.5, Z: 1.25}}
	wantTris  = [][3]int32{{0, 1, 2}, {0, 2, 3}, {0, 1, 4}}
)

// binaryPLY encodes the same mesh as asciiPLY (with extra properties of several types) in the given
// byte order.
func binaryPLY(order binary.ByteOrder) []byte {
	format := "binary_little_endian"
	if order == binary.BigEndian {
		format = "binary_big_endian"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `ply
format %s 1.0
comment vertex coordinates in three different types
element vertex 5
property short id
property float x
property double y
property int z
property list uchar float uv
element face 2
property uchar flags
property list uint ushort vertex_indices
element material 1
property list uchar uchar name
end_header
`, format)
	for i, v := range wantVerts {
		putPLY(&b, order, int16(i), float32(v.X), v.Y, int32(math.Round(v.Z)))
		putPLY(&b, order, uint8(2), float32(0.25), float32(0.75))
	}
	putPLY(&b, order, uint8(7), uint32(4), uint16(0), uint16(1), uint16(2), uint16(3))
	putPLY(&b, order, uint8(9), uint32(3), uint16(0), uint16(1), uint16(4))
	putPLY(&b, order, uint8(3), []byte("abc"))
	return b.Bytes()
}

func putPLY(b *bytes.Buffer, order binary.ByteOrder, vals ...any) {
	for _, v := range vals {
		if err := binary.Write(b, order, v); err != nil {
			panic(err)
		}
	}
}

func TestReadPLYASCII(t *testing.T) {
	surf := concreteSurface(t)
	sc, err := ReadPLY(strings.NewReader(asciiPLY), "quad.ply", surf)
	if err != nil {
		t.Fatal(err)
	}
	checkMesh(t, sc, wantVerts, wantTris)
	if len(sc.Surfaces) != 1 || sc.Surfaces[0] != surf {
		t.Errorf("surfaces = %+v, want [%+v]", sc.Surfaces, surf)
	}
	for i, s := range sc.FaceSurface {
		if s != 0 {
			t.Errorf("FaceSurface[%d] = %d, want 0", i, s)
		}
	}
	if sc.Name != "quad.ply" {
		t.Errorf("name %q", sc.Name)
	}
}

func TestReadPLYBinary(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		t.Run(order.String(), func(t *testing.T) {
			data := binaryPLY(order)
			sc, err := ReadPLY(bytes.NewReader(data), "b.ply", concreteSurface(t))
			if err != nil {
				t.Fatal(err)
			}
			// z is stored as int32, so 1.25 reads back as 1.
			want := append([]geom.Vec3(nil), wantVerts...)
			want[4].Z = 1
			checkMesh(t, sc, want, wantTris)
			// The same bytes through a reader that hides its size must give the same mesh.
			sc, err = ReadPLY(io.MultiReader(bytes.NewReader(data)), "b.ply", concreteSurface(t))
			if err != nil {
				t.Fatal(err)
			}
			checkMesh(t, sc, want, wantTris)
		})
	}
}

// The ASCII line terminator may be CRLF, and the last line may lack its newline.
func TestReadPLYLineEndings(t *testing.T) {
	crlf := strings.ReplaceAll(asciiPLY, "\n", "\r\n")
	for name, data := range map[string]string{"crlf": crlf, "no final newline": strings.TrimSuffix(asciiPLY, "\n")} {
		sc, err := ReadPLY(strings.NewReader(data), name, concreteSurface(t))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkMesh(t, sc, wantVerts, wantTris)
	}
}

// TestReadPLYWideRecord: a vertex record larger than the read buffer (8200 doubles, 65.6 kB) takes
// the property-by-property path instead of the whole-record one, with the same result.
func TestReadPLYWideRecord(t *testing.T) {
	const extra = 8200
	var b bytes.Buffer
	b.WriteString("ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty double x\n")
	for i := range extra {
		fmt.Fprintf(&b, "property double p%d\n", i)
	}
	b.WriteString("property double y\nproperty double z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n")
	pad := make([]float64, extra)
	want := []geom.Vec3{{X: 1, Y: 2, Z: 3}, {X: 4, Y: 5, Z: 6}, {X: 7, Y: 8, Z: 9}}
	for _, v := range want {
		putPLY(&b, binary.LittleEndian, v.X, pad, v.Y, v.Z)
	}
	putPLY(&b, binary.LittleEndian, uint8(3), int32(0), int32(1), int32(2))
	sc, err := ReadPLY(bytes.NewReader(b.Bytes()), "wide.ply", concreteSurface(t))
	if err != nil {
		t.Fatal(err)
	}
	checkMesh(t, sc, want, [][3]int32{{0, 1, 2}})
}

// checkMesh compares exactly: every value in the test files is exactly representable.
func checkMesh(t *testing.T, sc *Scene, verts []geom.Vec3, tris [][3]int32) {
	t.Helper()
	if fmt.Sprint(sc.Vertices) != fmt.Sprint(verts) {
		t.Errorf("vertices = %v, want %v", sc.Vertices, verts)
	}
	if fmt.Sprint(sc.Triangles) != fmt.Sprint(tris) {
		t.Errorf("triangles = %v, want %v", sc.Triangles, tris)
	}
	if len(sc.FaceSurface) != len(sc.Triangles) {
		t.Errorf("%d face surfaces for %d triangles", len(sc.FaceSurface), len(sc.Triangles))
	}
}

// TestReadPLYErrors checks that every kind of bad file gives its own message, with the line (ASCII)
// or byte offset (binary) of the offending record.
func TestReadPLYErrors(t *testing.T) {
	repl := func(old, new string) string {
		if !strings.Contains(asciiPLY, old) {
			t.Fatalf("test setup: %q not in asciiPLY", old)
		}
		return strings.Replace(asciiPLY, old, new, 1)
	}
	bin := binaryPLY(binary.LittleEndian)
	// Layout of binaryPLY: header, 5 vertex records of 27 bytes (short, float, double, int, uchar
	// count and 2 floats), face 0 (uchar, uint count, 4 ushort: 13 bytes), face 1 (11 bytes).
	const hdr, vrec, face0 = 340, 27, 13
	if !bytes.HasSuffix(bin[:hdr], []byte("end_header\n")) {
		t.Fatalf("test setup: header is not %d bytes", hdr)
	}
	faces := hdr + 5*vrec
	badIndex := bytes.Clone(bin)
	binary.LittleEndian.PutUint16(badIndex[faces+face0+1+4+2*2:], 999) // face 1's third index
	negCount := bytes.Replace(bin, []byte("list uint ushort"), []byte("list int  ushort"), 1)
	binary.LittleEndian.PutUint32(negCount[faces+1:], 0xffffffff) // face 0's count = -1
	hugeList := bytes.Clone(bin)
	binary.LittleEndian.PutUint32(hugeList[faces+1:], 0xfffffff0)
	nanVertex := bytes.Clone(bin)
	binary.LittleEndian.PutUint32(nanVertex[hdr+2*vrec+2:], math.Float32bits(float32(math.NaN())))

	cases := []struct {
		name, data, want string
		hideSize         bool // read through a reader that does not reveal its size
	}{
		{"empty", "", "t.ply: line 1: not a PLY file: first line is \"\", want \"ply\"", false},
		{"magic", "solid cube\nfacet", `t.ply: line 1: not a PLY file: first line is "solid cube", want "ply"`, false},
		{"no end_header", "ply\nformat ascii 1.0\nelement vertex 0\n", "t.ply: line 4: unexpected end of file in the header (no end_header)", false},
		{"format", repl("ascii 1.0", "ascii 2.0"), `t.ply: line 2: format line "format ascii 2.0", want "format <ascii|binary_little_endian|binary_big_endian> 1.0"`, false},
		{"format name", repl("ascii 1.0", "utf8 1.0"), `t.ply: line 2: unknown format "utf8"`, false},
		{"no format", repl("format ascii 1.0\n", ""), "t.ply: line 16: header has no format line", false},
		{"keyword", repl("obj_info", "objinfo"), `t.ply: line 4: unknown header keyword "objinfo"`, false},
		{"count", repl("vertex 5", "vertex -5"), `t.ply: line 5: element vertex: bad count "-5"`, false},
		{"type", repl("float nx", "float16 nx"), `t.ply: line 9: property nx: unknown type "float16"`, false},
		{"list count type", repl("list uchar int", "list float int"), `t.ply: line 12: property vertex_indices: list count type "float" is not an integer type`, false},
		{"float indices", repl("list uchar int", "list uchar float"), "t.ply: line 17: face property vertex_indices must be a list of an integer type", false},
		{"dup property", repl("float nx", "float x"), "t.ply: line 9: element vertex: property x declared twice", false},
		{"dup element", repl("element edge", "element face"), "t.ply: line 14: element face declared twice", false},
		{"orphan property", "ply\nformat ascii 1.0\nproperty float x\n", "t.ply: line 3: property before any element", false},
		{"no z", repl("property double z\n", ""), "t.ply: line 16: vertex element has no z property", false},
		{"list x", repl("property float x", "property list uchar float x"), "t.ply: line 17: vertex property x is a list", false},
		{"no vertex", repl("element vertex", "element vertices"), "t.ply: line 17: header declares no vertex element", false},
		{"no face", repl("element face", "element faces"), "t.ply: line 17: header declares no face element (a point cloud is not a mesh)", false},
		{"no indices", repl("vertex_indices", "vertex_ids"), "t.ply: line 17: face element has no vertex_indices list", false},
		{"empty element", "ply\nformat ascii 1.0\nelement vertex 1\nend_header\n", "t.ply: line 4: element vertex has 1 records but no properties", false},
		{"too many vertices", repl("vertex 5", "vertex 2147483648"), "t.ply: line 17: 2147483648 vertices is more than the 2147483647 supported", false},
		{"ascii count vs size", repl("vertex 5", "vertex 2147483647"),
			"t.ply: header: element vertex declares 2147483647 records of at least 10 bytes each, but only 95 bytes follow the header", false},
		{"index range", repl("3 0 1 4 9", "3 0 1 999 9"), "t.ply: line 24: face 1: vertex index 999 out of range (5 vertices)", false},
		{"negative index", repl("3 0 1 4 9", "3 0 -1 4 9"), "t.ply: line 24: face 1: vertex index -1 out of range (5 vertices)", false},
		{"two-vertex face", repl("3 0 1 4 9", "2 0 1 9"), "t.ply: line 24: face 1: 2 vertices, need at least 3", false},
		{"short vertex", repl("1 1 0 0.5 2", "1 1 0 0.5"), "t.ply: line 20: vertex 2: too few values (4)", false},
		{"long vertex", repl("1 1 0 0.5 2", "1 1 0 0.5 2 3"), "t.ply: line 20: vertex 2: 6 values, want 5", false},
		{"short list", repl("3 0 1 4 9", "4 0 1 4"), "t.ply: line 24: face 1: list vertex_indices has count 4 but 3 values follow", false},
		{"not a number", repl("1 1 0 0.5 2", "1 one 0 0.5 2"), `t.ply: line 20: vertex 2: property y: "one" is not a float`, false},
		{"float32 range", repl("1 1 0 0.5 2", "1 1e39 0 0.5 2"), `t.ply: line 20: vertex 2: property y: "1e39" is not a float`, false},
		{"uchar range", repl("1 1 0 0.5 2", "1 1 0 0.5 256"), `t.ply: line 20: vertex 2: property red: "256" is not a uchar`, false},
		{"int index", repl("3 0 1 4 9", "3 0 1 4.0 9"), `t.ply: line 24: face 1: list vertex_indices: "4.0" is not a int`, false},
		{"nan", repl("1 1 0 0.5 2", "1 nan 0 0.5 2"), "t.ply: line 20: vertex 2: coordinates (1, NaN, 0) are not finite", false},
		{"eof", strings.TrimSuffix(asciiPLY, "0 1\n"), "t.ply: line 25: unexpected end of file: want edge 0 of 1", false},
		{"binary truncated", string(bin[:hdr+2*vrec+5]),
			"t.ply: header: element vertex declares 5 records of at least 19 bytes each, but only 59 bytes follow the header", false},
		{"binary eof", string(bin[:hdr+2*vrec+5]), "t.ply: byte 394: unexpected end of file: want vertex 2 of 5", true},
		{"binary eof in list", string(bin[:faces+face0+5+2]), "t.ply: byte 488: face 1: list vertex_indices has count 3, more than the file holds", false},
		{"binary eof in list", string(bin[:faces+face0+5+2]), "t.ply: byte 488: unexpected end of file: want face 1 of 2", true},
		{"binary index", string(badIndex), "t.ply: byte 488: face 1: vertex index 999 out of range (5 vertices)", false},
		{"binary negative count", string(negCount), "t.ply: byte 475: face 0: list vertex_indices has negative count -1", false},
		{"binary huge list", string(hugeList), "t.ply: byte 475: face 0: list vertex_indices has count 4294967280, more than the file holds", false},
		{"binary nan", string(nanVertex), "t.ply: byte 394: vertex 2: coordinates (NaN, 1, 0) are not finite", false},
		{"binary face count vs size", string(bytes.Replace(bin, []byte("face 2"), []byte("face 1000"), 1)),
			"t.ply: header: element face declares 1000 records of at least 11 bytes each, but only 163 bytes follow the header", false},
		{"binary count vs size", string(bytes.Replace(bin, []byte("vertex 5"), []byte("vertex 2147483647"), 1)),
			"t.ply: header: element vertex declares 2147483647 records of at least 19 bytes each, but only 163 bytes follow the header", false},
	}
	for _, c := range cases {
		var r io.Reader = strings.NewReader(c.data)
		if c.hideSize {
			r = io.MultiReader(r)
		}
		_, err := ReadPLY(r, "t.ply", concreteSurface(t))
		if err == nil {
			t.Errorf("%s: no error, want %q", c.name, c.want)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("%s:\n got  %q\n want %q", c.name, err, c.want)
		}
	}
}

// TestReadPLYHostileCounts: a binary header claiming 2^31-1 vertices and faces over 100 bytes of data
// must fail at once when the size is known, and without allocating for the claim when it is not.
func TestReadPLYHostileCounts(t *testing.T) {
	data := []byte("ply\nformat binary_little_endian 1.0\nelement vertex 2147483647\nproperty float x\nproperty float y\nproperty float z\n" +
		"element face 2147483647\nproperty list uint int vertex_indices\nend_header\n")
	data = append(data, make([]byte, 100)...)
	_, err := ReadPLY(bytes.NewReader(data), "h.ply", concreteSurface(t))
	if err == nil || !strings.Contains(err.Error(), "h.ply: header: element vertex declares 2147483647 records") {
		t.Fatalf("known size: err = %v", err)
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = ReadPLY(io.MultiReader(bytes.NewReader(data)), "h.ply", concreteSurface(t))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "unexpected end of file: want vertex 8 of 2147483647") {
		t.Fatalf("unknown size: err = %v", err)
	}
	// Preallocation without a size is capped at plyCapHint records: 2^16 * (24 B per vertex +
	// 12 B per triangle) = 2.4 MB, plus the 64 KiB read buffer. 16 MB leaves room for the runtime's own
	// allocations and is still ~1000x below what honouring the claimed counts would take.
	if got := after.TotalAlloc - before.TotalAlloc; got > 16<<20 {
		t.Errorf("unknown size: allocated %d bytes", got)
	}
}

func TestLoadPLYInSiteChicago(t *testing.T) {
	p := shareddata.Path(t, "insite-chicago-3p5ghz/buildings.ply")
	sc, err := LoadPLY(p, concreteSurface(t))
	if err != nil {
		t.Fatal(err)
	}
	// 524 vertices; 244 polygons: 238 quads (2 triangles each) and 6 hexagons (4 each) = 500 triangles.
	if len(sc.Vertices) != 524 || len(sc.Triangles) != 500 {
		t.Errorf("%d vertices, %d triangles; want 524, 500", len(sc.Vertices), len(sc.Triangles))
	}
	// The study's geometry: ground at z = 0, road slabs at 0.3 m, buildings above.
	lo, hi := sc.Bounds()
	if lo.Z != 0 || hi.Z < 10 {
		t.Errorf("bounds %v .. %v: want z from 0 to above 10 m", lo, hi)
	}
	// First vertex, as written in the file (float32, so compare to float32 rounding: 1e-5 m).
	if v := sc.Vertices[0]; math.Abs(v.X+23.606018) > 1e-5 || math.Abs(v.Y+28.787273) > 1e-5 || v.Z != 0 {
		t.Errorf("vertex 0 = %v", v)
	}
}

func TestLoadPLYLowPolyCar(t *testing.T) {
	p := shareddata.Path(t, "sionna-scenes/low_poly_car.ply")
	sc, err := LoadPLY(p, concreteSurface(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Vertices) != 12 || len(sc.Triangles) != 20 {
		t.Errorf("%d vertices, %d triangles; want 12, 20", len(sc.Vertices), len(sc.Triangles))
	}
}

func TestLoadPLYMissing(t *testing.T) {
	_, err := LoadPLY(filepath.Join(t.TempDir(), "none.ply"), concreteSurface(t))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want a wrapped ErrNotExist", err)
	}
}

// bigPLY generates a binary grid mesh of n x n quads (2 n^2 triangles), written as quads so that the
// benchmark includes triangulation.
func bigPLY(n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "ply\nformat binary_little_endian 1.0\nelement vertex %d\nproperty float x\nproperty float y\nproperty float z\n"+
		"property float nx\nproperty float ny\nproperty float nz\nelement face %d\nproperty list uchar int vertex_indices\nend_header\n",
		(n+1)*(n+1), n*n)
	rec := make([]byte, 24)
	for i := 0; i <= n; i++ {
		for j := 0; j <= n; j++ {
			binary.LittleEndian.PutUint32(rec[0:], math.Float32bits(float32(i)))
			binary.LittleEndian.PutUint32(rec[4:], math.Float32bits(float32(j)))
			binary.LittleEndian.PutUint32(rec[20:], math.Float32bits(1))
			b.Write(rec)
		}
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			v := int32(i*(n+1) + j)
			putPLY(&b, binary.LittleEndian, uint8(4), v, v+1, v+int32(n)+2, v+int32(n)+1)
		}
	}
	return b.Bytes()
}

func TestBigPLY(t *testing.T) {
	const n = 30
	sc, err := ReadPLY(bytes.NewReader(bigPLY(n)), "big.ply", concreteSurface(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Vertices) != (n+1)*(n+1) || len(sc.Triangles) != 2*n*n {
		t.Errorf("%d vertices, %d triangles", len(sc.Vertices), len(sc.Triangles))
	}
	if lo, hi := sc.Bounds(); lo != (geom.Vec3{}) || hi != geom.V(n, n, 0) {
		t.Errorf("bounds %v %v", lo, hi)
	}
}

// BenchmarkLoadPLY reads a generated 500 x 500 quad grid (251k vertices, 500k triangles, 8.5 MB)
// from memory, and munich's largest mesh from disk when the shared data is present.
func BenchmarkLoadPLY(b *testing.B) {
	b.Run("grid500", func(b *testing.B) {
		data := bigPLY(500)
		surf := concreteSurface(b)
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := ReadPLY(bytes.NewReader(data), "big.ply", surf); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("munich-Heilig_Geist", func(b *testing.B) {
		p := shareddata.Path(b, "sionna-scenes/munich/meshes/Heilig_Geist-itu_metal.ply")
		fi, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		surf := concreteSurface(b)
		b.SetBytes(fi.Size())
		for b.Loop() {
			if _, err := LoadPLY(p, surf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzReadPLY: any input gives a scene or an error, never a panic; a returned scene is valid.
func FuzzReadPLY(f *testing.F) {
	f.Add([]byte(asciiPLY))
	f.Add(binaryPLY(binary.LittleEndian))
	f.Add(binaryPLY(binary.BigEndian))
	f.Add(bigPLY(2))
	f.Add([]byte("ply\nformat ascii 1.0\nelement vertex 3\nproperty int x\nproperty int y\nproperty int z\n" +
		"element face 1\nproperty list char uint vertex_index\nend_header\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"))
	f.Add([]byte("ply\nformat binary_little_endian 1.0\nelement vertex 2147483647\nproperty float x\nproperty float y\nproperty float z\n" +
		"element face 1\nproperty list uint int vertex_indices\nend_header\n\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := ReadPLY(bytes.NewReader(data), "fuzz.ply", Surface{Name: "s"})
		// Without the size, the early size checks cannot run; the outcome must still be the same,
		// since they reject only files that would run out of data.
		sc2, err2 := ReadPLY(io.MultiReader(bytes.NewReader(data)), "fuzz.ply", Surface{Name: "s"})
		if (err == nil) != (err2 == nil) {
			t.Fatalf("with size: %v; without: %v", err, err2)
		}
		if err != nil {
			if sc != nil || sc2 != nil {
				t.Fatal("scene and error both returned")
			}
			return
		}
		if err := sc.Validate(); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(sc) != fmt.Sprint(sc2) {
			t.Fatal("scenes differ with and without the size")
		}
	})
}
