package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestScrapeReadsSourcesEachTime(t *testing.T) {
	var frames atomic.Uint64
	frames.Store(10)
	m := New(Sources{
		Camera:        func() (uint64, uint64, bool) { return frames.Load(), 2, true },
		Driver:        func() (uint64, uint64) { return 3, 1 },
		Ring:          func() (int, int, int) { return 40, 1 << 20, 64 << 20 },
		Outbox:        func() int { return 5 },
		MQTTConnected: func() bool { return false },
		Viewers:       func() map[string]int { return map[string]int{"rtsp": 2, "mjpeg": 1} },
		LiveFrames:    func() (uint64, uint64, uint64) { return 100, 7, 30 },
		Clips:         func() (int, int64) { return 3, 3000 },
		ClipBytesSent: func() uint64 { return 12345 },
		Parts: func() []Sample {
			return []Sample{{[]string{"mqtt", "running"}, 1}, {[]string{"camera", "backoff"}, 1}}
		},
	})
	m.ObserveEdgeToPublish(4*time.Millisecond, false)
	m.ObserveEdgeToPublish(6*time.Millisecond, false)
	m.ObserveEdgeToPublish(time.Hour, true)
	got, err := m.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"doorbelld_camera_frames_total":                            10,
		"doorbelld_camera_frames_refused_total":                    2,
		"doorbelld_camera_streaming":                               1,
		"doorbelld_camera_driver_skipped_frames_total":             3,
		"doorbelld_camera_driver_bad_buffers_total":                1,
		"doorbelld_ring_frames":                                    40,
		"doorbelld_ring_bytes":                                     1 << 20,
		"doorbelld_ring_capacity_bytes":                            64 << 20,
		"doorbelld_outbox_pending_events":                          5,
		"doorbelld_mqtt_connected":                                 0,
		"doorbelld_live_viewers{kind=rtsp}":                        2,
		"doorbelld_live_viewers{kind=mjpeg}":                       1,
		"doorbelld_live_frames_total":                              100,
		"doorbelld_live_frames_dropped_total":                      7,
		"doorbelld_live_frames_encoded_total":                      30,
		"doorbelld_clips_stored":                                   3,
		"doorbelld_clips_stored_bytes":                             3000,
		"doorbelld_clip_bytes_sent_total":                          12345,
		"doorbelld_part_state{part=mqtt}{state=running}":           1,
		"doorbelld_part_state{part=camera}{state=backoff}":         1,
		"doorbelld_edge_to_publish_seconds{delivery=live}_count":   2,
		"doorbelld_edge_to_publish_seconds{delivery=replay}_count": 1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if s := got["doorbelld_edge_to_publish_seconds{delivery=live}_sum"]; s < 0.0099 || s > 0.0101 {
		t.Errorf("histogram sum %v, want 0.010", s)
	}
	// Read again at the next scrape, not cached.
	frames.Store(11)
	if got, _ = m.Gather(); got["doorbelld_camera_frames_total"] != 11 {
		t.Errorf("frames after a change: %v, want 11", got["doorbelld_camera_frames_total"])
	}
}

func TestNilSourcesLeftOut(t *testing.T) {
	m := New(Sources{})
	got, err := m.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for k := range got {
		if strings.HasPrefix(k, "doorbelld_") && !strings.HasPrefix(k, "doorbelld_edge_to_publish") {
			t.Errorf("%s served without a source", k)
		}
	}
}

func TestHandlerServesTextFormat(t *testing.T) {
	m := New(Sources{Outbox: func() int { return 1 }})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	for _, s := range []string{"# TYPE doorbelld_outbox_pending_events gauge", "doorbelld_outbox_pending_events 1", "go_goroutines"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("/metrics lacks %q:\n%.2000s", s, b)
		}
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestMaskMetrics(t *testing.T) {
	m := New(Sources{Masks: func() (uint64, uint64, uint64, []Sample) {
		return 10, 8, 1, []Sample{{[]string{"progressive"}, 2}}
	}})
	got, err := m.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]float64{
		"doorbelld_mask_frames_total": 10, "doorbelld_mask_fast_frames_total": 8, "doorbelld_mask_dropped_frames_total": 1,
		"doorbelld_mask_fallbacks_total{reason=progressive}": 2,
	} {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
