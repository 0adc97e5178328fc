package account

import (
	"testing"

	"github.com/jonboulle/clockwork"
)

// BenchmarkCheck compares a cached Check (what RTSP and Home Assistant
// pay on each request) with a full argon2id verification at the Pi
// parameters: the "verify/cached" metric is how many cached checks one
// hash costs.
func BenchmarkCheck(b *testing.B) {
	h, err := HashPassword("alice-password")
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewStore([]User{{"alice", h}}, StoreOptions{Clock: clockwork.NewFakeClock()})
	if err != nil {
		b.Fatal(err)
	}
	var verify, cached float64
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			if ok, _ := Verify(h, "alice-password"); !ok {
				b.Fatal("no match")
			}
		}
		verify = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("cached", func(b *testing.B) {
		s.Check("alice", "alice-password")
		b.ReportAllocs()
		for b.Loop() {
			if !s.Check("alice", "alice-password") {
				b.Fatal("no match")
			}
		}
		cached = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		if cached > 0 {
			b.ReportMetric(verify/cached, "verify/cached")
		}
	})
}
