package influxtest

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestStartWriteRestart checks that the server answers, has its database, keeps written data across a
// restart on the same URL, and takes 2.x-style writes to DB/autogen.
func TestStartWriteRestart(t *testing.T) {
	s := Start(t, WithoutFlux())
	dbs := s.Query("SHOW DATABASES")
	if !hasValue(dbs, s.DB) {
		t.Fatalf("SHOW DATABASES = %v, want %q among them", dbs, s.DB)
	}
	post(t, s.URL+"/write?db="+s.DB+"&precision=ns", "m,k=v x=1 1000000000\n")
	post(t, s.URL+"/api/v2/write?bucket="+s.Bucket()+"&precision=ns", "m,k=w x=2 2000000000\n")

	url := s.URL
	s.Restart()
	if s.URL != url {
		t.Fatalf("URL after restart = %s, want %s", s.URL, url)
	}
	got := s.Query("SELECT x, k FROM m")
	if len(got) != 1 || len(got[0].Values) != 2 {
		t.Fatalf("SELECT after restart = %+v, want 2 rows", got)
	}
	for i, want := range []string{"1000000000 1 v", "2000000000 2 w"} {
		row := got[0].Values[i]
		if got := fmt.Sprintf("%v %v %v", row...); got != want {
			t.Errorf("row %d = %q, want %q", i, got, want)
		}
	}
	s.Stop()
	s.Stop() // stopping twice is harmless
}

// TestFlux checks that Start enables Flux on /api/v2/query.
func TestFlux(t *testing.T) {
	s := Start(t)
	post(t, s.URL+"/api/v2/write?bucket="+s.Bucket()+"&precision=ns", "m x=1.5 1000000000\n")
	q := `{"query": "from(bucket: \"` + s.Bucket() + `\") |> range(start: 1970-01-01T00:00:00Z) |> filter(fn: (r) => r._measurement == \"m\")", "type": "flux"}`
	resp, err := http.Post(s.URL+"/api/v2/query", "application/json", strings.NewReader(q))
	if err != nil {
		t.Fatalf("Flux query: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	// The annotated-CSV answer has one record: ...,_value,_field,_measurement with 1.5,x,m.
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), ",1.5,x,m") {
		t.Fatalf("Flux query: %s\n%s", resp.Status, body)
	}
}

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %s %s", url, resp.Status, msg)
	}
}

func hasValue(series []Series, v string) bool {
	for _, s := range series {
		for _, row := range s.Values {
			for _, x := range row {
				if x == v {
					return true
				}
			}
		}
	}
	return false
}
