package webapp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"

	"github.com/doorbelld/doorbelld/capture/seal"
	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/audit"
	"github.com/doorbelld/doorbelld/firmware/event"
)

// clipJSON is one clip on /api/clips.
type clipJSON struct {
	ID         string   `json:"id"`
	EventIDs   []string `json:"event_ids,omitempty"`
	Start      string   `json:"start"` // event.TimeLayout
	DurationMS int64    `json:"duration_ms"`
	Frames     int      `json:"frames"`
	Codec      string   `json:"codec"`
	Width      int      `json:"width"`
	Height     int      `json:"height"`
	Size       int64    `json:"size"`
	// Playable: the page can play it (MJPEG, and not sealed or
	// Options.OpenSealed); others are download only, or neither.
	Playable bool `json:"playable"`
	// Encrypted: the stored file is sealed for the owner (age).
	Encrypted bool `json:"encrypted"`
	// Downloadable: GET /api/clips/{id}.mp4 serves it (false for a sealed
	// clip this device cannot open).
	Downloadable bool `json:"downloadable"`
}

func (a *app) clips(w http.ResponseWriter, r *http.Request) {
	if a.opts.Clips == nil {
		http.Error(w, "no clip storage", http.StatusServiceUnavailable)
		return
	}
	list := a.opts.Clips.List()
	slices.SortStableFunc(list, func(x, y storage.Meta) int { return y.Start.Compare(x.Start) })
	out := make([]clipJSON, len(list))
	for i, m := range list {
		readable := a.readable(m)
		out[i] = clipJSON{
			ID: m.ID, EventIDs: m.EventIDs, Start: m.Start.UTC().Format(event.TimeLayout),
			DurationMS: m.Duration().Milliseconds(), Frames: m.Frames, Codec: m.Codec,
			Width: m.Width, Height: m.Height, Size: m.Size, Playable: m.Codec == codecMJPEG && readable,
			Encrypted: m.Encryption != "", Downloadable: readable,
		}
	}
	writeJSON(w, out)
}

// codecMJPEG is storage.Meta.Codec of an MJPEG clip (clip.CodecMJPEG).
const codecMJPEG = "mjpeg"

// readable reports whether this device can serve m's pictures: a plain
// clip, or a sealed one with Options.OpenSealed.
func (a *app) readable(m storage.Meta) bool { return m.Encryption == "" || a.opts.OpenSealed }

// refuseSealed answers 409 for a sealed clip this device cannot open, and
// audits the refusal of what (the audit Reason: "download" or "play"),
// unless r is a HEAD. It reports whether it answered.
func (a *app) refuseSealed(w http.ResponseWriter, r *http.Request, m storage.Meta, what string) bool {
	if a.readable(m) {
		return false
	}
	if r.Method != http.MethodHead {
		a.log.Info("webapp: sealed clip refused", "user", a.user(r), "clip", m.ID, "want", what, "remote", r.RemoteAddr)
		a.audit(r, audit.Entry{Action: audit.ActionClipFetch, Object: m.ID, Outcome: audit.Refused,
			Reason: what + ": clip is encrypted for its owner"})
	}
	http.Error(w, fmt.Sprintf("clip %s is encrypted (%s) for its owner's key (privacy.recipients), "+
		"which this doorbell does not hold: the owner gets it with "+
		"`doorbellctl clips pull --identity key.txt`", m.ID, m.Encryption), http.StatusConflict)
	return true
}

// errStillSealed: the store handed over ciphertext for a sealed clip that
// Options.OpenSealed says it opens.
var errStillSealed = errors.New("store returned the sealed file, not its plaintext")

// checkPlain makes sure rs (of a sealed clip, opened) is not the sealed
// file itself, so ciphertext is never served as an MP4.
func checkPlain(rs io.ReadSeeker) error {
	head := make([]byte, 64)
	n, err := io.ReadFull(rs, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read: %w", err)
	}
	if seal.IsSealed(head[:n]) {
		return errStillSealed
	}
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("seek: %w", err)
	}
	return nil
}

// lookupClip checks id and finds its clip, or answers and reports false.
func (a *app) lookupClip(w http.ResponseWriter, id string) (storage.Meta, bool) {
	if !validID(id) {
		http.Error(w, "bad clip id: want 1-64 of A-Z a-z 0-9 -", http.StatusBadRequest)
		return storage.Meta{}, false
	}
	if a.opts.Clips == nil {
		http.Error(w, "no clip storage", http.StatusServiceUnavailable)
		return storage.Meta{}, false
	}
	m, ok := a.opts.Clips.Lookup(id)
	if !ok {
		http.Error(w, "no such clip", http.StatusNotFound)
		return storage.Meta{}, false
	}
	return m, true
}

