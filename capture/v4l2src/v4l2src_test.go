package v4l2src

import (
	"strings"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/capture"
)

func TestChoosePixelFormat(t *testing.T) {
	tests := []struct {
		name      string
		offered   []string
		want      string
		fourcc    string
		fellBack  bool
		errSubstr string
		noH264    bool
	}{
		{name: "auto prefers mjpeg", offered: []string{"YUYV", "MJPG"}, want: "auto", fourcc: "MJPG"},
		{name: "empty is auto", offered: []string{"YUYV", "MJPG"}, want: "", fourcc: "MJPG"},
		{name: "auto takes JPEG", offered: []string{"YUYV", "JPEG"}, want: "auto", fourcc: "JPEG"},
		{name: "MJPG before JPEG", offered: []string{"JPEG", "MJPG"}, want: "auto", fourcc: "MJPG"},
		{name: "auto falls to yuyv quietly", offered: []string{"YUYV", "RGB3"}, want: "auto", fourcc: "YUYV"},
		{name: "mjpeg", offered: []string{"MJPG", "YUYV"}, want: "mjpeg", fourcc: "MJPG"},
		{name: "mjpeg falls back", offered: []string{"YUYV"}, want: "mjpeg", fourcc: "YUYV", fellBack: true},
		{name: "yuyv", offered: []string{"MJPG", "YUYV"}, want: "yuyv", fourcc: "YUYV"},
		{name: "yuyv missing", offered: []string{"MJPG"}, want: "yuyv", errSubstr: "device offers MJPG"},
		{name: "nothing usable", offered: []string{"RGB3", "NV12"}, want: "auto", errSubstr: "RGB3 NV12"},
		{name: "no formats", offered: nil, want: "auto", errSubstr: "no usable"},
		{name: "bad option", offered: []string{"MJPG"}, want: "hevc", errSubstr: "unknown format option"},
		{name: "auto: h264 before yuyv", offered: []string{"YUYV", "H264"}, want: "auto", fourcc: "H264"},
		{name: "auto: mjpeg before h264", offered: []string{"H264", "MJPG", "YUYV"}, want: "auto", fourcc: "MJPG"},
		{name: "h264", offered: []string{"MJPG", "H264"}, want: "h264", fourcc: "H264"},
		{name: "h264 missing", offered: []string{"MJPG"}, want: "h264", errSubstr: "device offers MJPG"},
		{name: "mjpeg skips h264 for yuyv", offered: []string{"H264", "YUYV"}, want: "mjpeg", fourcc: "YUYV", fellBack: true},
		{name: "masks: auto skips h264", offered: []string{"H264", "YUYV"}, want: "auto", fourcc: "YUYV", noH264: true},
		{name: "masks: auto still takes mjpeg", offered: []string{"H264", "MJPG", "YUYV"}, want: "auto", fourcc: "MJPG", noH264: true},
		{name: "masks: h264 only", offered: []string{"H264"}, want: "auto", errSubstr: "device offers H264 (H.264 is left out: privacy masks", noH264: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fellBack, err := choosePixelFormat(tt.offered, tt.want, tt.noH264)
			if tt.errSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSubstr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.errSubstr)
				}
				return
			}
			if err != nil || got != tt.fourcc || fellBack != tt.fellBack {
				t.Fatalf("= %q, %v, %v; want %q, %v", got, fellBack, err, tt.fourcc, tt.fellBack)
			}
		})
	}
}

func TestPixelFormat(t *testing.T) {
	tests := []struct {
		fourcc string
		want   string
		ok     bool
	}{
		{"MJPG", capture.PixMJPEG, true},
		{"JPEG", capture.PixMJPEG, true},
		{"YUYV", capture.PixYUYV, true},
		{"H264", capture.PixH264, true},
		{"NV12", "", false},
	}
	for _, tt := range tests {
		if got, ok := pixelFormat(tt.fourcc); got != tt.want || ok != tt.ok {
			t.Errorf("pixelFormat(%q) = %q, %v", tt.fourcc, got, ok)
		}
	}
}

func TestFourCC(t *testing.T) {
	// V4L2_PIX_FMT_MJPEG is v4l2_fourcc('M','J','P','G') = 0x47504a4d.
	if got := fourccString(0x47504a4d); got != "MJPG" {
		t.Errorf("fourccString = %q", got)
	}
	for _, s := range []string{"MJPG", "YUYV", "JPEG"} {
		if got := fourccString(fourccCode(s)); got != s {
			t.Errorf("round trip %q = %q", s, got)
		}
	}
}

func TestFPSOf(t *testing.T) {
	tests := []struct {
		num, den uint32
		want     float64
	}{
		{1, 30, 30},
		{1001, 30000, 30000.0 / 1001},
		{2, 15, 7.5},
		{0, 0, 0},
		{1, 0, 0},
	}
	for _, tt := range tests {
		if got := fpsOf(tt.num, tt.den); got != tt.want {
			t.Errorf("fpsOf(%d/%d) = %v, want %v", tt.num, tt.den, got, tt.want)
		}
	}
}

func TestWallClock(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	mono := 1000 * time.Second // CLOCK_MONOTONIC now: uptime
	tests := []struct {
		name  string
		frame time.Duration
		want  time.Time
	}{
		{"40ms old", mono - 40*time.Millisecond, now.Add(-40 * time.Millisecond)},
		{"just now", mono, now},
		{"zero timestamp", 0, now},
		{"in the future", mono + time.Second, now},
		{"too old: another clock", mono - time.Hour, now},
		{"at the age limit", mono - maxFrameAge, now.Add(-maxFrameAge)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wallClock(tt.frame, mono, now); !got.Equal(tt.want) {
				t.Errorf("= %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	o := Options{Format: "MJPEG"}.withDefaults()
	if o.Width != 640 || o.Height != 480 || o.FPS != 15 || o.Format != "mjpeg" || o.Logger == nil || o.Buffers != 4 || o.StallTimeout != 5*time.Second {
		t.Errorf("defaults: %+v", o)
	}
	if o := (Options{}).withDefaults(); o.Format != "auto" {
		t.Errorf("default format %q", o.Format)
	}
}

func TestSeqGaps(t *testing.T) {
	var g seqGaps
	var total uint64
	for _, tt := range []struct {
		seq  uint32
		want uint64
	}{
		{7, 0}, // the first buffer of a stream: nothing to compare with
		{8, 0},
		{11, 2}, // 9 and 10 dropped
		{11, 0}, // repeated: not a gap
		{3, 0},  // the driver restarted its count
		{4, 0},
		{0, 0}, // backwards again: a restart, never a gap of 2^32-5
	} {
		got := g.next(tt.seq)
		if got != tt.want {
			t.Errorf("next(%d) = %d, want %d", tt.seq, got, tt.want)
		}
		total += got
	}
	if total != 2 {
		t.Errorf("total %d, want 2", total)
	}
	g = seqGaps{last: 1<<32 - 2, started: true}
	if got := g.next(1); got != 2 { // 2^32-1 and 0 dropped across the wrap
		t.Errorf("across the wrap: %d, want 2", got)
	}
}
