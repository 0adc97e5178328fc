package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/pmp4"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/mask"
	"github.com/doorbelld/doorbelld/capture/simcam"
	"github.com/doorbelld/doorbelld/capture/storage"
	"github.com/doorbelld/doorbelld/firmware/clipxfer"
	"github.com/doorbelld/doorbelld/firmware/config"
)

// Privacy masks end to end: with privacy.masks set, every way a picture
// leaves the sim daemon (MQTT snapshots, clips on disk, over HTTP and over
// MQTT, the web app's snapshots, the MJPEG and RTSP live streams) shows
// only grey where a mask is, and the rest of the picture is still there.
//
//	simcam ─► capture.Camera ─► mask.Masker ─► ring ─┬─► snapshot ─► MQTT snapshot, snapshot/small, timeline
//	                                                 ├─► /api/snapshot.jpg
//	                                                 ├─► recorder ─► MP4 ─► play.mjpeg, clipxfer, ffmpeg
//	                                                 └─► live hub ─► /api/live.mjpeg, RTSP
//
// The test decodes each JPEG and judges it with its own geometry (maskArea),
// written apart from capture/mask's, at the image's own size.

// testMasks are the masks of these tests: the left ~30 % of the frame as
// a polygon with a slanted right edge (so its edge crosses blocks at every
// offset), and a rectangle in the top-right corner.
var testMasks = []config.Mask{
	{Polygon: [][]float64{{0, 0}, {0.3, 0}, {0.23, 1}, {0, 1}}},
	{Rect: config.Rect{X: 0.7, Y: 0, W: 0.3, H: 0.25}},
}

const (
	// greyTol is how far from 128 an R, G or B of a masked pixel may be:
	// JPEG rounding after YCbCr→RGB.
	greyTol = 2
	// minPicture is the share of the blocks clear of the masks that must
	// not be flat grey: the sim camera draws bars, a ramp and a clock
	// there, and a ramp block near mid grey may look flat.
	minPicture = 0.8
	// smallMargin is how far inside a mask (in source pixels: two 8×8
	// blocks) a pixel of a downscaled copy must be to be judged: the
	// scaler blends neighbours and the copy is re-encoded with its own
	// blocks.
	smallMargin = 16
)

// maskArea is the masks' geometry, normalised: a pixel (x, y) of a w×h
// image is covered when its centre ((x+0.5)/w, (y+0.5)/h) is inside a
// polygon, even-odd, a centre on a left or top edge inside and on a right
// or bottom edge outside (capture/mask's rule, recomputed here).
type maskArea [][][2]float64

func newMaskArea(t testing.TB, ms []config.Mask) maskArea {
	t.Helper()
	var a maskArea
	for i, m := range ms {
		sh, err := m.Shape()
		if err != nil {
			t.Fatalf("mask %d: %v", i, err)
		}
		a = append(a, sh.Points)
	}
	return a
}

// inside reports whether the normalised point (x, y) is in a polygon.
func (a maskArea) inside(x, y float64) bool {
	for _, p := range a {
		in := false
		for i := range p {
			s, e := p[i], p[(i+1)%len(p)]
			if (s[1] <= y) != (e[1] <= y) {
				if cx := s[0] + (y-s[1])*(e[0]-s[0])/(e[1]-s[1]); cx <= x {
					in = !in
				}
			}
		}
		if in {
			return true
		}
	}
	return false
}

// depth is how far (in pixels of a sw×sh frame) the normalised point is
// inside the polygon that holds it, measured to its edges that do not lie
// on the frame's border (beyond the border there is nothing to blend
// with); 0 when it is in none.
func (a maskArea) depth(x, y float64, sw, sh int) float64 {
	best := 0.0
	for _, p := range a {
		if !(maskArea{p}).inside(x, y) {
			continue
		}
		d := math.Inf(1)
		for i := range p {
			s, e := p[i], p[(i+1)%len(p)]
			if onBorder(s, e) {
				continue
			}
			d = min(d, segDist(x*float64(sw), y*float64(sh), s[0]*float64(sw), s[1]*float64(sh), e[0]*float64(sw), e[1]*float64(sh)))
		}
		best = max(best, d)
	}
	return best
}

