package audiotest

import (
	"encoding/binary"
	"os"
	"testing"

	"github.com/doorbelld/doorbelld/hal/audio"
)

// WAV returns s as a 16-bit PCM WAV file's bytes.
func WAV(s *audio.Sound) []byte {
	data := len(s.Samples) * 2
	b := make([]byte, 44+data)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+data))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], uint16(s.Channels))
	binary.LittleEndian.PutUint32(b[24:], uint32(s.Rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(s.Rate*s.Channels*2))
	binary.LittleEndian.PutUint16(b[32:], uint16(s.Channels*2))
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(data))
	for i, v := range s.Samples {
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	return b
}

// WriteWAV writes s to path as a 16-bit PCM WAV file.
func WriteWAV(t testing.TB, path string, s *audio.Sound) {
	t.Helper()
	if err := os.WriteFile(path, WAV(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
