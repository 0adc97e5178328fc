package clipxfer_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/clipxfer"
	"github.com/doorbelld/doorbelld/firmware/ownerkey"
)

// In storage.mode ram a done frees the clip: with RequireOwnerDone only
// the owner's is taken.
func TestForgedDoneKeepsClip(t *testing.T) { scenarioOwnerDone(t, startBroker(t)) }

// Which dones count, by the device's options.
func TestDoneAttribution(t *testing.T) {
	url := startBroker(t)
	key := ownerkey.Generate()
	for _, c := range []struct {
		name    string
		key     ownerkey.Key
		require bool
		signed  map[string]bool // done signed by the owner (true) or unsigned (false) → delivered?
	}{
		{"no key", nil, false, map[string]bool{"unsigned": true, "signed": true}},
		{"key", key, false, map[string]bool{"unsigned": false, "signed": true}},
		{"key required", key, true, map[string]bool{"unsigned": false, "signed": true}},
		{"required without a key", nil, true, map[string]bool{"unsigned": false, "signed": false}},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := diskStore(t, 16<<10)
			base := uniq("t/")
			var mu sync.Mutex
			var delivered []string
			d := startDevice(t, url, base, clipxfer.PublisherOptions{Store: store, ChunkBytes: 16 << 10, OwnerKey: c.key, RequireOwnerDone: c.require,
				OnDelivered: func(id string) { mu.Lock(); delivered = append(delivered, id); mu.Unlock() }}, nil)
			att := client(t, url)
			var want []string
			refused := 0
			for _, kind := range []string{"unsigned", "signed"} {
				m, data := putClip(t, store, uniq(kind[:1]), 20<<10)
				d.offer(t, m)
				done := clipxfer.Done{SHA256: sha256Hex(data)}
				if kind == "signed" {
					done = clipxfer.SignDone(key, m.ID, done.SHA256)
				}
				b, _ := json.Marshal(done)
				att.Publish(clipxfer.DoneTopic(base, m.ID), 1, false, b).WaitTimeout(5 * time.Second)
				if c.signed[kind] {
					want = append(want, m.ID)
				} else {
					refused++
				}
				// The stats count a delivery before OnDelivered runs: wait
				// for the callback too (armv7 under load saw the gap).
				waitFor(t, "the done handled", func() bool {
					st := d.pub.Stats()
					mu.Lock()
					n := len(delivered)
					mu.Unlock()
					return st.Delivered == uint64(len(want)) && st.DonesRefused == uint64(refused) && n >= len(want)
				})
			}
			mu.Lock()
			defer mu.Unlock()
			if strings.Join(delivered, ",") != strings.Join(want, ",") {
				t.Errorf("delivered %v, want %v", delivered, want)
			}
		})
	}
}

// Whole-clip wants, a thousand of them (a few KB, as in the review that
// found a device sending 942 MB for 4.6 KB of wants), make a device send
// at most ClipBudget × the clip. Without the limits (Resend, ClipBudget,
// MaxBytesPerHour off: the old behaviour) paced wants make it send the
// whole clip for each.
func TestWantFlood(t *testing.T) {
	url := startBroker(t)
	const wants = 1000
	off := clipxfer.PublisherOptions{Resend: -1, ClipBudget: -1, MaxBytesPerHour: -1}
	for _, c := range []struct {
		name   string
		paced  bool
		o      clipxfer.PublisherOptions
		budget float64 // the most, × the clip, the device may send; 0: no bound checked
		exact  float64 // what it must send exactly, × the clip
	}{
		{"paced, no limits (before)", true, off, 0, wants},
		{"paced, limits (after)", true, clipxfer.PublisherOptions{}, clipxfer.DefaultClipBudget, 0},
		{"paced, budget 2", true, clipxfer.PublisherOptions{ClipBudget: 2}, 2, 0},
		{"at once, no limits (before)", false, off, 0, 0},
		// Frozen clock: each chunk is sent, then once more (its
		// first want after the PUBACK, as for a lost chunk), then
		// joined: 2×, under the budget.
		{"at once, limits (after)", false, clipxfer.PublisherOptions{}, 2, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := scenarioWantFlood(t, url, wants, c.paced, c.o)
			sent := float64(res.stats.BytesSent) / float64(res.clip)
			if res.seen != int64(res.stats.BytesSent) && (c.paced || c.budget > 0) {
				t.Errorf("the broker delivered %d bytes, the device counted %d", res.seen, res.stats.BytesSent)
			}
			if c.budget > 0 && sent > c.budget {
				t.Errorf("sent %.2f× the clip, budget %v×", sent, c.budget)
			}
			if c.exact > 0 && sent != c.exact {
				t.Errorf("sent %.2f× the clip, want %v×", sent, c.exact)
			}
			if c.budget > 0 && c.paced && res.stats.OverBudget == 0 {
				t.Errorf("nothing counted over budget: %+v", res.stats)
			}
		})
	}
}