// onBorder reports whether the edge s-e lies along a border of the frame.
func onBorder(s, e [2]float64) bool {
	for axis := 0; axis < 2; axis++ {
		if s[axis] == e[axis] && (s[axis] == 0 || s[axis] == 1) {
			return true
		}
	}
	return false
}

// segDist is the distance from (px, py) to the segment (ax, ay)-(bx, by).
func segDist(px, py, ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	u := ((px-ax)*dx + (py-ay)*dy) / (dx*dx + dy*dy)
	u = max(0, min(1, u))
	return math.Hypot(px-(ax+u*dx), py-(ay+u*dy))
}

// maskVerdict is what checkPicture found in one image.
type maskVerdict struct {
	w, h         int
	judged, bad  int    // covered pixels checked, and those not grey
	firstBad     string // the first bad pixel, for the message
	clear, flat  int    // 8×8 blocks clear of the masks, and those flat grey
	worstInside  int    // largest |R,G,B-128| over the judged pixels
	wantW, wantH int
}

func (v maskVerdict) String() string {
	return fmt.Sprintf("%dx%d: %d of %d masked pixels not grey (worst off by %d)%s; %d of %d blocks clear of the masks flat grey",
		v.w, v.h, v.bad, v.judged, v.worstInside, v.firstBad, v.flat, v.clear)
}

// problem says what is wrong with the verdict, or "".
func (v maskVerdict) problem() string {
	var p []string
	if v.wantW != 0 && (v.w != v.wantW || v.h != v.wantH) {
		p = append(p, fmt.Sprintf("size %dx%d, want %dx%d", v.w, v.h, v.wantW, v.wantH))
	}
	if v.judged == 0 {
		p = append(p, "no masked pixel judged")
	}
	if v.bad > 0 {
		p = append(p, fmt.Sprintf("%d of %d masked pixels are not grey 128±%d%s", v.bad, v.judged, greyTol, v.firstBad))
	}
	if v.clear < 50 {
		p = append(p, fmt.Sprintf("only %d blocks clear of the masks to judge", v.clear))
	} else if float64(v.clear-v.flat) < minPicture*float64(v.clear) {
		p = append(p, fmt.Sprintf("%d of %d blocks outside the masks are flat grey: the picture was wiped, want at least %.0f %% kept",
			v.flat, v.clear, 100*minPicture))
	}
	return strings.Join(p, "; ")
}

// rgbAt returns the 8-bit R, G, B of (x, y), without allocating for the
// YCbCr images image/jpeg decodes colour JPEGs to.
func rgbAt(img image.Image, x, y int) (r, g, b uint8) {
	if yc, ok := img.(*image.YCbCr); ok {
		c := yc.YCbCrAt(x, y)
		return color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
	}
	r32, g32, b32, _ := img.At(x, y).RGBA()
	return uint8(r32 >> 8), uint8(g32 >> 8), uint8(b32 >> 8)
}

func offGrey(r, g, b uint8) int {
	d := func(v uint8) int { return max(int(v)-128, 128-int(v)) }
	return max(d(r), d(g), d(b))
}

// maskPlan is what checkPicture needs of the masks at one image size:
// the pixels to judge, and a summed-area table of the covered pixels.
type maskPlan struct {
	w, h  int
	judge []bool  // covered, and deep enough inside for the margin
	sum   []int32 // sum[(y)*(w+1)+x]: covered pixels in [0, x)×[0, y)
}

// plan computes the maskPlan of a w×h picture of an sw×sh frame. margin
// 0: every covered pixel is judged; margin > 0: only those at least margin
// source pixels inside a mask's edge.
func (a maskArea) plan(w, h, sw, sh int, margin float64) *maskPlan {
	p := &maskPlan{w: w, h: h, judge: make([]bool, w*h), sum: make([]int32, (w+1)*(h+1))}
	for y := 0; y < h; y++ {
		var row int32
		for x := 0; x < w; x++ {
			nx, ny := (float64(x)+0.5)/float64(w), (float64(y)+0.5)/float64(h)
			if a.inside(nx, ny) {
				row++
				p.judge[y*w+x] = margin <= 0 || a.depth(nx, ny, sw, sh) >= margin
			}
			p.sum[(y+1)*(w+1)+x+1] = p.sum[y*(w+1)+x+1] + row
		}
	}
	return p
}

