package clipxfer_test

import (
	"context"
	"io"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/clipxfer"
	"github.com/doorbelld/doorbelld/firmware/mqttpub"
)

// BenchmarkClipTransfer pulls 8 MiB clips (default chunk size and
// windows) with a Receiver and, on the same broker and connections in the
// same run, publishes the same bytes in the same chunk size raw: QoS 1
// through the device's paho client with the same window of PUBACKs
// outstanding, timed until a plain subscriber has every byte.
//
// clip-ms is the transfer: from the receiver's first want to the clip
// verified (CRCs, sha256), fsynced and renamed into place and confirmed
// (Progress start to done). run-ms is the whole Receiver.Run around it,
// which adds subscribing, finding the retained manifest and the per-clip
// chunk subscription (on Mosquitto, whose sockets use Nagle's algorithm,
// the retained manifest right after the SUBACK can wait for a delayed ACK,
// up to 40 ms). ratio is raw-ms/clip-ms: the clip transfer's throughput
// relative to raw publishing (target >= 0.8). offer-ms is the device's
// work when the clip is offered, before any receiver asks: building the
// manifest from the digest Put computed and publishing it, until its
// PUBACK. read-ms is the baseline: a plain read of the same clip from
// the store, the least an offer cost when the Publisher read every clip
// back for its sha256 and CRCs (here from the page cache; on a device
// from the SD card, at 20-80 MB/s). The broker is DOORBELL_TEST_BROKER when set (scripts/test.sh: Mosquitto),
// else the embedded one. Each iteration times 3 of each and keeps the
// median.
func BenchmarkClipTransfer(b *testing.B) {
	url, name := os.Getenv("DOORBELL_TEST_BROKER"), "mosquitto"
	if url == "" {
		url, name = startBroker(b), "embedded"
	}
	const size, reps = 8 << 20, 3
	chunk, window := clipxfer.DefaultChunkBytes, clipxfer.DefaultWindow
	store := diskStore(b, chunk)
	base := uniq("bench/")
	// No hourly cap: a long run sends more than a real hour of clips.
	d := startDevice(b, url, base, clipxfer.PublisherOptions{Store: store, ChunkBytes: chunk, Window: window, MaxBytesPerHour: -1}, nil)
	rc := client(b, url)
	raw := newRawSink(b, rc, base)

	var clipTimes, runTimes, rawTimes, hashTimes, finishTimes, readTimes []time.Duration
	b.ResetTimer()
	for range b.N {
		for range reps {
			b.StopTimer()
			meta, data := putClip(b, store, uniq("b"), size)
			t0 := time.Now()
			d.pub.Offer(meta)
			for n := len(store.List()); ; time.Sleep(100 * time.Microsecond) {
				st := d.pub.Stats()
				if st.Offered == n && st.Hashing == 0 && st.Queued == 0 && st.InFlight == 0 && st.ManifestsAcked == st.Manifests {
					break
				}
			}
			hashTimes = append(hashTimes, time.Since(t0))
			readTimes = append(readTimes, readClip(b, store, meta.ID, size))
			rawTimes = append(rawTimes, raw.send(b, d.mq, data, chunk, window))
			dir := b.TempDir()
			b.StartTimer()

			var started, lastChunk, done time.Time
			t1 := time.Now()
			got, err := receive(context.Background(), rc, clipxfer.ReceiverOptions{Base: base, Dir: dir, IDs: []string{meta.ID},
				Progress: func(p clipxfer.Progress) {
					switch p.Phase {
					case clipxfer.PhaseStart:
						started = time.Now()
					case clipxfer.PhaseReceiving:
						lastChunk = time.Now()
					case clipxfer.PhaseDone:
						done = time.Now()
					}
				}}, nil)
			runTimes = append(runTimes, time.Since(t1))
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			sameFile(b, got[meta.ID].Path, data)
			clipTimes = append(clipTimes, done.Sub(started))
			finishTimes = append(finishTimes, done.Sub(lastChunk))
			b.StartTimer()
		}
	}
	b.StopTimer()
	med := func(ds []time.Duration) time.Duration { slices.Sort(ds); return ds[len(ds)/2] }
	ct, rt, run, ht, ft, rd := med(clipTimes), med(rawTimes), med(runTimes), med(hashTimes), med(finishTimes), med(readTimes)
	mbps := func(d time.Duration) float64 { return float64(size) / (1 << 20) / d.Seconds() }
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(ct), "clip-ms")
	b.ReportMetric(ms(run), "run-ms")
	b.ReportMetric(ms(rt), "raw-ms")
	b.ReportMetric(mbps(ct), "clip-MiB/s")
	b.ReportMetric(mbps(rt), "raw-MiB/s")
	b.ReportMetric(rt.Seconds()/ct.Seconds(), "ratio")
	b.ReportMetric(ms(ht), "offer-ms")
	b.ReportMetric(ms(rd), "read-ms")
	b.ReportMetric(ms(ft), "finish-ms")
	b.Logf("%s broker, %d MiB in %d KiB chunks, window %d: clip %v (%.0f MiB/s; whole Run %v; of it %v from the last chunk to done: sha256, fsyncs, rename, PUBACK of done), raw %v (%.0f MiB/s), ratio %.2f; offer %v (a plain read of the clip: %v)",
		name, size>>20, chunk>>10, window, ct, mbps(ct), run, ft, rt, mbps(rt), rt.Seconds()/ct.Seconds(), ht, rd)
}

// readClip reads clip id of size bytes from store and returns how long
// that took.
func readClip(b *testing.B, store *storage.Store, id string, size int) time.Duration {
	t := time.Now()
	rc, err := store.Open(id)
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	if n, err := io.Copy(io.Discard, rc); err != nil || n != int64(size) {
		b.Fatalf("read %s: %d bytes of %d: %v", id, n, size, err)
	}
	return time.Since(t)
}

// rawSink is a plain subscriber counting the bytes of raw chunks.
type rawSink struct {
	base  string
	bytes atomic.Int64
	round atomic.Int64
}

func newRawSink(b *testing.B, c paho.Client, base string) *rawSink {
	s := &rawSink{base: base}
	tok := c.Subscribe(base+"/raw/+/+", 1, func(_ paho.Client, m paho.Message) {
		s.bytes.Add(int64(len(m.Payload())))
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		b.Fatal("subscribe raw:", tok.Error())
	}
	return s
}

// send publishes data in chunks of chunk bytes, at most window awaiting
// their PUBACK, and returns when the subscriber has every byte.
func (s *rawSink) send(b *testing.B, mq *mqttpub.Client, data []byte, chunk, window int) time.Duration {
	s.bytes.Store(0)
	round := strconv.FormatInt(s.round.Add(1), 10)
	var inflight []paho.Token
	start := time.Now()
	for n := 0; n*chunk < len(data); n++ {
		if len(inflight) == window {
			inflight[0].Wait()
			inflight = inflight[1:]
		}
		// A copy, as the Publisher reads each chunk from the store.
		p := slices.Clone(data[n*chunk : min(len(data), (n+1)*chunk)])
		inflight = append(inflight, mq.Publish(s.base+"/raw/"+round+"/"+strconv.Itoa(n), 1, false, p))
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.bytes.Load() < int64(len(data)) {
		if time.Now().After(deadline) {
			b.Fatalf("raw: %d of %d bytes arrived", s.bytes.Load(), len(data))
		}
		time.Sleep(100 * time.Microsecond)
	}
	return time.Since(start)
}
