package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/doorbelld/doorbelld/hal/audio"
	"github.com/doorbelld/doorbelld/hal/audio/audiotest"
)

// writeWAV writes a short 16 kHz mono PCM WAV file.
func writeWAV(t *testing.T, dir, name string) string {
	path := filepath.Join(dir, name)
	audiotest.WriteWAV(t, path, &audio.Sound{Rate: 16000, Channels: 1, Samples: make([]int16, 1600)})
	return path
}

// TestAudioReplies: every reply file is read at validation; problems name
// the reply.
func TestAudioReplies(t *testing.T) {
	dir := t.TempDir()
	good := writeWAV(t, dir, "leave.wav")
	mp3 := filepath.Join(dir, "song.wav")
	os.WriteFile(mp3, []byte("ID3\x03\x00\x00\x00\x00\x00\x00not a wav"), 0o644)
	tests := []struct {
		name string
		a    Audio
		key  string // "" valid
		want string
	}{
		{"good", Audio{Speaker: "hw:1,0", Replies: []Reply{{"leave_at_door", good}}, AutoReply: "leave_at_door", AutoReplyAfter: Dur(20e9)}, "", ""},
		{"card id", Audio{Speaker: "Loopback", AutoReplyAfter: Dur(20e9)}, "", ""},
		{"plugin", Audio{Speaker: "default", AutoReplyAfter: Dur(20e9)}, "audio.speaker", "no plugins"},
		{"not wav", Audio{Speaker: "hw:1,0", Replies: []Reply{{"song", mp3}}, AutoReplyAfter: Dur(20e9)}, "audio.replies[0].file", "RIFF"},
		{"missing", Audio{Speaker: "hw:1,0", Replies: []Reply{{"gone", filepath.Join(dir, "gone.wav")}}, AutoReplyAfter: Dur(20e9)}, "audio.replies[0].file", "no such file"},
		{"relative", Audio{Speaker: "hw:1,0", Replies: []Reply{{"rel", "leave.wav"}}, AutoReplyAfter: Dur(20e9)}, "audio.replies[0].file", "absolute path"},
		{"bad name", Audio{Speaker: "hw:1,0", Replies: []Reply{{"Leave Now", good}}, AutoReplyAfter: Dur(20e9)}, "audio.replies[0].name", "a-z 0-9 _"},
		{"duplicate", Audio{Speaker: "hw:1,0", Replies: []Reply{{"a", good}, {"a", good}}, AutoReplyAfter: Dur(20e9)}, "audio.replies[1].name", "different from the others"},
		{"no speaker", Audio{Replies: []Reply{{"a", good}}, AutoReplyAfter: Dur(20e9)}, "audio.replies[0]", "with audio.speaker"},
		{"unknown auto reply", Audio{Speaker: "hw:1,0", AutoReply: "nope", AutoReplyAfter: Dur(20e9)}, "audio.auto_reply", "one of audio.replies"},
		{"ring tone", Audio{Speaker: "hw:1,0", RingTone: good, AutoReplyAfter: Dur(20e9)}, "", ""},
		{"ring tone without speaker", Audio{RingTone: good, AutoReplyAfter: Dur(20e9)}, "audio.ring_tone", "with audio.speaker"},
		{"ring tone not wav", Audio{Speaker: "hw:1,0", RingTone: mp3, AutoReplyAfter: Dur(20e9)}, "audio.ring_tone", "RIFF"},
		{"microphone", Audio{Microphone: "hw:Loopback,1", MicrophoneRate: 8000, Echo: EchoFullDuplex, AutoReplyAfter: Dur(20e9)}, "", ""},
		{"microphone plugin", Audio{Microphone: "dsnoop", AutoReplyAfter: Dur(20e9)}, "audio.microphone", "no plugins"},
		{"microphone rate", Audio{Microphone: "hw:1,0", MicrophoneRate: 96000, AutoReplyAfter: Dur(20e9)}, "audio.microphone_rate", "8000 to 48000"},
		{"echo", Audio{Echo: "cancel", AutoReplyAfter: Dur(20e9)}, "audio.echo", "half_duplex"},
		{"auto reply too soon", Audio{Speaker: "hw:1,0", AutoReplyAfter: Dur(1e9)}, "audio.auto_reply_after", "from 5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			a := tt.a
			if a.MicrophoneRate == 0 {
				a.MicrophoneRate = 16000
			}
			if a.Echo == "" {
				a.Echo = EchoHalfDuplex
			}
			c.Audio = a
			err := c.Validate(false)
			if tt.key == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			var probs Errors
			if !errors.As(err, &probs) || len(probs) != 1 || probs[0].Key != tt.key || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want one problem at %s saying %q", err, tt.key, tt.want)
			}
		})
	}
}
