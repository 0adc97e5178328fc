package live

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// MJPEGOptions configures the MJPEG handler. The zero value is usable.
type MJPEGOptions struct {
	// Kind is the viewer kind the handler subscribes as: KindMJPEG
	// (default) or KindWeb.
	Kind   string
	Logger *slog.Logger // default: slog.Default()
	// PartTimeout bounds writing one part (one frame) to the client; the
	// connection's write deadline is moved to now+PartTimeout before each
	// part, so the server's WriteTimeout does not cut a long stream.
	// Default 10s.
	PartTimeout time.Duration
}

// Boundary is the multipart boundary of the MJPEG stream.
const Boundary = "frame"

// MJPEG returns a handler that serves the hub's live JPEG stream as
// multipart/x-mixed-replace (boundary "frame"), one part per frame with
// Content-Type image/jpeg, Content-Length, and X-Timestamp: the capture
// time in Unix seconds with microseconds ("1717243200.123456").
//
// It answers 403 in privacy mode, 503 when the camera is not streaming,
// 501 for an H.264 camera (watch it over RTSP) and 405 for a method other
// than GET or HEAD. The stream ends when the client goes, or as the
// viewer's stream ends (privacy mode, camera stopped, format changed).
// It does not authenticate: the caller wraps it.
func MJPEG(h *Hub, opts MJPEGOptions) http.Handler {
	if opts.Kind == "" {
		opts.Kind = KindMJPEG
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.PartTimeout <= 0 {
		opts.PartTimeout = 10 * time.Second
	}
	return &mjpegHandler{h: h, opts: opts}
}

type mjpegHandler struct {
	h    *Hub
	opts MJPEGOptions
}

func (m *mjpegHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: use GET", http.StatusMethodNotAllowed)
		return
	}
	rc := http.NewResponseController(w)
	if m.extend(rc) != nil {
		return
	}
	v, err := m.h.Subscribe(m.opts.Kind)
	if err != nil {
		http.Error(w, refusalText(err), refusalStatus(err))
		return
	}
	defer v.Close()
	if v.Info().Codec != JPEG {
		http.Error(w, "the camera streams H.264, which is not sent as MJPEG: watch it over RTSP", http.StatusNotImplemented)
		return
	}

	hdr := w.Header()
	hdr.Set("Content-Type", "multipart/x-mixed-replace; boundary="+Boundary)
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	// The boundary goes after each frame, not before the next one, so a
	// browser shows a frame as soon as it has it.
	if err := m.write(w, rc, []byte("--"+Boundary+"\r\n")); err != nil {
		return
	}
	buf := make([]byte, 0, 128)
	for {
		f, err := v.Next(r.Context())
		if err != nil {
			if r.Context().Err() == nil {
				m.opts.Logger.Debug("live: mjpeg stream ended", "err", err, "dropped", v.Dropped())
			}
			return
		}
		buf = append(buf[:0], "Content-Type: image/jpeg\r\nContent-Length: "...)
		buf = strconv.AppendInt(buf, int64(len(f.Data)), 10)
		buf = append(buf, "\r\nX-Timestamp: "...)
		buf = appendTimestamp(buf, f.At)
		buf = append(buf, "\r\n\r\n"...)
		if m.write(w, rc, buf, f.Data, []byte("\r\n--"+Boundary+"\r\n")) != nil {
			return
		}
	}
}

// write sends one piece of the stream within PartTimeout and flushes it.
func (m *mjpegHandler) write(w http.ResponseWriter, rc *http.ResponseController, pieces ...[]byte) error {
	if err := m.extend(rc); err != nil {
		return err
	}
	for _, p := range pieces {
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return rc.Flush()
}

// extend moves the connection's write deadline to PartTimeout from now.
func (m *mjpegHandler) extend(rc *http.ResponseController) error {
	err := rc.SetWriteDeadline(time.Now().Add(m.opts.PartTimeout))
	if errors.Is(err, http.ErrNotSupported) {
		return nil
	}
	return err
}

// appendTimestamp appends t as Unix seconds with six decimals.
func appendTimestamp(b []byte, t time.Time) []byte {
	us := t.UnixMicro()
	sec, frac := us/1e6, us%1e6
	if frac < 0 {
		sec, frac = sec-1, frac+1e6
	}
	b = strconv.AppendInt(b, sec, 10)
	b = append(b, '.')
	for p := int64(100000); p > frac && p > 1; p /= 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, frac, 10)
}

// refusalStatus is the HTTP status for an error of Subscribe.
func refusalStatus(err error) int {
	switch {
	case errors.Is(err, ErrPrivate):
		return http.StatusForbidden
	case errors.Is(err, ErrNoCamera), errors.Is(err, ErrClosed):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// refusalText is the plain-text body for an error of Subscribe.
func refusalText(err error) string {
	switch {
	case errors.Is(err, ErrPrivate):
		return "privacy mode is on"
	case errors.Is(err, ErrNoCamera):
		return "the camera is not streaming"
	case errors.Is(err, ErrClosed):
		return "the live stream is shutting down"
	}
	return "live stream unavailable"
}
