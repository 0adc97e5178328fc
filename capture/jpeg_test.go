package capture

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"testing"
	"time"
)

// testJPEG encodes a w×h image with a colour gradient.
func testJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// stripDHT removes every DHT segment from a JPEG header, as UVC cameras
// send their MJPEG frames.
func stripDHT(t testing.TB, b []byte) []byte {
	t.Helper()
	out := append([]byte(nil), b[:2]...)
	i := 2
	for {
		if b[i] != 0xff {
			t.Fatalf("no marker at %d", i)
		}
		m := b[i+1]
		if m == markerSOS {
			return append(out, b[i:]...)
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		if m != markerDHT {
			out = append(out, b[i:i+2+n]...)
		}
		i += 2 + n
	}
}

func TestWithHuffmanTables(t *testing.T) {
	full := testJPEG(t, 64, 48)
	bare := stripDHT(t, full)
	if _, err := jpeg.Decode(bytes.NewReader(bare)); err == nil {
		t.Fatal("test setup: a JPEG without DHT decodes; nothing to fix")
	}
	tests := []struct {
		name    string
		in      []byte
		want    []byte // nil: a decodable JPEG equal to full
		wantErr error
	}{
		{name: "has tables: unchanged", in: full, want: full},
		{name: "no tables: inserted", in: bare},
		{name: "fill bytes before marker", in: append([]byte{0xff, 0xd8, 0xff, 0xff}, bare[2:]...)},
		{name: "not jpeg", in: []byte("hello world"), wantErr: errNotJPEG},
		{name: "empty", in: nil, wantErr: errNotJPEG},
		{name: "truncated header", in: bare[:20], wantErr: errTruncated},
		{name: "EOI before SOS", in: []byte{0xff, 0xd8, 0xff, 0xd9}, wantErr: errTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := withHuffmanTables(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != nil {
				if !bytes.Equal(got, tt.want) {
					t.Fatal("frame changed")
				}
				return
			}
			img, err := jpeg.Decode(bytes.NewReader(got))
			if err != nil {
				t.Fatalf("fixed frame does not decode: %v", err)
			}
			ref, _ := jpeg.Decode(bytes.NewReader(full))
			if !sameImage(img, ref) {
				t.Error("fixed frame decodes to a different image")
			}
		})
	}
}

func sameImage(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				return false
			}
		}
	}
	return true
}

func FuzzWithHuffmanTables(f *testing.F) {
	full := testJPEG(f, 16, 16)
	f.Add(full)
	f.Add(stripDHT(f, full))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xe0, 0x00, 0x02, 0xff, 0xda})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := withHuffmanTables(b)
		if err != nil {
			return
		}
		if len(out) < len(b) || out[0] != 0xff || out[1] != markerSOI {
			t.Fatalf("bad output for %x", b)
		}
		if again, err := withHuffmanTables(out); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %v", err)
		}
	})
}

func TestYUYVImage(t *testing.T) {
	// 4x2 frame: per pixel pair Y0 U Y1 V.
	data := []byte{
		10, 100, 11, 200, 12, 101, 13, 201,
		20, 110, 21, 210, 22, 111, 23, 211,
	}
	img, err := YUYVImage(data, 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if img.SubsampleRatio != image.YCbCrSubsampleRatio422 {
		t.Errorf("ratio %v", img.SubsampleRatio)
	}
	tests := []struct {
		x, y       int
		yy, cb, cr uint8
	}{
		{0, 0, 10, 100, 200},
		{1, 0, 11, 100, 200},
		{2, 0, 12, 101, 201},
		{3, 1, 23, 111, 211},
	}
	for _, tt := range tests {
		if c := img.YCbCrAt(tt.x, tt.y); c.Y != tt.yy || c.Cb != tt.cb || c.Cr != tt.cr {
			t.Errorf("(%d,%d) = %v, want %d %d %d", tt.x, tt.y, c, tt.yy, tt.cb, tt.cr)
		}
	}

	for _, bad := range []struct {
		name string
		n    int
		w, h int
	}{
		{"short", 15, 4, 2},
		{"odd width", 100, 3, 2},
		{"zero", 0, 0, 0},
	} {
		if _, err := YUYVImage(make([]byte, bad.n), bad.w, bad.h); err == nil {
			t.Errorf("%s: no error", bad.name)
		}
	}
}

func TestEncodeJPEG(t *testing.T) {
	mjpeg := testJPEG(t, 32, 16)
	yuyv := bytes.Repeat([]byte{81, 90, 81, 240}, 32*16/2) // pure red
	tests := []struct {
		name    string
		f       Frame
		wantW   int
		wantErr bool
	}{
		{name: "mjpeg", f: Frame{Data: mjpeg, Format: Format{PixelFormat: PixMJPEG, Width: 32, Height: 16}}, wantW: 32},
		{name: "yuyv", f: Frame{Data: yuyv, Format: Format{PixelFormat: PixYUYV, Width: 32, Height: 16}}, wantW: 32},
		{name: "yuyv short", f: Frame{Data: yuyv[:10], Format: Format{PixelFormat: PixYUYV, Width: 32, Height: 16}}, wantErr: true},
		{name: "mjpeg garbage", f: Frame{Data: []byte("xx"), Format: Format{PixelFormat: PixMJPEG}}, wantErr: true},
		{name: "unknown format", f: Frame{Data: mjpeg, Format: Format{PixelFormat: "H264"}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := EncodeJPEG(tt.f, 90)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			img, err := jpeg.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if img.Bounds().Dx() != tt.wantW {
				t.Errorf("width %d, want %d", img.Bounds().Dx(), tt.wantW)
			}
			if tt.f.Format.PixelFormat == PixYUYV {
				r, g, b, _ := img.At(5, 5).RGBA()
				if r>>8 < 200 || g>>8 > 60 || b>>8 > 60 {
					t.Errorf("pixel = %d,%d,%d; want red", r>>8, g>>8, b>>8)
				}
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		f        Format
		str      string
		interval time.Duration
	}{
		{Format{PixMJPEG, 640, 480, 30}, "MJPG 640x480@30fps", 33333333},
		{Format{PixYUYV, 1280, 720, 7.5}, "YUYV 1280x720@7.5fps", 133333333},
		{Format{PixYUYV, 320, 240, 0}, "YUYV 320x240", 0},
		{Format{}, "? 0x0", 0},
	}
	for _, tt := range tests {
		if s := tt.f.String(); s != tt.str {
			t.Errorf("String() = %q, want %q", s, tt.str)
		}
		if d := tt.f.Interval(); d != tt.interval {
			t.Errorf("%v: Interval() = %v, want %v", tt.f, d, tt.interval)
		}
	}
}
