package delivery

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
)

func TestTransferReassembles(t *testing.T) {
	data := make([]byte, 10_000)
	for i := range data {
		data[i] = byte(i * 31)
	}
	const chunk = 1024
	var mu sync.Mutex
	var acks []int64
	x := newTransfer(context.Background(), "t", int64(len(data)), chunk, 3, time.Minute, clockwork.NewRealClock(),
		func(n int64) { mu.Lock(); acks = append(acks, n); mu.Unlock() })
	put := func(off int64) error {
		end := min(off+chunk, int64(len(data)))
		return x.put(off, data[off:end])
	}
	// Out of order, duplicated, beyond the window, malformed.
	if err := put(2048); err != nil {
		t.Fatal(err)
	}
	if err := put(3072); err == nil {
		t.Error("chunk beyond the window taken")
	}
	if err := x.put(100, data[100:200]); err == nil {
		t.Error("unaligned chunk taken")
	}
	if err := x.put(0, data[:10]); err == nil {
		t.Error("short chunk (not the last) taken")
	}
	put(1024)
	put(1024)
	put(0)
	got := make([]byte, 0, len(data))
	buf := make([]byte, 700) // reads that do not match chunks
	go func() {
		for off := int64(3072); off < int64(len(data)); off += chunk {
			for put(off) != nil { // wait for the window to move
				time.Sleep(time.Millisecond)
			}
			put(off - chunk) // a resend of an old one
		}
	}()
	for {
		n, err := x.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("reassembled %d bytes differ", len(got))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acks) == 0 || acks[len(acks)-1] != int64(len(data)) {
		t.Errorf("acks %v", acks)
	}
	for i := 1; i < len(acks); i++ {
		if acks[i] < acks[i-1] {
			t.Errorf("acks go back: %v", acks)
			break
		}
	}
}

func TestTransferIdleTimeoutAndAbort(t *testing.T) {
	clock := clockwork.NewFakeClock()
	x := newTransfer(context.Background(), "t", 5000, 1024, 4, 30*time.Second, clock, func(int64) {})
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(x)
		done <- err
	}()
	clock.BlockUntil(1)
	clock.Advance(30 * time.Second)
	if err := <-done; !errors.Is(err, ErrTransfer) {
		t.Fatalf("idle: %v", err)
	}
	x = newTransfer(context.Background(), "t", 5000, 1024, 4, time.Minute, clock, func(int64) {})
	x.abort(errors.New("gone"))
	if _, err := x.Read(make([]byte, 10)); err == nil || err.Error() != "gone" {
		t.Fatalf("abort: %v", err)
	}
	if err := x.put(0, make([]byte, 1024)); err != nil {
		t.Fatalf("put after abort: %v", err)
	}
	x.Close()
	x.put(0, make([]byte, 1024)) // after Close: no panic
}
