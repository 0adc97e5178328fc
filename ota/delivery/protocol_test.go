package delivery_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/doorbelld/doorbelld/ota/delivery"
)

func TestParseOffer(t *testing.T) {
	good := map[string]delivery.Offer{
		`{"version":"1.3.0","url":"http://nas.lan/d.ota"}`:                   {Version: "1.3.0", URL: "http://nas.lan/d.ota"},
		` {"version":"v1.3.0","url":"https://10.0.0.2:8443/x"} `:             {Version: "v1.3.0", URL: "https://10.0.0.2:8443/x"},
		`{"version":"1.3.0","path":"/var/lib/doorbell/in/1.3.0.ota"}`:        {Version: "1.3.0", Path: "/var/lib/doorbell/in/1.3.0.ota"},
		`{"version":"1.3.0","transfer":"ab_C-9","size":5,"chunk_size":1024}`: {Version: "1.3.0", Transfer: "ab_C-9", Size: 5, ChunkSize: 1024},
	}
	for in, want := range good {
		got, err := delivery.ParseOffer([]byte(in))
		if err != nil || got != want {
			t.Errorf("ParseOffer(%s) = %+v, %v", in, got, err)
		}
	}
	a, err := delivery.ParseOffer([]byte(`{"version":"1.3.0","url":"http://h/x","install":false}`))
	if err != nil || !a.Announce() {
		t.Errorf("announce: %+v %v", a, err)
	}
	bad := []string{
		``, `install`, `[]`, `{}`, `{"version":"1.3"}`,
		`{"version":"1.3.0"}`,
		`{"version":"1.3.0","url":"http://h/x","path":"/x"}`,
		`{"version":"1.3.0","url":"ftp://h/x"}`,
		`{"version":"1.3.0","url":"http://user:pw@h/x"}`,
		`{"version":"1.3.0","url":"http:///x"}`,
		`{"version":"1.3.0","path":"relative/x"}`,
		`{"version":"1.3.0","path":"/a/../etc/shadow"}`,
		`{"version":"1.3.0","path":"/x","size":5}`,
		`{"version":"1.3.0","transfer":"a/b","size":5,"chunk_size":1024}`,
		`{"version":"1.3.0","transfer":"+","size":5,"chunk_size":1024}`,
		`{"version":"1.3.0","transfer":"a","size":0,"chunk_size":1024}`,
		`{"version":"1.3.0","transfer":"a","size":5,"chunk_size":10}`,
		`{"version":"1.3.0","transfer":"a","size":5,"chunk_size":1024,"install":false}`,
		`{"version":"1.3.0","url":"http://h/x","URL2":"x"}`,
		`{"version":"1.3.0","url":"http://h/x"} {}`,
		`{"version":"1.3.0","url":"http://h/` + strings.Repeat("x", 5000) + `"}`,
	}
	for _, in := range bad {
		if o, err := delivery.ParseOffer([]byte(in)); !errors.Is(err, delivery.ErrBadOffer) {
			t.Errorf("ParseOffer(%.60s) = %+v, %v", in, o, err)
		}
	}
	for _, in := range []string{"install", " INSTALL\n"} {
		if !delivery.IsInstall([]byte(in)) {
			t.Errorf("IsInstall(%q) = false", in)
		}
	}
}

func FuzzParseOffer(f *testing.F) {
	f.Add([]byte(`{"version":"1.3.0","url":"http://nas.lan/d.ota"}`))
	f.Add([]byte(`{"version":"1.3.0","transfer":"x","size":5,"chunk_size":1024}`))
	f.Add([]byte(`{"version":"1.3.0","path":"/x","install":false}`))
	f.Add([]byte(`{"version":"1.3.0","url":"http://nas.lan/` + strings.Repeat("x", delivery.MaxOfferPayload) + `"}`))
	f.Add([]byte(`{"version":"1.3.0","path":"/x"}` + strings.Repeat(" ", delivery.MaxOfferPayload)))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := delivery.ParseOffer(b)
		if len(b) > delivery.MaxOfferPayload {
			// Refused on its size, before it is parsed: the error says
			// only that.
			if err == nil || err.Error() != fmt.Sprintf("update offer: %d bytes, at most %d: %v", len(b), delivery.MaxOfferPayload, delivery.ErrBadOffer) {
				t.Fatalf("offer of %d bytes: %v", len(b), err)
			}
			return
		}
		if err != nil {
			if !errors.Is(err, delivery.ErrBadOffer) {
				t.Fatalf("error without ErrBadOffer: %v", err)
			}
			if msg := err.Error(); !utf8.ValidString(msg) || strings.ContainsAny(msg, "\n\r\x00") || len(msg) > 400 {
				t.Fatalf("error not fit to log: %q", msg)
			}
			return
		}
		n := 0
		for _, s := range []string{o.URL, o.Path, o.Transfer} {
			if s != "" {
				n++
			}
		}
		if n != 1 || o.Transfer != "" && (o.Size <= 0 || o.ChunkSize < delivery.MinChunkSize || strings.ContainsAny(o.Transfer, "/+#")) {
			t.Fatalf("accepted %+v", o)
		}
	})
}
