package audio

import "context"

// Speaker is the playback edge.
type Speaker interface {
	// Play writes s, converted to what the device takes, and returns when
	// it has been played (drained), or, when ctx is done, stops at once
	// (drops what is buffered, no drain) and returns ctx's error. Play
	// calls must not overlap, nor Close a running Play.
	Play(ctx context.Context, s *Sound) error
	// Stream plays a live stream of interleaved signed 16-bit samples at
	// rate Hz (MinRate-MaxRate) and 1 or 2 channels: it opens the device
	// afresh, at that rate and channels if it takes them (else it
	// converts, as Play does), with a short buffer, then asks src for up
	// to one period of samples at a time (a whole number of frames; src
	// returns how many it filled, and the rest of p is played as silence)
	// and writes each period, paced by the device, until ctx is done: then
	// it drops what is buffered (no drain) and returns ctx's error. It
	// fills the device's buffer with silence but for one period before it
	// first calls src, so src is asked for one period each period from
	// the start (not for a whole buffer at once, which would drain what
	// a jitter buffer gathered before the device was open). src
	// is called on Stream's goroutine and must not block. Stream calls
	// must not overlap a Play or another Stream.
	Stream(ctx context.Context, rate, channels int, src func(p []int16) int) error
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

// Delayer is a Microphone that can say how many frames it has captured
// that no Read has returned yet. capture/mic takes it off a stamp it sets
// from the clock, so a reader that came late (a busy CPU) does not shift
// the sound against the video.
type Delayer interface {
	Delay() (frames int, err error)
}
