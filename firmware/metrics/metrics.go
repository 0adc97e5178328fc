package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sample is one value of a labelled metric: the label values, in the
// order of the metric's label names, and the value.
type Sample struct {
	Labels []string
	Value  float64
}

// Sources read the parts' state at each scrape. A nil func leaves its
// metrics out (a part the daemon does not run: no camera, no RTSP).
type Sources struct {
	// Camera: frames received from the source, frames the ring refused,
	// and whether it is streaming.
	Camera func() (frames, refused uint64, streaming bool)
	// Driver: frames the V4L2 driver skipped (sequence gaps) and bad
	// buffers; nil without a V4L2 camera.
	Driver func() (skipped, bad uint64)
	// Ring: frames and bytes held in the RAM ring, and its capacity.
	Ring func() (frames, bytes, capacity int)
	// Outbox: events waiting for the broker's ack.
	Outbox func() int
	// MQTTConnected: the daemon's connection to the broker is up.
	MQTTConnected func() bool
	// Viewers: live viewers now, by kind ("rtsp", "mjpeg", "web").
	Viewers func() map[string]int
	// LiveFrames: frames handed to live viewers, frames they lost
	// (slow viewers), and YUYV frames encoded for them.
	LiveFrames func() (delivered, dropped, encoded uint64)
	// Clips: clips and bytes stored now.
	Clips func() (count int, bytes int64)
	// ClipBytesSent: clip bytes published over MQTT since start.
	ClipBytesSent func() uint64
	// Parts: each supervised part's state, 1 for the state it is in:
	// samples labelled (part, state).
	Parts func() []Sample
	// Masks: frames masked (privacy.masks), those masked without a full
	// decode, frames dropped because they could not be masked, and the
	// full-decode fallbacks by reason: samples labelled (reason).
	Masks func() (frames, fast, dropped uint64, fallbacks []Sample)
	// Audit: audit trail entries by action and outcome (samples labelled
	// (action, outcome)), entries the log file could not take, and
	// entries the MQTT audit topic missed (its queue was full).
	Audit func() (entries []Sample, writeErrors, dropped uint64)
}

// Metrics is doorbelld's registry.
type Metrics struct {
	reg           *prometheus.Registry
	edgeToPublish *prometheus.HistogramVec
}

