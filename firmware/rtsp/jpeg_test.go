package rtsp

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"testing"

	"github.com/bluenviron/gortsplib/v5/pkg/format/rtpmjpeg"
	"github.com/pion/rtp"
)

func encodeJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for i := range img.Y {
		img.Y[i] = uint8(i)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 70}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// roundTrip sends b through gortsplib's RFC 2435 encoder and decoder and
// decodes the result, as a receiver would.
func roundTrip(t *testing.T, b []byte) image.Image {
	t.Helper()
	enc := &rtpmjpeg.Encoder{}
	if err := enc.Init(); err != nil {
		t.Fatal(err)
	}
	pkts, err := enc.Encode(b)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	dec := &rtpmjpeg.Decoder{}
	if err := dec.Init(); err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, p := range pkts {
		buf, _ := p.Marshal()
		var q rtp.Packet
		if err := q.Unmarshal(buf); err != nil {
			t.Fatal(err)
		}
		out, err = dec.Decode(&q)
		if err != nil && !errors.Is(err, rtpmjpeg.ErrMorePacketsNeeded) {
			t.Fatalf("decode: %v", err)
		}
	}
	img, err := jpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("received jpeg: %v", err)
	}
	return img
}

func TestCheckJPEG(t *testing.T) {
	good := encodeJPEG(t, 640, 480)
	f, err := checkJPEG(good)
	if err != nil || !f.clean || f.width != 640 || f.height != 480 {
		t.Fatalf("checkJPEG(image/jpeg 640x480) = %+v, %v; want clean 640x480", f, err)
	}
	if got := roundTrip(t, good).Bounds().Size(); got != image.Pt(640, 480) {
		t.Fatalf("round trip size %v", got)
	}

	// An APP3 segment: fine for JPEG, but the encoder would not skip it.
	app3 := append([]byte{0xff, 0xd8, 0xff, 0xe3, 0x00, 0x06, 'a', 'b', 'c', 'd'}, good[2:]...)
	f, err = checkJPEG(app3)
	if err != nil || f.clean {
		t.Fatalf("checkJPEG(with APP3) = %+v, %v; want not clean, no error", f, err)
	}
	clean := sanitize(nil, app3, f)
	if f2, err := checkJPEG(clean); err != nil || !f2.clean {
		t.Fatalf("sanitized frame: %+v, %v", f2, err)
	}
	if got := roundTrip(t, clean).Bounds().Size(); got != image.Pt(640, 480) {
		t.Fatalf("sanitized round trip size %v", got)
	}

	sofAt := bytes.Index(good, []byte{0xff, 0xc0})
	dhtAt := bytes.Index(good, []byte{0xff, 0xc4})
	mutate := func(at int, b byte) []byte {
		c := bytes.Clone(good)
		c[at] = b
		return c
	}
	bad := map[string][]byte{
		"empty":          nil,
		"not jpeg":       []byte("hello world"),
		"truncated":      good[:sofAt+8],
		"no scan data":   good[:bytes.Index(good, []byte{0xff, 0xda})+14],
		"progressive":    mutate(sofAt+1, 0xc2),
		"size 642x480":   encodeJPEG(t, 642, 480),
		"size 2048x16":   encodeJPEG(t, 2048, 16),
		"huffman":        mutate(dhtAt+6, good[dhtAt+6]+1),
		"4:4:4 sampling": mutate(sofAt+11, 0x11),
		"12-bit":         mutate(sofAt+4, 12),
	}
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := checkJPEG(b); !errors.Is(err, errBadJPEG) {
				t.Fatalf("checkJPEG = %v, want errBadJPEG", err)
			}
		})
	}
}

// FuzzCheckJPEG: whatever checkJPEG accepts, the encoder takes without
// panicking.
func FuzzCheckJPEG(f *testing.F) {
	good := encodeJPEG(f, 64, 32)
	f.Add(good)
	f.Add(append([]byte{0xff, 0xd8, 0xff, 0xe3, 0x00, 0x04, 1, 2}, good[2:]...))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xff, 0xc0, 0x00, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		jf, err := checkJPEG(b)
		if err != nil {
			return
		}
		if !jf.clean {
			b = sanitize(nil, b, jf)
		}
		enc := &rtpmjpeg.Encoder{}
		if err := enc.Init(); err != nil {
			t.Fatal(err)
		}
		enc.Encode(b) //nolint:errcheck // must not panic
	})
}