// download serves /api/clips/{id}.mp4 as an attachment.
func (a *app) download(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".mp4")
	if !ok {
		http.Error(w, "want /api/clips/{id}.mp4", http.StatusNotFound)
		return
	}
	m, ok := a.lookupClip(w, id)
	if !ok || a.refuseSealed(w, r, m, "download") {
		return
	}
	f, done, ok := a.openClip(w, id)
	if !ok {
		return
	}
	defer done()
	rs, seekable := f.(io.ReadSeeker)
	if m.Encryption != "" && seekable {
		if err := checkPlain(rs); err != nil {
			a.log.Warn("webapp: open sealed clip", "clip", id, "err", err)
			http.Error(w, "clip cannot be opened on this device", http.StatusInternalServerError)
			return
		}
	}
	if r.Method != http.MethodHead {
		a.log.Info("webapp: clip downloaded", "user", a.user(r), "clip", id, "remote", r.RemoteAddr)
		a.audit(r, audit.Entry{Action: audit.ActionClipFetch, Object: id, Outcome: audit.OK, Reason: "download"})
	}
	name := fmt.Sprintf("doorbell-%s-%s.mp4", m.Start.UTC().Format("20060102T150405Z"), id)
	w.Header().Set("Content-Type", "video/mp4")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	dw := &deadlineWriter{w: w, rc: http.NewResponseController(w), a: a}
	if seekable {
		http.ServeContent(dw, r, name, m.Start, rs) // ranges, Content-Length
		return
	}
	if m.Size > 0 && m.Encryption == "" { // a sealed clip's Size is of its ciphertext
		w.Header().Set("Content-Length", strconv.FormatInt(m.Size, 10))
	}
	_, _ = io.Copy(dw, f)
}

// openClip takes one of the MaxStreams slots and opens clip id (looked
// up already). When ok, done closes the clip and frees the slot; else the
// answer is written.
func (a *app) openClip(w http.ResponseWriter, id string) (f io.ReadCloser, done func(), ok bool) {
	release, ok := a.acquire(w)
	if !ok {
		return nil, nil, false
	}
	f, err := a.opts.Clips.Open(id)
	if err != nil {
		release()
		if errors.Is(err, storage.ErrNotFound) {
			http.Error(w, "no such clip", http.StatusNotFound)
			return nil, nil, false
		}
		a.log.Warn("webapp: open clip", "clip", id, "err", err)
		http.Error(w, "clip cannot be read", http.StatusInternalServerError)
		return nil, nil, false
	}
	return f, func() { f.Close(); release() }, true
}

// deadlineWriter moves the write deadline before each write, so the
// server's WriteTimeout bounds a stalled chunk, not a whole download.
type deadlineWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
	a  *app
}

func (d *deadlineWriter) Header() http.Header         { return d.w.Header() }
func (d *deadlineWriter) WriteHeader(code int)        { d.w.WriteHeader(code) }
func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.w }
func (d *deadlineWriter) Write(p []byte) (int, error) {
	if err := d.a.extendWrite(d.rc); err != nil {
		return 0, err
	}
	return d.w.Write(p)
}

// ErrNotMJPEG means a clip has no MJPEG track: browsers cannot be given
// its frames as JPEGs.
var ErrNotMJPEG = errors.New("clip has no MJPEG track")

// clipFrames are an MJPEG clip's samples, read on demand.
type clipFrames struct {
	durations []time.Duration // each sample's duration
	payload   func(i int) ([]byte, error)
}

// demux reads the sample table of an MP4 written by capture/clip.Mux.
func demux(rs io.ReadSeeker) (cf *clipFrames, err error) {
	defer func() {
		if p := recover(); p != nil { // the parser meets files from outside (clip transfers)
			cf, err = nil, fmt.Errorf("parse mp4: %v", p)
		}
	}()
	var pres pmp4.Presentation
	if err := pres.Unmarshal(rs); err != nil {
		return nil, fmt.Errorf("parse mp4: %w", err)
	}
	for _, tr := range pres.Tracks {
		if _, ok := tr.Codec.(*codecs.MJPEG); !ok {
			continue
		}
		if tr.TimeScale == 0 || len(tr.Samples) == 0 {
			return nil, fmt.Errorf("parse mp4: MJPEG track %d has no samples", tr.ID)
		}
		cf := &clipFrames{durations: make([]time.Duration, len(tr.Samples))}
		for i, s := range tr.Samples {
			cf.durations[i] = time.Duration(int64(s.Duration) * int64(time.Second) / int64(tr.TimeScale))
		}
		samples := tr.Samples
		cf.payload = func(i int) ([]byte, error) {
			b, err := samples[i].GetPayload()
			if err != nil {
				return nil, fmt.Errorf("read sample %d: %w", i, err)
			}
			if !bytes.HasPrefix(b, []byte{0xFF, 0xD8}) {
				return nil, fmt.Errorf("sample %d: not a JPEG", i)
			}
			return b, nil
		}
		return cf, nil
	}
	return nil, ErrNotMJPEG
}

