package capture

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"

	"golang.org/x/image/draw"
)

// Downscale returns a JPEG no wider than maxWidth, keeping the aspect
// ratio: the snapshot copy for dashboards (Home Assistant's image entity)
// that do not need the full frame. A JPEG already narrow enough is
// returned as is.
func Downscale(jpg []byte, maxWidth, quality int) ([]byte, error) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(jpg))
	if err != nil {
		return nil, fmt.Errorf("capture: downscale: %w", err)
	}
	if maxWidth <= 0 || cfg.Width <= maxWidth {
		return jpg, nil
	}
	src, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		return nil, fmt.Errorf("capture: downscale: %w", err)
	}
	h := max(1, cfg.Height*maxWidth/cfg.Width)
	dst := image.NewRGBA(image.Rect(0, 0, maxWidth, h))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: quality}); err != nil {
		return nil, fmt.Errorf("capture: downscale: encode: %w", err)
	}
	return buf.Bytes(), nil
}
