package audio_test

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/doorbelld/doorbelld/hal/audio"
)

// A 100 ms WAV file of 16 kHz mono S16 silence.
func exampleWAV() []byte {
	const frames = 1600
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(36+2*frames))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(16000), uint32(32000), uint16(2), uint16(16)} {
		binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(2*frames))
	b.Write(make([]byte, 2*frames))
	return b.Bytes()
}

func ExampleParseWAV() {
	s, err := audio.ParseWAV(bytes.NewReader(exampleWAV()))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Rate, s.Channels, s.Duration())
	// Output: 16000 1 100ms
}

func ExampleConvert() {
	s := &audio.Sound{Rate: 16000, Channels: 1, Samples: make([]int16, 1600)}
	b := audio.Convert(s, audio.Format{Rate: 48000, Channels: 2, Bits: 32})
	fmt.Println(len(b), "bytes:", len(b)/8, "frames of 48 kHz stereo S32_LE")
	// Output: 38400 bytes: 4800 frames of 48 kHz stereo S32_LE
}

func ExampleParseDevice() {
	card, dev, err := audio.ParseDevice("hw:1,0")
	fmt.Println(card, dev, err)
	_, _, err = audio.ParseDevice("default")
	fmt.Println(err != nil)
	// Output:
	// 1 0 <nil>
	// true
}
