package clipxfer

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/doorbelld/doorbelld/firmware/ratelog"
)

// The Publisher's bounds on what receivers can make it send. MQTT 3.1.1
// tells it nothing about who published a want, so a want is judged by the
// clip it names and by when its chunks were sent (see doc.go, Limits):
//
//   - join: a chunk already asked for, or sent and not yet acknowledged by
//     the broker, is not asked for again; a chunk sent less than Resend ago
//     is sent again once (a chunk lost or corrupted on its way), then not
//     before Resend has passed since;
//   - the clip's budget: at most ClipBudget × its size sent in an hour;
//   - the device's budget: at most MaxBytesPerHour sent in an hour for all
//     clips together.

// sendState is what a clip's sends left: when each chunk went out, and
// the bytes sent in the last hour. Run owns it; it exists once the clip is
// asked for, and its per-chunk arrays from its first send until Resend
// after its last (Publisher.forget drops them, and the rest an hour after).
type sendState struct {
	sentAt  []int64  // Clock nanoseconds of chunk n's last send; 0: never
	early   []uint64 // bit n: chunk n was last sent again before Resend had passed
	flying  []uint64 // bit n: chunk n awaits its PUBACK
	nflying int
	last    time.Time // the last send
	spent   hourly    // bytes sent
}

func (s *sendState) alloc(chunks int) {
	if s.sentAt == nil {
		s.sentAt = make([]int64, chunks)
		s.early = make([]uint64, (chunks+63)/64)
		s.flying = make([]uint64, (chunks+63)/64)
	}
}

func bit(b []uint64, n int) bool { return b[n/64]&(1<<(n%64)) != 0 }

func setBit(b []uint64, n int, v bool) {
	if v {
		b[n/64] |= 1 << (n % 64)
	} else {
		b[n/64] &^= 1 << (n % 64)
	}
}

// sent records chunk n of l bytes handed to the client at now.
func (s *sendState) sent(n, l int, now time.Time) {
	s.sentAt[n] = now.UnixNano()
	if !bit(s.flying, n) {
		setBit(s.flying, n, true)
		s.nflying++
	}
	s.last = now
	s.spent.add(now, int64(l))
}

// acked records chunk n's publish completed (acknowledged or failed).
func (s *sendState) acked(n int) {
	if s.sentAt != nil && n < len(s.sentAt) && bit(s.flying, n) {
		setBit(s.flying, n, false)
		s.nflying--
	}
}

// hourly counts bytes by the minute for the last hour.
type hourly struct {
	minute [60]int64 // the minute (Unix time / 60) bytes[i] counts
	bytes  [60]int64
}

func minuteOf(t time.Time) int64 { return t.Unix() / 60 }

func (h *hourly) add(now time.Time, n int64) {
	m := minuteOf(now)
	i := ((m % 60) + 60) % 60
	if h.minute[i] != m {
		h.minute[i], h.bytes[i] = m, 0
	}
	h.bytes[i] += n
}

// sum is the bytes counted in the last 60 minutes (this one included).
func (h *hourly) sum(now time.Time) int64 {
	m := minuteOf(now)
	var s int64
	for i := range h.minute {
		if h.minute[i] > m-60 && h.minute[i] <= m {
			s += h.bytes[i]
		}
	}
	return s
}

// mergeRanges sorts ranges and merges those that overlap or touch,
// clipped to chunks [0, chunks): every chunk is then looked at once, however
// many times the wants named it.
func mergeRanges(ranges [][2]int, chunks int) [][2]int {
	rs := slices.Clone(ranges)
	slices.SortFunc(rs, func(a, b [2]int) int { return a[0] - b[0] })
	out := rs[:0]
	for _, r := range rs {
		if r[0] >= chunks {
			break
		}
		r[1] = min(r[1], chunks-1)
		if n := len(out); n > 0 && r[0] <= out[n-1][1]+1 {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}

// Log lines about one clip go out at most once a minute per kind
// (firmware/ratelog); at most maxLogKeys clips are remembered.
const (
	logEvery   = time.Minute
	maxLogKeys = 256
)

func newLogs() *ratelog.Keys { return ratelog.New(logEvery, maxLogKeys) }

// logLimited logs msg at level for clip id (kind: what happened) at most
// once a minute, with how many were not logged since.
func (p *Publisher) logLimited(r *run, level slog.Level, kind, id, msg string, args ...any) {
	v := r.logs.Allow(p.o.Clock.Now(), kind+" "+id)
	if !v.OK {
		return
	}
	args = append([]any{"id", id}, args...)
	if v.Suppressed > 0 {
		args = append(args, "not_logged_since", v.Suppressed)
	}
	if v.Overflow > 0 {
		args = append(args, "not_logged_other_clips", v.Overflow)
	}
	p.o.Logger.Log(context.Background(), level, msg, args...)
}