// anyCovered reports whether a pixel in [x0, x1)×[y0, y1) (clipped) is
// covered.
func (p *maskPlan) anyCovered(x0, y0, x1, y1 int) bool {
	x0, y0, x1, y1 = max(0, x0), max(0, y0), min(p.w, x1), min(p.h, y1)
	if x0 >= x1 || y0 >= y1 {
		return false
	}
	W := p.w + 1
	return p.sum[y1*W+x1]-p.sum[y0*W+x1]-p.sum[y1*W+x0]+p.sum[y0*W+x0] > 0
}

// checkPicture judges one decoded image, a picture of an sw×sh frame, with
// the plan for its size (nil: computed here). Blocks count as clear of the
// masks when no covered pixel is within 16 source pixels (a 4:2:0 MCU, the
// most a JPEG mask rounds up to) plus 2 image pixels of them.
func checkPicture(img image.Image, a maskArea, sw, sh int, margin float64, p *maskPlan) maskVerdict {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	v := maskVerdict{w: w, h: h}
	if p == nil || p.w != w || p.h != h {
		p = a.plan(w, h, sw, sh, margin)
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if !p.judge[y*w+x] {
				continue
			}
			v.judged++
			r, g, bl := rgbAt(img, b.Min.X+x, b.Min.Y+y)
			off := offGrey(r, g, bl)
			v.worstInside = max(v.worstInside, off)
			if off > greyTol {
				if v.bad == 0 {
					v.firstBad = fmt.Sprintf(" (first at %d,%d: RGB %d,%d,%d)", x, y, r, g, bl)
				}
				v.bad++
			}
		}
	}
	pad := int(math.Ceil(16*float64(w)/float64(sw))) + 2
	for by := 0; by+8 <= h; by += 8 {
		for bx := 0; bx+8 <= w; bx += 8 {
			if p.anyCovered(bx-pad, by-pad, bx+8+pad, by+8+pad) {
				continue
			}
			v.clear++
			flat := true
			for y := by; y < by+8 && flat; y++ {
				for x := bx; x < bx+8; x++ {
					if r, g, bl := rgbAt(img, b.Min.X+x, b.Min.Y+y); offGrey(r, g, bl) > greyTol {
						flat = false
						break
					}
				}
			}
			if flat {
				v.flat++
			}
		}
	}
	return v
}

// maskJudge checks the pictures of one daemon against its masks.
type maskJudge struct {
	t      *testing.T
	area   maskArea
	sw, sh int // the camera's frame size
	seen   map[string]int
	plans  map[[3]float64]*maskPlan // by width, height, margin
}

// full checks a JPEG at the camera's size: every masked pixel grey.
func (j *maskJudge) full(sink string, jpg []byte) {
	j.t.Helper()
	j.judge(sink, jpg, j.sw, j.sh, 0)
}

// judge decodes jpg and checks it; want 0×0 takes any size.
func (j *maskJudge) judge(sink string, jpg []byte, wantW, wantH int, margin float64) {
	j.t.Helper()
	j.seen[sink]++
	img, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		j.t.Errorf("%s: %d bytes that are no JPEG: %v", sink, len(jpg), err)
		return
	}
	b := img.Bounds()
	key := [3]float64{float64(b.Dx()), float64(b.Dy()), margin}
	if j.plans[key] == nil {
		j.plans[key] = j.area.plan(b.Dx(), b.Dy(), j.sw, j.sh, margin)
	}
	v := checkPicture(img, j.area, j.sw, j.sh, margin, j.plans[key])
	v.wantW, v.wantH = wantW, wantH
	if p := v.problem(); p != "" {
		j.t.Errorf("%s: %s", sink, p)
		if dir := os.Getenv("DOORBELL_MASK_DUMP"); dir != "" { // keep the picture to look at
			name := filepath.Join(dir, fmt.Sprintf("%s-%d.jpg", strings.NewReplacer("/", "_", " ", "_").Replace(sink), j.seen[sink]))
			_ = os.WriteFile(name, jpg, 0o644)
		}
		return
	}
	if j.seen[sink] == 1 {
		j.t.Logf("%s: %v", sink, v)
	}
}

