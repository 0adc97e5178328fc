package audio_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/doorbelld/doorbelld/hal/audio"
)

// wavSpec describes a WAV file to generate.
type wavSpec struct {
	tag        uint16 // 1 PCM, 3 float, other: compressed
	channels   int
	rate       int
	bits       int
	extensible bool
	frames     int
	dataSize   int  // >0: lie about the data chunk's size
	extra      bool // a LIST chunk (odd-sized, padded) before data
	freq       float64
}

// value is the test signal at frame i, channel c, in [-1, 1).
func (w wavSpec) value(i, c int) float64 {
	f := w.freq
	if f == 0 {
		f = 440
	}
	return 0.8 * math.Sin(2*math.Pi*f*float64(i)/float64(w.rate)+float64(c))
}

func (w wavSpec) bytes() []byte {
	var data bytes.Buffer
	for i := 0; i < w.frames; i++ {
		for c := 0; c < w.channels; c++ {
			v := w.value(i, c)
			switch {
			case w.tag == 3:
				binary.Write(&data, binary.LittleEndian, float32(v))
			case w.bits == 8:
				data.WriteByte(byte(int(math.Round(v*127)) + 128))
			case w.bits == 16:
				binary.Write(&data, binary.LittleEndian, int16(math.Round(v*32767)))
			case w.bits == 24:
				x := int32(math.Round(v * 8388607))
				data.Write([]byte{byte(x), byte(x >> 8), byte(x >> 16)})
			case w.bits == 32:
				binary.Write(&data, binary.LittleEndian, int32(math.Round(v*2147483647)))
			default:
				data.WriteByte(0)
			}
		}
	}
	var fmtc bytes.Buffer
	align := w.channels * w.bits / 8
	tag := w.tag
	if w.extensible {
		tag = 0xFFFE
	}
	for _, v := range []any{tag, uint16(w.channels), uint32(w.rate), uint32(w.rate * align), uint16(align), uint16(w.bits)} {
		binary.Write(&fmtc, binary.LittleEndian, v)
	}
	if w.extensible {
		for _, v := range []any{uint16(22), uint16(w.bits), uint32(3), w.tag} {
			binary.Write(&fmtc, binary.LittleEndian, v)
		}
		fmtc.Write([]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71})
	}
	var out bytes.Buffer
	chunk := func(id string, b []byte, size int) {
		out.WriteString(id)
		binary.Write(&out, binary.LittleEndian, uint32(size))
		out.Write(b)
		if len(b)%2 == 1 {
			out.WriteByte(0)
		}
	}
	out.WriteString("RIFF\x00\x00\x00\x00WAVE")
	chunk("fmt ", fmtc.Bytes(), fmtc.Len())
	if w.extra {
		chunk("LIST", []byte("INFOISFT\x03\x00\x00\x00ab\x00"), 15)
	}
	size := data.Len()
	if w.dataSize > 0 {
		size = w.dataSize
	}
	chunk("data", data.Bytes(), size)
	b := out.Bytes()
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

func TestParseWAVKinds(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    wavSpec
		tol  float64 // in int16 steps
	}{
		{"u8 mono 8k", wavSpec{tag: 1, channels: 1, rate: 8000, bits: 8}, 400},
		{"s16 mono 16k", wavSpec{tag: 1, channels: 1, rate: 16000, bits: 16, extra: true}, 1},
		{"s16 stereo 44.1k", wavSpec{tag: 1, channels: 2, rate: 44100, bits: 16}, 1},
		{"s24 stereo 48k", wavSpec{tag: 1, channels: 2, rate: 48000, bits: 24}, 2},
		{"s32 mono 22.05k", wavSpec{tag: 1, channels: 1, rate: 22050, bits: 32}, 2},
		{"f32 stereo 32k", wavSpec{tag: 3, channels: 2, rate: 32000, bits: 32}, 1},
		{"extensible s16 mono 16k", wavSpec{tag: 1, channels: 1, rate: 16000, bits: 16, extensible: true}, 1},
		{"extensible f32 mono 48k", wavSpec{tag: 3, channels: 1, rate: 48000, bits: 32, extensible: true}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.w.frames = tc.w.rate / 10 // 100 ms
			s, err := audio.ParseWAV(bytes.NewReader(tc.w.bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if s.Rate != tc.w.rate || s.Channels != tc.w.channels || s.Frames() != tc.w.frames {
				t.Fatalf("got %d Hz %dch %d frames, want %d Hz %dch %d frames", s.Rate, s.Channels, s.Frames(), tc.w.rate, tc.w.channels, tc.w.frames)
			}
			if d := s.Duration(); d != 100_000_000 {
				t.Errorf("duration %v, want 100ms", d)
			}
			for i := 0; i < tc.w.frames; i++ {
				for c := 0; c < tc.w.channels; c++ {
					want := tc.w.value(i, c) * 32767
					if got := float64(s.Samples[i*tc.w.channels+c]); math.Abs(got-want) > tc.tol {
						t.Fatalf("frame %d ch %d: %v, want %.1f ±%v", i, c, got, want, tc.tol)
					}
				}
			}
		})
	}
}

