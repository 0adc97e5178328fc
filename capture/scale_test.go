package capture_test

import (
	"bytes"
	"image/color"
	"image/jpeg"
	"testing"

	"github.com/doorbelld/doorbelld/capture"
	"github.com/doorbelld/doorbelld/capture/capturetest"
)

func TestDownscale(t *testing.T) {
	full := capturetest.JPEG(1280, 720, color.RGBA{200, 40, 40, 255})
	small, err := capture.Downscale(full, 640, 80)
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(small))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 640 || b.Dy() != 360 {
		t.Errorf("downscaled to %v, want 640x360", b)
	}
	if same, _ := capture.Downscale(full, 1920, 80); !bytes.Equal(same, full) {
		t.Error("a frame narrower than max_width was re-encoded")
	}
	if _, err := capture.Downscale([]byte("not a jpeg"), 640, 80); err == nil {
		t.Error("garbage accepted")
	}
}
