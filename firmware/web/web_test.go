package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type fakeBackend struct{ jpeg []byte }

func (f fakeBackend) Status() any { return map[string]string{"camera": "ok"} }
func (f fakeBackend) LatestJPEG(context.Context) ([]byte, error) {
	if f.jpeg == nil {
		return nil, errors.New("camera unavailable")
	}
	return f.jpeg, nil
}

func do(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, nil)
	req.Host = "localhost:8080" // httptest's example.com is refused (hostAllowed)
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestSimMounted(t *testing.T) {
	var got []string
	sim := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusAccepted)
	})
	s := New(Options{Backend: fakeBackend{jpeg: []byte{0xff, 0xd8}}, Sim: sim})
	tests := []struct {
		method, path string
		code         int
	}{
		{"POST", "/api/sim/ring", 202},
		{"POST", "/api/sim/motion?state=on", 202},
		{"GET", "/healthz", 200},
		{"GET", "/api/status", 200},
		{"GET", "/api/snapshot.jpg", 200},
	}
	for _, tt := range tests {
		if code, body := do(t, s.srv.Handler, tt.method, tt.path); code != tt.code {
			t.Errorf("%s %s = %d %q, want %d", tt.method, tt.path, code, body, tt.code)
		}
	}
	if strings.Join(got, ",") != "POST /api/sim/ring,POST /api/sim/motion" {
		t.Errorf("sim handler saw %v", got)
	}
}

func TestNoSimEndpointsOutsideSim(t *testing.T) {
	s := New(Options{Backend: fakeBackend{}})
	if code, _ := do(t, s.srv.Handler, "POST", "/api/sim/ring"); code != 404 {
		t.Errorf("POST /api/sim/ring outside sim = %d, want 404", code)
	}
	if code, body := do(t, s.srv.Handler, "GET", "/api/snapshot.jpg"); code != 503 || !strings.Contains(body, "unavailable") {
		t.Errorf("snapshot without camera = %d %q, want 503 naming the cause", code, body)
	}
}