func TestParseWAVRefusals(t *testing.T) {
	ok := wavSpec{tag: 1, channels: 1, rate: 16000, bits: 16, frames: 1600}
	mp3 := ok
	mp3.tag, mp3.bits = 0x55, 0
	hi := ok
	hi.rate = 96000
	long := ok
	long.rate, long.frames = 8000, 60*8000
	stereo5 := ok
	stereo5.channels = 5
	trunc := ok.bytes()
	trunc = trunc[:len(trunc)-1000]
	lying := ok
	lying.dataSize = 100000
	bits12 := ok
	bits12.bits = 12
	for _, tc := range []struct {
		name string
		b    []byte
		want []string
	}{
		{"mp3", mp3.bytes(), []string{"format 0x55 (MP3) is not PCM", "ffmpeg -i in -ac 1 -ar 16000 -c:a pcm_s16le out.wav"}},
		{"96 kHz", hi.bytes(), []string{"96000 Hz", "8000-48000 Hz"}},
		{"60 s", long.bytes(), []string{"60.0 s long", "at most 30s"}},
		{"5 channels", stereo5.bytes(), []string{"5 channels", "1 (mono) or 2 (stereo)"}},
		{"12 bits", bits12.bytes(), []string{"12-bit", "8, 16, 24 or 32"}},
		{"truncated", trunc, []string{"truncated", "3200 bytes", "2200"}},
		{"data size lies", lying.bytes(), []string{"truncated", "100000 bytes"}},
		{"not riff", []byte("ID3\x04\x00\x00\x00\x00\x00\x00\x00\x00\xff\xfb"), []string{"not a RIFF/WAVE file", "ID3"}},
		{"riff not wave", []byte("RIFF\x10\x00\x00\x00AVI LIST"), []string{"no \"WAVE\""}},
		{"empty", nil, []string{"not a RIFF/WAVE file: only 0 bytes"}},
		{"no data", ok.bytes()[:36], []string{"truncated: no data chunk"}},
		{"no frames", func() []byte { w := ok; w.frames = 0; return w.bytes() }(), []string{"no audio"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := audio.ParseWAV(bytes.NewReader(tc.b))
			if err == nil {
				t.Fatalf("parsed %+v, want an error", s)
			}
			if !errors.Is(err, audio.ErrBadWAV) {
				t.Errorf("%v does not wrap ErrBadWAV", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadWAVNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "leave_at_door.wav")
	if err := os.WriteFile(good, wavSpec{tag: 1, channels: 1, rate: 16000, bits: 16, frames: 16000}.bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := audio.LoadWAV(good)
	if err != nil || s.Duration().Seconds() != 1 {
		t.Fatalf("LoadWAV: %v, %v", s, err)
	}
	bad := filepath.Join(dir, "song.wav")
	os.WriteFile(bad, wavSpec{tag: 0x55, channels: 1, rate: 16000, frames: 10}.bytes(), 0o644)
	if _, err := audio.LoadWAV(bad); err == nil || !strings.Contains(err.Error(), bad+": bad wav: format 0x55 (MP3)") {
		t.Errorf("LoadWAV(mp3): %v, want the file named", err)
	}
	missing := filepath.Join(dir, "nope.wav")
	if _, err := audio.LoadWAV(missing); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("LoadWAV(missing): %v", err)
	}
}

func FuzzParseWAV(f *testing.F) {
	for _, w := range []wavSpec{
		{tag: 1, channels: 1, rate: 16000, bits: 16, frames: 8},
		{tag: 1, channels: 2, rate: 8000, bits: 24, frames: 3, extra: true},
		{tag: 3, channels: 1, rate: 48000, bits: 32, frames: 2, extensible: true},
	} {
		f.Add(w.bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := audio.ParseWAV(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, audio.ErrBadWAV) {
				t.Fatalf("error %v does not wrap ErrBadWAV", err)
			}
			return
		}
		if err := s.Validate(); err != nil || s.Frames() == 0 || s.Duration() > audio.MaxReply {
			t.Fatalf("accepted a bad sound: %v (%d frames, %v)", err, s.Frames(), s.Duration())
		}
	})
}
