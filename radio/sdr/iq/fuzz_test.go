package iq

import (
	"bytes"
	"testing"
)

// FuzzParseMeta: the .sigmf-meta parser never panics, every error is a *MetaError, and what it
// accepts re-encodes to a fixed point (encode(parse(encode(parse(x)))) == encode(parse(x))). The
// corpus is in testdata/fuzz/FuzzParseMeta.
func FuzzParseMeta(f *testing.F) {
	f.Add([]byte(`{"global": {"core:datatype": "cf32_le", "core:sample_rate": 1e6, "core:version": "1.2.0"}, "captures": [], "annotations": []}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseMeta("fuzz.sigmf-meta", data)
		if err != nil {
			if _, ok := err.(*MetaError); !ok {
				t.Fatalf("error %T %v is not a *MetaError", err, err)
			}
			return
		}
		var a, b bytes.Buffer
		if err := encodeMeta(&a, m); err != nil {
			t.Fatal(err)
		}
		m2, err := parseMeta("re.sigmf-meta", a.Bytes())
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, a.Bytes())
		}
		if err := encodeMeta(&b, m2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("not a fixed point:\n%s\n%s", a.Bytes(), b.Bytes())
		}
	})
}