// partBoundary separates the JPEGs of a playback stream.
const partBoundary = "doorbellclip"

// play serves /api/clips/{id}/play.mjpeg: the clip's JPEG samples as a
// multipart/x-mixed-replace stream, each part sent at its recorded time
// from the first one (paced by Options.Clock).
func (a *app) play(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	m, ok := a.lookupClip(w, id)
	if !ok || a.refuseSealed(w, r, m, "play") {
		return
	}
	if m.Codec != "" && m.Codec != codecMJPEG {
		http.Error(w, fmt.Sprintf("clip %s is %s, which the page cannot play: download the MP4", id, m.Codec), http.StatusUnsupportedMediaType)
		return
	}
	f, done, ok := a.openClip(w, id)
	if !ok {
		return
	}
	defer done()
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		b, err := io.ReadAll(io.LimitReader(f, a.opts.MaxClipBytes+1))
		if err == nil && int64(len(b)) > a.opts.MaxClipBytes {
			err = fmt.Errorf("larger than %d bytes", a.opts.MaxClipBytes)
		}
		if err != nil {
			a.log.Warn("webapp: read clip", "clip", id, "err", err)
			http.Error(w, "clip cannot be read", http.StatusInternalServerError)
			return
		}
		rs = bytes.NewReader(b)
	}
	cf, err := demux(rs)
	if errors.Is(err, ErrNotMJPEG) {
		http.Error(w, fmt.Sprintf("clip %s has no MJPEG track, which the page cannot play: download the MP4", id), http.StatusUnsupportedMediaType)
		return
	}
	if err != nil {
		a.log.Warn("webapp: demux clip", "clip", id, "err", err)
		http.Error(w, "clip cannot be played: "+err.Error(), http.StatusUnprocessableEntity)
		return
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary="+partBoundary)
		return
	}
	a.log.Info("webapp: clip played", "user", a.user(r), "clip", id, "frames", len(cf.durations), "remote", r.RemoteAddr)
	w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary="+partBoundary)
	start := a.clk.Now()
	err = a.streamFrames(r.Context(), w, cf)
	a.audit(r, audit.Entry{Action: audit.ActionClipFetch, Object: id, Outcome: audit.OK, Reason: "play",
		Duration: a.clk.Since(start).Seconds()})
	if err != nil && r.Context().Err() == nil {
		a.log.Debug("webapp: playback ended", "clip", id, "err", err)
	}
}

// streamFrames writes cf's frames as multipart parts: frame i when the
// clock has gone the durations of frames 0..i-1 past the first. Each part
// is followed at once by the next boundary (the closing one after the
// last), so a browser shows a frame when it arrives, not when the next one
// does.
func (a *app) streamFrames(ctx context.Context, w http.ResponseWriter, cf *clipFrames) error {
	rc := http.NewResponseController(w)
	start := a.clk.Now()
	var due time.Duration
	head := []byte("--" + partBoundary + "\r\n")
	for i := range cf.durations {
		if i > 0 {
			due += cf.durations[i-1]
			if wait := due - a.clk.Since(start); wait > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-a.clk.After(wait):
				}
			}
		}
		b, err := cf.payload(i)
		if err != nil {
			return err
		}
		if err := a.extendWrite(rc); err != nil {
			return err
		}
		head = fmt.Appendf(head, "Content-Type: image/jpeg\r\nContent-Length: %d\r\nX-Frame: %d\r\nX-Offset-Ms: %d\r\n\r\n",
			len(b), i, due.Milliseconds())
		if _, err := w.Write(head); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		tail := "\r\n--" + partBoundary + "\r\n"
		if i == len(cf.durations)-1 {
			tail = "\r\n--" + partBoundary + "--\r\n"
		}
		if _, err := io.WriteString(w, tail); err != nil {
			return err
		}
		if err := rc.Flush(); err != nil {
			return err
		}
		head = head[:0]
	}
	return nil
}
