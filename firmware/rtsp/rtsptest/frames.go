package rtsptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"os/exec"
	"strconv"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/doorbelld/doorbelld/capture/live"
)

// JPEGFrames returns n real baseline JPEGs (4:2:0, standard tables, as
// image/jpeg writes them) of a gradient with a bar that moves from frame
// to frame, and the Info announcing them.
func JPEGFrames(w, h, n int) (live.Info, []live.Frame, error) {
	if w < 16 || h < 16 || n < 1 {
		return live.Info{}, nil, fmt.Errorf("rtsptest: jpeg frames %dx%d ×%d: want at least 16x16 ×1", w, h, n)
	}
	frames := make([]live.Frame, n)
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for i := range frames {
		bar := i * w / n
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				l := uint8(16 + 219*x/w)
				if x >= bar && x < bar+w/16 {
					l = 235
				}
				img.Y[y*img.YStride+x] = l
			}
		}
		for y := 0; y < h/2; y++ {
			for x := 0; x < w/2; x++ {
				img.Cb[y*img.CStride+x] = uint8(64 + 128*y*2/h)
				img.Cr[y*img.CStride+x] = uint8(192 - 128*x*2/w)
			}
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 75}); err != nil {
			return live.Info{}, nil, fmt.Errorf("rtsptest: encode jpeg: %w", err)
		}
		frames[i] = live.Frame{Data: b.Bytes(), Codec: live.JPEG, Width: w, Height: h, Key: true}
	}
	return live.Info{Codec: live.JPEG, Width: w, Height: h}, frames, nil
}

// ErrNoFFmpeg is returned by H264Frames when ffmpeg is not installed.
var ErrNoFFmpeg = errors.New("rtsptest: ffmpeg not found")

// H264Frames encodes seconds of ffmpeg's test pattern with libx264
// (Annex B, a key frame every gop frames, no B-frames) and returns it as
// access units, with the Info (SPS and PPS) announcing them.
func H264Frames(ctx context.Context, w, h, fps, gop int, seconds float64) (live.Info, []live.Frame, error) {
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		return live.Info{}, nil, ErrNoFFmpeg
	}
	cmd := exec.CommandContext(ctx, ff, "-hide_banner", "-loglevel", "error",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=%dx%d:rate=%d", w, h, fps),
		"-t", strconv.FormatFloat(seconds, 'f', -1, 64),
		"-c:v", "libx264", "-pix_fmt", "yuv420p", "-profile:v", "baseline", "-bf", "0",
		"-g", strconv.Itoa(gop), "-keyint_min", strconv.Itoa(gop), "-sc_threshold", "0",
		"-bsf:v", "h264_mp4toannexb", "-f", "h264", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return live.Info{}, nil, fmt.Errorf("rtsptest: ffmpeg: %w: %s", err, stderr.String())
	}
	aus, sps, pps, err := SplitAccessUnits(out)
	if err != nil {
		return live.Info{}, nil, err
	}
	frames := make([]live.Frame, len(aus))
	for i, au := range aus {
		b, err := h264.AnnexB(au).Marshal()
		if err != nil {
			return live.Info{}, nil, fmt.Errorf("rtsptest: marshal access unit %d: %w", i, err)
		}
		frames[i] = live.Frame{Data: b, Codec: live.H264, Width: w, Height: h, Key: h264.IsRandomAccess(au)}
	}
	return live.Info{Codec: live.H264, Width: w, Height: h, FPS: float64(fps), SPS: sps, PPS: pps}, frames, nil
}

// SplitAccessUnits splits an Annex-B H.264 stream into access units
// (NALUs without start codes) and returns the first SPS and PPS.
func SplitAccessUnits(stream []byte) (aus [][][]byte, sps, pps []byte, err error) {
	all := splitNALUs(stream)
	var cur [][]byte
	hasVCL := false
	flush := func() {
		if len(cur) > 0 && hasVCL {
			aus = append(aus, cur)
		}
		cur, hasVCL = nil, false
	}
	for _, n := range all {
		if len(n) == 0 {
			continue
		}
		typ := h264.NALUType(n[0] & 0x1f)
		switch typ {
		case h264.NALUTypeAccessUnitDelimiter:
			flush()
			continue
		case h264.NALUTypeSPS, h264.NALUTypePPS, h264.NALUTypeSEI:
			if hasVCL {
				flush()
			}
			if typ == h264.NALUTypeSPS && sps == nil {
				sps = n
			}
			if typ == h264.NALUTypePPS && pps == nil {
				pps = n
			}
		case h264.NALUTypeIDR, h264.NALUTypeNonIDR:
			// first_mb_in_slice == 0 (ue(v) "1") starts a new picture.
			if hasVCL && len(n) > 1 && n[1]&0x80 != 0 {
				flush()
			}
			hasVCL = true
		}
		cur = append(cur, n)
	}
	flush()
	if len(aus) == 0 || sps == nil || pps == nil {
		return nil, nil, nil, fmt.Errorf("rtsptest: annex b: %d access units, sps %t, pps %t", len(aus), sps != nil, pps != nil)
	}
	return aus, sps, pps, nil
}

// splitNALUs cuts an Annex-B byte stream at its start codes
// (mediacommon's AnnexB.Unmarshal caps one buffer at 50 NALUs: fine for
// one access unit, not for a whole stream).
func splitNALUs(b []byte) [][]byte {
	var out [][]byte
	start := -1
	for i := 0; i+2 < len(b); {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				if end > start && b[end-1] == 0 { // 4-byte start code
					end--
				}
				out = append(out, b[start:end])
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}