// maskConfig is liveConfig (alice) with the test masks, 1 s of pre- and
// post-roll, and a small snapshot copy.
func maskConfig(t testing.TB) config.Config {
	c := liveConfig(t)
	c.Privacy.Masks = testMasks
	c.Capture.PreRoll = durCfg(time.Second)
	c.Capture.PostRoll = durCfg(time.Second)
	c.Snapshot.MaxWidth = 320
	return c
}

// multipartJPEGs reads the parts of a multipart/x-mixed-replace answer,
// n of them (n < 0: until the closing boundary), each an image/jpeg.
func multipartJPEGs(t *testing.T, res *http.Response, n int) [][]byte {
	t.Helper()
	mt, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" || params["boundary"] == "" {
		t.Fatalf("Content-Type %q: want multipart/x-mixed-replace with a boundary", res.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(res.Body, params["boundary"])
	var out [][]byte
	for n < 0 || len(out) < n {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) && n < 0 {
			return out
		}
		if err != nil {
			t.Fatalf("part %d: %v", len(out), err)
		}
		if ct := p.Header.Get("Content-Type"); ct != "image/jpeg" {
			t.Fatalf("part %d has Content-Type %q, want image/jpeg", len(out), ct)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("part %d: %v", len(out), err)
		}
		out = append(out, b)
	}
	return out
}

// mp4JPEGs returns the samples of the MJPEG track of an MP4 file.
func mp4JPEGs(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pres pmp4.Presentation
	if err := pres.Unmarshal(f); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	for _, tr := range pres.Tracks {
		if _, ok := tr.Codec.(*codecs.MJPEG); !ok {
			continue
		}
		var out [][]byte
		for i, s := range tr.Samples {
			b, err := s.GetPayload()
			if err != nil {
				t.Fatalf("%s: sample %d: %v", path, i, err)
			}
			out = append(out, b)
		}
		return out
	}
	t.Fatalf("%s has no MJPEG track", path)
	return nil
}

// ffmpegFirstFrame returns the first video frame of an MP4 as ffmpeg
// demuxes it, copied (not re-encoded).
func ffmpegFirstFrame(t *testing.T, bin, path string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), liveWait)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-nostdin", "-v", "error", "-i", path, "-frames:v", "1", "-f", "image2pipe", "-vcodec", "copy", "-")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg first frame of %s: %v: %s", path, err, stderr.String())
	}
	return out
}

