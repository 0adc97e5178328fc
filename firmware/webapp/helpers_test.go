package webapp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/clip"
	"github.com/doorbelld/doorbelld/capture/cliptest"
	"github.com/doorbelld/doorbelld/capture/storage"
)

var t0 = time.Date(2026, 11, 26, 18, 30, 0, 0, time.UTC)

// mjpegFormat is the test clips' format.
var mjpegFormat = capture.Format{PixelFormat: capture.PixMJPEG, Width: 160, Height: 120, FPS: 15}

// muxClip muxes frames into an MP4 and returns its bytes and Meta.
func muxClip(t testing.TB, id string, frames []capture.Frame, eventIDs ...string) (storage.Meta, []byte) {
	t.Helper()
	var buf bytes.Buffer
	info, err := clip.Mux(frames, &buf)
	if err != nil {
		t.Fatalf("mux %s: %v", id, err)
	}
	return storage.Meta{ID: id, EventIDs: eventIDs, Start: info.Start, End: info.End, Frames: info.Frames,
		Codec: info.Codec, Width: info.Width, Height: info.Height}, buf.Bytes()
}

// putClip stores frames as clip id.
func putClip(t testing.TB, s *storage.Store, id string, frames []capture.Frame, eventIDs ...string) []byte {
	t.Helper()
	m, b := muxClip(t, id, frames, eventIDs...)
	if err := s.Put(m, b); err != nil {
		t.Fatalf("put %s: %v", id, err)
	}
	return b
}

// call is one Backend call.
type call struct {
	What string // "switch", "chime", "snapshot"
	Name string
	On   bool
}

// fakeBackend records calls and fails them when err is set.
type fakeBackend struct {
	mu    sync.Mutex
	calls []call
	err   error
	sw    map[string]bool
	seen  chan call // every call, if not nil
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{sw: map[string]bool{"privacy": false, "chime": true}, seen: make(chan call, 64)}
}

func (b *fakeBackend) record(c call) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	b.calls = append(b.calls, c)
	if c.What == "switch" {
		b.sw[c.Name] = c.On
	}
	select {
	case b.seen <- c:
	default:
	}
	return nil
}

func (b *fakeBackend) SetSwitch(_ context.Context, name string, on bool) error {
	return b.record(call{"switch", name, on})
}
func (b *fakeBackend) TestChime(context.Context) error { return b.record(call{What: "chime"}) }
func (b *fakeBackend) Snapshot(context.Context) error  { return b.record(call{What: "snapshot"}) }
func (b *fakeBackend) Switches() map[string]bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return map[string]bool{"privacy": b.sw["privacy"], "chime": b.sw["chime"]}
}

func (b *fakeBackend) Calls() []call {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]call(nil), b.calls...)
}

var errBackend = errors.New("chime relay not configured")

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testLogger(buf io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// get requests path from srv and returns the response with its body read.
func get(t testing.TB, srv *httptest.Server, method, path, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// waitFor polls cond until it holds, failing the test after 20 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// framesAt returns MJPEG frames of distinct colours at the given offsets
// from t0.
func framesAt(offsets ...time.Duration) []capture.Frame {
	out := cliptest.Frames(mjpegFormat, len(offsets), t0)
	for i, o := range offsets {
		out[i].At = t0.Add(o)
	}
	return out
}
