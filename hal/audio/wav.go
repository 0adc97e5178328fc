package audio

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// ffmpegHint tells how to make a WAV file doorbelld takes.
const ffmpegHint = "convert with ffmpeg -i in -ac 1 -ar 16000 -c:a pcm_s16le out.wav"

// Format tags of the WAVE fmt chunk.
const (
	tagPCM        = 0x0001
	tagFloat      = 0x0003
	tagExtensible = 0xFFFE
)

// tagNames names the compressed formats people are likely to try.
var tagNames = map[uint16]string{
	0x0002: "MS ADPCM", 0x0006: "A-law", 0x0007: "µ-law", 0x0011: "IMA ADPCM",
	0x0031: "GSM 6.10", 0x0050: "MPEG", 0x0055: "MP3", 0x00FF: "AAC",
	0x0161: "WMA", 0x1610: "HE-AAC", 0x674f: "Ogg Vorbis", 0xF1AC: "FLAC",
}

// LoadWAV reads a RIFF/WAVE PCM file: 8, 16, 24 or 32-bit integer or
// 32-bit float samples, mono or stereo, 8-48 kHz, at most MaxReply long.
// Errors wrap ErrBadWAV, name the file and say what is allowed.
func LoadWAV(path string) (*Sound, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audio: %w", err)
	}
	defer f.Close()
	s, err := parseWAV(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("audio: %s: %w", path, err)
	}
	return s, nil
}

// ParseWAV reads a RIFF/WAVE PCM stream; see LoadWAV for what it takes.
func ParseWAV(r io.Reader) (*Sound, error) {
	s, err := parseWAV(r)
	if err != nil {
		return nil, fmt.Errorf("audio: wav: %w", err)
	}
	return s, nil
}

type wavFmt struct {
	tag                    uint16
	channels               uint16
	rate                   uint32
	blockAlign, bits, cbSz uint16
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadWAV}, args...)...)
}

func parseWAV(r io.Reader) (*Sound, error) {
	var hdr [12]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, bad("not a RIFF/WAVE file: only %d bytes", n)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		what := "RIFF"
		if string(hdr[0:4]) == "RIFF" {
			what = "WAVE"
		}
		return nil, bad("not a RIFF/WAVE file (no %q in the header %q): %s", what, printable(hdr[:]), ffmpegHint)
	}
	var f *wavFmt
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if f == nil {
				return nil, bad("truncated: no fmt chunk")
			}
			return nil, bad("truncated: no data chunk")
		}
		id, size := string(ch[0:4]), binary.LittleEndian.Uint32(ch[4:8])
		switch id {
		case "fmt ":
			if size < 16 || size > 1024 {
				return nil, bad("fmt chunk of %d bytes, want 16-1024", size)
			}
			b := make([]byte, size+size&1)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, bad("truncated fmt chunk")
			}
			var err error
			if f, err = parseFmt(b[:size]); err != nil {
				return nil, err
			}
		case "data":
			if f == nil {
				return nil, bad("data chunk before the fmt chunk")
			}
			return readData(r, f, size)
		default:
			// LIST, fact, cue and the like: skipped, with their pad byte.
			n := int64(size) + int64(size&1)
			if m, err := io.CopyN(io.Discard, r, n); err != nil {
				return nil, bad("truncated %q chunk: %d of %d bytes", printable(ch[0:4]), m, n)
			}
		}
	}
}

func parseFmt(b []byte) (*wavFmt, error) {
	f := &wavFmt{
		tag:        binary.LittleEndian.Uint16(b[0:]),
		channels:   binary.LittleEndian.Uint16(b[2:]),
		rate:       binary.LittleEndian.Uint32(b[4:]),
		blockAlign: binary.LittleEndian.Uint16(b[12:]),
		bits:       binary.LittleEndian.Uint16(b[14:]),
	}
	if f.tag == tagExtensible {
		if len(b) < 40 {
			return nil, bad("WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes, want 40", len(b))
		}
		// The sub-format GUID starts with the plain format tag.
		f.tag = binary.LittleEndian.Uint16(b[24:])
	}
	switch {
	case f.tag != tagPCM && f.tag != tagFloat:
		name := tagNames[f.tag]
		if name == "" {
			name = "unknown"
		}
		return nil, bad("format 0x%x (%s) is not PCM: %s", f.tag, name, ffmpegHint)
	case f.tag == tagFloat && f.bits != 32:
		return nil, bad("%d-bit float samples, only 32-bit float or 8/16/24/32-bit integer: %s", f.bits, ffmpegHint)
	case f.tag == tagPCM && f.bits != 8 && f.bits != 16 && f.bits != 24 && f.bits != 32:
		return nil, bad("%d-bit samples, want 8, 16, 24 or 32: %s", f.bits, ffmpegHint)
	case f.channels != 1 && f.channels != 2:
		return nil, bad("%d channels, want 1 (mono) or 2 (stereo): %s", f.channels, ffmpegHint)
	case f.rate < MinRate || f.rate > MaxRate:
		return nil, bad("%d Hz, want %d-%d Hz: %s", f.rate, MinRate, MaxRate, ffmpegHint)
	case int(f.blockAlign) != int(f.channels)*int(f.bits)/8:
		return nil, bad("block align %d, want %d for %d channels of %d bits", f.blockAlign, int(f.channels)*int(f.bits)/8, f.channels, f.bits)
	}
	return f, nil
}

func readData(r io.Reader, f *wavFmt, size uint32) (*Sound, error) {
	frame := int64(f.blockAlign)
	frames := int64(size) / frame
	// Size-checked before anything is copied.
	if d := time.Duration(frames * int64(time.Second) / int64(f.rate)); d > MaxReply {
		return nil, bad("%.1f s long, at most %v", d.Seconds(), MaxReply)
	}
	if frames == 0 {
		return nil, bad("no audio: the data chunk holds %d bytes, less than one frame", size)
	}
	b := make([]byte, frames*frame)
	if n, err := io.ReadFull(r, b); err != nil {
		return nil, bad("truncated: the data chunk says %d bytes, the file has %d", size, n)
	}
	s := &Sound{Rate: int(f.rate), Channels: int(f.channels), Samples: make([]int16, frames*int64(f.channels))}
	out := s.Samples
	switch {
	case f.tag == tagFloat:
		for i := range out {
			v := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			out[i] = floatToS16(v)
		}
	case f.bits == 8: // unsigned
		for i := range out {
			out[i] = int16(int(b[i])-128) << 8
		}
	case f.bits == 16:
		for i := range out {
			out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
		}
	case f.bits == 24:
		for i := range out {
			out[i] = int16(uint16(b[3*i+1]) | uint16(b[3*i+2])<<8)
		}
	case f.bits == 32:
		for i := range out {
			out[i] = int16(binary.LittleEndian.Uint32(b[4*i:]) >> 16)
		}
	}
	return s, nil
}

func floatToS16(v float32) int16 {
	switch {
	case v != v: // NaN
		return 0
	case v >= 1:
		return math.MaxInt16
	case v <= -1:
		return math.MinInt16
	}
	return int16(v * 32768)
}

// printable quotes header bytes for an error, without control characters.
func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		out[i] = c
	}
	return string(out)
}