// New registers the histograms, the Go runtime's and the process's
// collectors, and a gauge or counter for each non-nil source.
func New(src Sources) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		edgeToPublish: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "doorbelld_edge_to_publish_seconds",
			Help: "From the kernel's timestamp of the GPIO edge to the broker's PUBACK of the event; delivery=live as it happened, replay from the journal (after an outage or a restart, or behind one).",
			// 1 ms .. ~16 s: a healthy ring is a few ms; seconds mean a
			// starved CPU or a slow broker; replays after an outage land
			// in +Inf.
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"delivery"}),
	}
	m.reg.MustRegister(m.edgeToPublish,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	gauge := func(name, help string, f func() float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
	}
	counter := func(name, help string, f func() float64) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	if f := src.Camera; f != nil {
		counter("doorbelld_camera_frames_total", "Frames received from the camera.", func() float64 { n, _, _ := f(); return float64(n) })
		counter("doorbelld_camera_frames_refused_total", "Frames the RAM ring refused (empty, or larger than the ring).", func() float64 { _, n, _ := f(); return float64(n) })
		gauge("doorbelld_camera_streaming", "1 while the camera streams.", func() float64 { _, _, up := f(); return b2f(up) })
	}
	if f := src.Driver; f != nil {
		counter("doorbelld_camera_driver_skipped_frames_total", "Frames the V4L2 driver dropped (gaps in buffer sequence numbers).", func() float64 { n, _ := f(); return float64(n) })
		counter("doorbelld_camera_driver_bad_buffers_total", "Buffers the V4L2 driver flagged as bad or empty.", func() float64 { _, n := f(); return float64(n) })
	}
	if f := src.Ring; f != nil {
		gauge("doorbelld_ring_frames", "Frames held in the RAM ring.", func() float64 { n, _, _ := f(); return float64(n) })
		gauge("doorbelld_ring_bytes", "Bytes of frames held in the RAM ring.", func() float64 { _, n, _ := f(); return float64(n) })
		gauge("doorbelld_ring_capacity_bytes", "Size of the RAM ring.", func() float64 { _, _, n := f(); return float64(n) })
	}
	if f := src.Outbox; f != nil {
		gauge("doorbelld_outbox_pending_events", "Events waiting for the broker's acknowledgement.", func() float64 { return float64(f()) })
	}
	if f := src.MQTTConnected; f != nil {
		gauge("doorbelld_mqtt_connected", "1 while connected to the MQTT broker.", func() float64 { return b2f(f()) })
	}
	if f := src.Viewers; f != nil {
		m.reg.MustRegister(labelled(prometheus.NewDesc("doorbelld_live_viewers", "Live viewers now, by kind.", []string{"kind"}, nil),
			prometheus.GaugeValue, func() []Sample {
				var out []Sample
				for k, n := range f() {
					out = append(out, Sample{[]string{k}, float64(n)})
				}
				return out
			}))
	}
	if f := src.LiveFrames; f != nil {
		counter("doorbelld_live_frames_total", "Frames handed to live viewers.", func() float64 { n, _, _ := f(); return float64(n) })
		counter("doorbelld_live_frames_dropped_total", "Frames live viewers lost for reading too slowly.", func() float64 { _, n, _ := f(); return float64(n) })
		counter("doorbelld_live_frames_encoded_total", "YUYV frames JPEG-encoded for live viewers.", func() float64 { _, _, n := f(); return float64(n) })
	}
	if f := src.Clips; f != nil {
		gauge("doorbelld_clips_stored", "Clips held in storage.", func() float64 { n, _ := f(); return float64(n) })
		gauge("doorbelld_clips_stored_bytes", "Bytes of clips held in storage.", func() float64 { _, n := f(); return float64(n) })
	}
	if f := src.ClipBytesSent; f != nil {
		counter("doorbelld_clip_bytes_sent_total", "Clip bytes published over MQTT.", func() float64 { return float64(f()) })
	}
	if f := src.Masks; f != nil {
		counter("doorbelld_mask_frames_total", "Frames privacy masks were burned into.", func() float64 { n, _, _, _ := f(); return float64(n) })
		counter("doorbelld_mask_fast_frames_total", "Of those, MJPEG frames re-coded in the DCT domain (no full decode) or YUYV filled in place.", func() float64 { _, n, _, _ := f(); return float64(n) })
		counter("doorbelld_mask_dropped_frames_total", "Frames dropped because they could not be masked.", func() float64 { _, _, n, _ := f(); return float64(n) })
		m.reg.MustRegister(labelled(prometheus.NewDesc("doorbelld_mask_fallbacks_total", "Frames masked by a full decode and encode, by reason.", []string{"reason"}, nil),
			prometheus.CounterValue, func() []Sample { _, _, _, fb := f(); return fb }))
	}
	if f := src.Audit; f != nil {
		m.reg.MustRegister(labelled(prometheus.NewDesc("doorbelld_audit_entries_total", "Audit trail entries (accesses to pictures, privacy changes), by action and outcome.", []string{"action", "outcome"}, nil),
			prometheus.CounterValue, func() []Sample { s, _, _ := f(); return s }))
		counter("doorbelld_audit_write_errors_total", "Audit entries the log file could not take (they still reached MQTT and the web app).", func() float64 { _, n, _ := f(); return float64(n) })
		counter("doorbelld_audit_dropped_total", "Audit entries the MQTT audit topic missed: its queue was full.", func() float64 { _, _, n := f(); return float64(n) })
	}
	if f := src.Parts; f != nil {
		m.reg.MustRegister(labelled(prometheus.NewDesc("doorbelld_part_state", "1 for the state each supervised part is in.", []string{"part", "state"}, nil),
			prometheus.GaugeValue, f))
	}
	return m
}

// ObserveEdgeToPublish records one event's latency from its GPIO edge to
// the broker's ack; replayed is true for an event published from the
// journal.
func (m *Metrics) ObserveEdgeToPublish(d time.Duration, replayed bool) {
	delivery := "live"
	if replayed {
		delivery = "replay"
	}
	m.edgeToPublish.WithLabelValues(delivery).Observe(d.Seconds())
}

// Handler serves the registry in Prometheus' text format. Errors in a
// collector are served as far as possible, never a 500 for all.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, MaxRequestsInFlight: 4})
}

// Gather returns the current values (tests, diagnostics).
func (m *Metrics) Gather() (map[string]float64, error) {
	mfs, err := m.reg.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range mt.GetLabel() {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			switch {
			case mt.Gauge != nil:
				out[name] = mt.GetGauge().GetValue()
			case mt.Counter != nil:
				out[name] = mt.GetCounter().GetValue()
			case mt.Histogram != nil:
				out[name+"_count"] = float64(mt.GetHistogram().GetSampleCount())
				out[name+"_sum"] = mt.GetHistogram().GetSampleSum()
			}
		}
	}
	return out, nil
}

// labelled is a collector of one labelled metric read from f at each
// scrape.
type labelledCollector struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	f    func() []Sample
}

func labelled(d *prometheus.Desc, typ prometheus.ValueType, f func() []Sample) prometheus.Collector {
	return labelledCollector{d, typ, f}
}

func (c labelledCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c labelledCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.f() {
		m, err := prometheus.NewConstMetric(c.desc, c.typ, s.Value, s.Labels...)
		if err != nil {
			m = prometheus.NewInvalidMetric(c.desc, err)
		}
		ch <- m
	}
}