// The device's hourly cap for all clips bounds a flood spread over many
// clips.
func TestMaxBytesPerHour(t *testing.T) {
	res := scenarioWantFlood(t, startBroker(t), 50, true, clipxfer.PublisherOptions{ClipBudget: -1, MaxBytesPerHour: 64 << 10})
	if res.stats.BytesSent > 64<<10 || res.stats.OverBudget == 0 {
		t.Errorf("sent %d bytes, cap %d; %d chunks over budget", res.stats.BytesSent, 64<<10, res.stats.OverBudget)
	}
}

// An honest receiver that loses chunks on their way (one in ten, and a
// third of those again) completes with the limits on: every chunk it asks
// for again is sent at its first re-ask (sent less than Resend ago, not
// yet sent again) or at the next but one (Resend, just under two
// RetryAfter, has passed). Both sides run on one fake clock, which the
// test moves by RetryAfter whenever the transfer stalls: the device has
// sent all it was asked for and the receiver got it all.
func TestLossyReceiverCompletes(t *testing.T) {
	url := startBroker(t)
	const size, chunk = 1<<20 + 77, 16 << 10 // 65 chunks
	store := diskStore(t, chunk)
	id := uniq("l")
	meta, data := putClip(t, store, id, size)
	clock := clockwork.NewFakeClock()
	base := uniq("t/")
	d := startDevice(t, url, base, clipxfer.PublisherOptions{Store: store, ChunkBytes: chunk, Clock: clock}, nil)
	d.offer(t, meta)

	var mu sync.Mutex
	deliveries := map[int]int{}
	var arrived, lost, progress atomic.Int64
	lose := func(_ string, n int) bool {
		mu.Lock()
		k := deliveries[n]
		deliveries[n]++
		mu.Unlock()
		arrived.Add(1)
		drop := (k == 0 && n%10 == 3) || (k == 1 && n%30 == 3)
		if drop {
			lost.Add(1)
		}
		return drop
	}
	type result struct {
		got map[string]clipxfer.Progress
		err error
	}
	res := make(chan result, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		got, err := receive(ctx, client(t, url), clipxfer.ReceiverOptions{Base: base, Dir: t.TempDir(), IDs: []string{id}, Clock: clock,
			Progress: func(clipxfer.Progress) { progress.Add(1) }}, func(r *clipxfer.Receiver) { clipxfer.SetLose(r, lose) })
		res <- result{got, err}
	}()

	var r result
	var lastWants uint64
	var lastProgress int64
	for advances := 0; ; advances++ {
		finished := false
		waitFor(t, "the transfer to stall or finish", func() bool {
			select {
			case r = <-res:
				finished = true
				return true
			default:
			}
			st := d.pub.Stats()
			// Something happened since the clock last moved, and all
			// is quiet now.
			return (st.Wants != lastWants || progress.Load() != lastProgress) &&
				st.Queued == 0 && st.Pending == 0 && st.InFlight == 0 && uint64(arrived.Load()) == st.ChunksSent
		})
		if finished {
			break
		}
		if advances > 50 {
			t.Fatalf("no end after %d × RetryAfter; stats %+v", advances, d.pub.Stats())
		}
		lastWants, lastProgress = d.pub.Stats().Wants, progress.Load()
		clock.Advance(clipxfer.DefaultRetryAfter)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	p := r.got[id]
	sameFile(t, p.Path, data)
	st := d.pub.Stats()
	t.Logf("%d chunks, %d lost on their way; the device sent %d chunks, %d bytes (%.2f× the clip), joined %d; %d re-asks",
		meta.Size/chunk+1, lost.Load(), st.ChunksSent, st.BytesSent, float64(st.BytesSent)/size, st.ChunksJoined, st.Wants)
	if lost.Load() < int64(p.Clip.Chunks/10) || st.OverBudget != 0 || float64(st.BytesSent) > clipxfer.DefaultClipBudget*size {
		t.Errorf("lost %d; stats %+v", lost.Load(), st)
	}
}

// A receiver asks in wants of at most MaxWantRanges ranges: one missing
// every other chunk of 1,200 asks in three.
func TestWantSplit(t *testing.T) {
	url := startBroker(t)
	const chunk, chunks = 1 << 10, 1200
	store := diskStore(t, chunk)
	id := uniq("s")
	meta, data := putClip(t, store, id, chunk*chunks)
	base := uniq("t/")
	d := startDevice(t, url, base, clipxfer.PublisherOptions{Store: store, ChunkBytes: chunk}, nil)
	d.offer(t, meta)
	ms, err := clipxfer.Offered(context.Background(), client(t, url), base, time.Second)
	if err != nil || len(ms) != 1 {
		t.Fatalf("offered %v %v", ms, err)
	}
	// A partial download with the even chunks.
	dir := t.TempDir()
	part := make([]byte, len(data))
	for n := 0; n < chunks; n += 2 {
		copy(part[n*chunk:(n+1)*chunk], data[n*chunk:])
	}
	if err := os.WriteFile(filepath.Join(dir, "."+id+".part"), part, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "."+id+".state"), ms[0].Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := receive(context.Background(), client(t, url), clipxfer.ReceiverOptions{Base: base, Dir: dir, IDs: []string{id}, Window: chunks}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameFile(t, got[id].Path, data)
	if st := d.pub.Stats(); st.ChunksSent != chunks/2 || st.Wants < 3 {
		t.Errorf("stats %+v, want %d chunks sent in 3 wants or more", st, chunks/2)
	}
}

func TestRequestSizeLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"chunks":[`)
	for i := range clipxfer.MaxWantRanges {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("[65534,65535]")
	}
	b.WriteString("]}")
	largest := b.String()
	if len(largest) > clipxfer.MaxRequestPayload {
		t.Fatalf("the largest valid want takes %d bytes, more than %d", len(largest), clipxfer.MaxRequestPayload)
	}
	if _, err := clipxfer.ParseWant([]byte(largest)); err != nil {
		t.Errorf("the largest valid want: %v", err)
	}
	pad := strings.Repeat(" ", clipxfer.MaxRequestPayload)
	for _, c := range []struct {
		name  string
		parse func([]byte) error
		good  string
	}{
		{"want", func(b []byte) error { _, err := clipxfer.ParseWant(b); return err }, `{"chunks":[[0,1]]}`},
		{"done", func(b []byte) error { _, err := clipxfer.ParseDone(b); return err }, `{"sha256":"` + strings.Repeat("ab", 32) + `"}`},
	} {
		if err := c.parse([]byte(c.good)); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		over := []byte(c.good + pad)[:clipxfer.MaxRequestPayload+1]
		if err := c.parse(over); !errors.Is(err, clipxfer.ErrBadMessage) || !strings.Contains(err.Error(), "4097 bytes, at most 4096") {
			t.Errorf("%s of %d bytes: %v", c.name, len(over), err)
		}
	}
}

func TestParseDoneMAC(t *testing.T) {
	sum, mac := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	d, err := clipxfer.ParseDone([]byte(`{"sha256":"` + sum + `","mac":"` + mac + `"}`))
	if err != nil || d.SHA256 != sum || d.MAC != mac {
		t.Errorf("%+v %v", d, err)
	}
	for _, bad := range []string{`"CD` + mac[2:] + `"`, `"cd"`, `1`, `""` + `,"mac":"x"`} {
		if _, err := clipxfer.ParseDone([]byte(`{"sha256":"` + sum + `","mac":` + bad + `}`)); !errors.Is(err, clipxfer.ErrBadMessage) {
			t.Errorf("mac %s: %v", bad, err)
		}
	}
	key := ownerkey.Generate()
	sd := clipxfer.SignDone(key, "c1", sum)
	if !clipxfer.VerifyDone(key, "c1", sd) || clipxfer.VerifyDone(key, "c2", sd) || clipxfer.VerifyDone(ownerkey.Generate(), "c1", sd) ||
		clipxfer.VerifyDone(nil, "c1", sd) || clipxfer.SignDone(nil, "c1", sum).MAC != "" {
		t.Error("SignDone/VerifyDone")
	}
}

func FuzzParseDone(f *testing.F) {
	f.Add([]byte(`{"sha256":"` + strings.Repeat("ab", 32) + `"}`))
	f.Add([]byte(`{"sha256":"` + strings.Repeat("ab", 32) + `","mac":"` + strings.Repeat("01", 32) + `"}`))
	f.Add([]byte(`{"sha256":"` + strings.Repeat("ab", 32) + `"}` + strings.Repeat(" ", clipxfer.MaxRequestPayload)))
	f.Fuzz(func(t *testing.T, payload []byte) {
		d, err := clipxfer.ParseDone(payload)
		if err != nil {
			if !errors.Is(err, clipxfer.ErrBadMessage) {
				t.Fatalf("error %v does not wrap ErrBadMessage", err)
			}
			return
		}
		if len(payload) > clipxfer.MaxRequestPayload {
			t.Fatalf("a done of %d bytes taken", len(payload))
		}
		if len(d.SHA256) != 64 || (d.MAC != "" && len(d.MAC) != 64) {
			t.Fatalf("done %+v", d)
		}
		b, _ := json.Marshal(d)
		if again, err := clipxfer.ParseDone(b); err != nil || again != d {
			t.Fatalf("round trip: %+v %v", again, err)
		}
	})
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