// pullClip pulls clip id over MQTT as doorbellctl clips pull does and
// returns the file's path.
func pullClip(t *testing.T, r *running, id string) string {
	t.Helper()
	tp := r.d.Topics()
	// The retained manifest on its exact topic first (mochi-mqtt/server#200,
	// see TestClipPulledOverMQTT).
	next(t, subscribe(t, r.d.brokerURL(), clipxfer.ManifestTopic(tp.Base, id)), clipxfer.ManifestTopic(tp.Base, id), liveWait)
	pc := paho.NewClient(paho.NewClientOptions().AddBroker(r.d.brokerURL()).SetClientID(fmt.Sprintf("mask-puller-%d-%d", os.Getpid(), testSeq.Add(1))))
	if tok := pc.Connect(); !tok.WaitTimeout(liveWait) || tok.Error() != nil {
		t.Fatalf("puller connect: %v", tok.Error())
	}
	defer pc.Disconnect(50)
	out := t.TempDir()
	rcv := clipxfer.NewReceiver(clipxfer.ReceiverOptions{Client: pc, Base: tp.Base, Dir: out, IDs: []string{id}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*liveWait)
	defer cancel()
	if err := rcv.Run(ctx); err != nil {
		t.Fatalf("pull clip %s: %v", id, err)
	}
	got, _ := filepath.Glob(filepath.Join(out, "*"+id+".mp4*")) // .mp4.age when sealed
	if len(got) != 1 {
		t.Fatalf("pulled clip %s: files %v", id, got)
	}
	return got[0]
}

// maskStatus is the "masks" object of /api/status (mask.Stats).
type maskStatus struct {
	Frames, Filled, Fast, Errors uint64
	Fallbacks                    map[string]uint64
}

// One press on the sim daemon with privacy masks: the picture of every
// sink, decoded, is grey where a mask is and still a picture elsewhere.
func TestMasksReachEverySink(t *testing.T) {
	c := maskConfig(t)
	r := start(t, c)
	tp := r.d.Topics()
	j := &maskJudge{t: t, area: newMaskArea(t, c.Privacy.Masks), sw: c.Camera.Width, sh: c.Camera.Height, seen: map[string]int{}, plans: map[[3]float64]*maskPlan{}}
	// Exact topics, one client each: retained messages and wildcards race
	// in mochi (see pullClip).
	events := subscribe(t, r.d.brokerURL(), tp.Event)
	infos := subscribe(t, r.d.brokerURL(), tp.SnapshotInfo)
	snaps := subscribe(t, r.d.brokerURL(), tp.Snapshot)
	smalls := subscribe(t, r.d.brokerURL(), tp.SnapshotSmall)
	clips := subscribe(t, r.d.brokerURL(), tp.Clip)
	waitCamera(t, r)
	waitPreRoll(t, r, c.Capture.PreRoll.D())

	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	e, _ := nextEvent(t, events, tp, liveWait)
	if e.Snapshot == "" {
		t.Fatalf("ring %+v has no snapshot id", e)
	}

	// 1. The event's snapshot over MQTT, and its small copy.
	var info SnapshotInfo
	if err := json.Unmarshal(next(t, infos, tp.SnapshotInfo, liveWait).payload, &info); err != nil {
		t.Fatal(err)
	}
	if info.EventID != e.ID {
		t.Fatalf("snapshot info %+v is not the ring's (%s)", info, e.ID)
	}
	j.full("mqtt snapshot", next(t, snaps, tp.Snapshot, liveWait).payload)
	j.judge("mqtt snapshot/small", next(t, smalls, tp.SnapshotSmall, liveWait).payload,
		c.Snapshot.MaxWidth, c.Camera.Height*c.Snapshot.MaxWidth/c.Camera.Width, smallMargin)

	// The snapshot command takes the same road for the newest frame.
	commandsReady(t, r)
	publish(t, r.d.brokerURL(), tp.Command("snapshot"), false, "PRESS")
	j.full("mqtt snapshot (command)", next(t, snaps, tp.Snapshot, liveWait).payload)
	j.judge("mqtt snapshot/small (command)", next(t, smalls, tp.SnapshotSmall, liveWait).payload,
		c.Snapshot.MaxWidth, c.Camera.Height*c.Snapshot.MaxWidth/c.Camera.Width, smallMargin)

	// 7. The web app's timeline snapshot of the event (set before the MQTT
	// one is published).
	cl := loginClient(t, r)
	res, body := httpGet(t, cl, webURL(r, "/api/events/"+e.ID+"/snapshot.jpg"))
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("timeline snapshot: %d %q %.200s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	j.full("timeline snapshot", body)

	// 4. The newest frame.
	res, body = httpGet(t, cl, webURL(r, "/api/snapshot.jpg"))
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("/api/snapshot.jpg: %d %q %.200s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	j.full("/api/snapshot.jpg", body)

	// 5. The MJPEG live stream.
	live, err := cl.Get(webURL(r, "/api/live.mjpeg"))
	if err != nil {
		t.Fatal(err)
	}
	if live.StatusCode != http.StatusOK {
		t.Fatalf("/api/live.mjpeg: %d", live.StatusCode)
	}
	for _, f := range multipartJPEGs(t, live, 5) {
		j.full("/api/live.mjpeg", f)
	}
	live.Body.Close()

	// 6. RTSP.
	rd, err := rtspPlay(t, rtspURL(r, true))
	if err != nil {
		t.Fatalf("rtsp play: %v", err)
	}
	for i := 0; i < 5; i++ {
		j.full("rtsp", rd.Next(t, liveWait)[0])
	}
	rd.Close()

	// 2. The clip: every frame as the web app plays it, every sample of
	// the file, and the first as ffmpeg demuxes it.
	var meta storage.Meta
	if err := json.Unmarshal(next(t, clips, tp.Clip, liveWait).payload, &meta); err != nil {
		t.Fatal(err)
	}
	if len(meta.EventIDs) != 1 || meta.EventIDs[0] != e.ID || meta.Frames == 0 {
		t.Fatalf("clip %+v, want the ring's (%s) with frames", meta, e.ID)
	}
	play, err := cl.Get(webURL(r, "/api/clips/"+meta.ID+"/play.mjpeg"))
	if err != nil {
		t.Fatal(err)
	}
	if play.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(play.Body)
		t.Fatalf("play clip %s: %d %s", meta.ID, play.StatusCode, b)
	}
	parts := multipartJPEGs(t, play, -1)
	play.Body.Close()
	if len(parts) != meta.Frames {
		t.Errorf("play.mjpeg gave %d frames, the clip has %d", len(parts), meta.Frames)
	}
	for _, f := range parts {
		j.full("clip play.mjpeg", f)
	}
	files, _ := filepath.Glob(filepath.Join(c.Storage.Dir, "clips", "*"+meta.ID+".mp4"))
	if len(files) != 1 {
		t.Fatalf("clip file for %s: %v", meta.ID, files)
	}
	stored := mp4JPEGs(t, files[0])
	if len(stored) != meta.Frames {
		t.Errorf("the MP4 has %d samples, the clip's metadata says %d", len(stored), meta.Frames)
	}
	for _, f := range stored {
		j.full("clip file", f)
	}

	// 3. The clip pulled over MQTT.
	pulled := pullClip(t, r, meta.ID)
	a, _ := os.ReadFile(pulled)
	b, _ := os.ReadFile(files[0])
	if !bytes.Equal(a, b) {
		t.Errorf("pulled clip (%d bytes) differs from the stored one (%d bytes)", len(a), len(b))
	}
	for _, f := range mp4JPEGs(t, pulled) {
		j.full("clip pulled over mqtt", f)
	}

	// The counters: frames masked, none dropped.
	res, body = httpGet(t, cl, webURL(r, "/api/status"))
	var st struct {
		Masks *maskStatus `json:"masks"`
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("/api/status: %d %s", res.StatusCode, body)
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("/api/status: %v: %.300s", err, body)
	}
	switch {
	case st.Masks == nil:
		t.Errorf(`/api/status has no "masks": %.500s`, body)
	case st.Masks.Frames == 0 || st.Masks.Errors != 0:
		t.Errorf("/api/status masks %+v: want frames > 0 and no errors", *st.Masks)
	default:
		t.Logf("/api/status masks: %+v", *st.Masks)
	}
	if v, ok := metric(t, r, "doorbelld_mask_frames_total"); !ok || v <= 0 {
		t.Errorf("doorbelld_mask_frames_total = %v (present %v), want > 0", v, ok)
	}
	if v, ok := metric(t, r, "doorbelld_mask_dropped_frames_total"); !ok || v != 0 {
		t.Errorf("doorbelld_mask_dropped_frames_total = %v (present %v), want 0", v, ok)
	}

	for _, sink := range []string{"mqtt snapshot", "mqtt snapshot/small", "mqtt snapshot (command)", "timeline snapshot", "/api/snapshot.jpg",
		"/api/live.mjpeg", "rtsp", "clip play.mjpeg", "clip file", "clip pulled over mqtt"} {
		if j.seen[sink] == 0 {
			t.Errorf("no picture judged from %s", sink)
		}
	}

	// Last, as the only step that may skip: the MP4's first frame as ffmpeg
	// reads it.
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (apt-get install ffmpeg): the clip's frame as ffmpeg demuxes it is not checked")
	}
	j.full("clip via ffmpeg", ffmpegFirstFrame(t, bin, files[0]))
}

// No YUYV variant: the sim camera (capture/simcam, firmware/sim) makes
// MJPEG only. A YUYV one would need a test source of its own through
// Options.Camera, and would judge only pixels whose 16×16 MCU is wholly
// masked: YUYV is masked per pixel, then encoded to JPEG (4:2:0, quality
// 85) downstream, so a block that straddles a mask's edge rings.

// The judge itself: a frame from the sim camera without masks fails it
// where the masks would be, the same frame through a Masker passes, and a
// frame all grey fails as wiped. A test that cannot fail proves nothing.
func TestMaskJudge(t *testing.T) {
	const w, h = 640, 480
	area := newMaskArea(t, testMasks)
	raw := simFrame(t, w, h)
	shapes := make([]mask.Shape, len(testMasks))
	for i, m := range testMasks {
		sh, err := m.Shape()
		if err != nil {
			t.Fatal(err)
		}
		shapes[i] = sh
	}
	mk, err := mask.New(shapes, mask.Options{})
	if err != nil {
		t.Fatal(err)
	}
	masked, err := mk.Apply(append([]byte(nil), raw...), capture.Format{PixelFormat: capture.PixMJPEG, Width: w, Height: h})
	if err != nil {
		t.Fatal(err)
	}
	grey := image.NewGray(image.Rect(0, 0, w, h))
	for i := range grey.Pix {
		grey.Pix[i] = 128
	}
	var flat bytes.Buffer
	if err := jpeg.Encode(&flat, grey, nil); err != nil {
		t.Fatal(err)
	}
	decode := func(b []byte) image.Image {
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	for _, c := range []struct {
		name   string
		jpg    []byte
		margin float64
		want   string // in the problem; "" for none
	}{
		{"unmasked", raw, 0, "masked pixels are not grey"},
		{"unmasked, judged with a margin", raw, smallMargin, "masked pixels are not grey"},
		{"masked", masked, 0, ""},
		{"masked, judged with a margin", masked, smallMargin, ""},
		{"all grey", flat.Bytes(), 0, "the picture was wiped"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := checkPicture(decode(c.jpg), area, w, h, c.margin, nil)
			p := v.problem()
			t.Logf("%v", v)
			if c.want == "" && p != "" || c.want != "" && !strings.Contains(p, c.want) {
				t.Errorf("problem %q, want %q", p, c.want)
			}
		})
	}
	// The geometry: the polygon's slanted edge and the rectangle, at
	// points on either side.
	for _, pt := range []struct {
		x, y float64
		in   bool
	}{
		{0.01, 0.5, true}, {0.29, 0.01, true}, {0.29, 0.99, false}, {0.24, 0.99, false}, {0.22, 0.99, true},
		{0.5, 0.5, false}, {0.71, 0.01, true}, {0.99, 0.24, true}, {0.99, 0.26, false}, {0.69, 0.1, false},
	} {
		if got := area.inside(pt.x, pt.y); got != pt.in {
			t.Errorf("inside(%v, %v) = %v, want %v", pt.x, pt.y, got, pt.in)
		}
	}
}

// simFrame is one frame of the sim camera, unmasked.
func simFrame(t *testing.T, w, h int) []byte {
	t.Helper()
	cam := simcam.New(w, h, 100, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan []byte, 1)
	done := make(chan error, 1)
	go func() {
		done <- cam.Stream(ctx, func(capture.Format) {}, func(b []byte, _ time.Time) {
			select {
			case got <- append([]byte(nil), b...):
				cancel()
			default:
			}
		})
	}()
	select {
	case b := <-got:
		<-done
		return b
	case err := <-done:
		t.Fatalf("sim camera stopped: %v", err)
	case <-time.After(liveWait):
		t.Fatalf("no frame from the sim camera in %v", liveWait)
	}
	return nil
}
