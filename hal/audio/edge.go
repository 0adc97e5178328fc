package audio

import "context"

// Speaker is the playback edge.
type Speaker interface {
	// Play writes s, converted to what the device takes, and returns when
	// it has been played (drained), or, when ctx is done, stops at once
	// (drops what is buffered, no drain) and returns ctx's error. Play
	// calls must not overlap, nor Close a running Play.
	Play(ctx context.Context, s *Sound) error
	// Close releases the device.
	Close() error
	// Format is what the device takes now (it may change with the next
	// sound's rate and channels).
	Format() Format
}

// Microphone is the capture edge.
type Microphone interface {
	// Read fills p with interleaved signed 16-bit samples at Format's rate
	// and channels (a 32-bit device is narrowed) and returns how many
	// samples it read, a whole number of frames; it blocks until p is full.
	// Close unblocks it (ErrClosed).
	Read(p []int16) (int, error)
	// Format is what the device gives: its rate, channels and bits.
	Format() Format
	// Close stops capture and releases the device.
	Close() error
}
