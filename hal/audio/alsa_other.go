//go:build !linux

package audio

import (
	"fmt"
	"runtime"
)

// OpenSpeaker fails off Linux: ALSA is Linux's.
func OpenSpeaker(device string) (Speaker, error) {
	return nil, fmt.Errorf("audio: speaker %q: ALSA needs Linux, this is %s: %w", device, runtime.GOOS, ErrNoDevice)
}

// OpenMicrophone fails off Linux: ALSA is Linux's.
func OpenMicrophone(device string, want Format) (Microphone, error) {
	return nil, fmt.Errorf("audio: microphone %q: ALSA needs Linux, this is %s: %w", device, runtime.GOOS, ErrNoDevice)
}
