package supervise_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/doorbelld/doorbelld/firmware/supervise"
)

func Example() {
	errRestart := errors.New("restart requested over MQTT")
	sup := supervise.New(supervise.Options{
		Logger:     slog.New(slog.DiscardHandler),
		MinBackoff: time.Millisecond, // 1s by default
	})

	// The event loop: the daemon cannot go on without it.
	sup.Add(supervise.Part{Name: "events", Critical: true, Run: func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	}})
	// The camera fails once (unplugged), is restarted, then runs.
	attempts := 0
	sup.Add(supervise.Part{Name: "camera", Run: func(ctx context.Context) error {
		attempts++
		if attempts == 1 {
			return errors.New("capture: open /dev/video0: no such device")
		}
		sup.Stop(errRestart) // what the restart command does, from anywhere
		<-ctx.Done()
		return ctx.Err()
	}})
	// The watchdog has nothing to do without systemd: it is done, not failed.
	sup.Add(supervise.Part{Name: "watchdog", Run: func(context.Context) error { return nil }})

	err := sup.Run(context.Background())
	fmt.Println("Run:", err)
	for _, st := range sup.States() {
		fmt.Printf("%s %s restarts=%d last_error=%q\n", st.Name, st.Status, st.Restarts, st.LastError)
	}
	// Output:
	// Run: restart requested over MQTT
	// events stopped restarts=0 last_error=""
	// camera stopped restarts=1 last_error="capture: open /dev/video0: no such device"
	// watchdog stopped restarts=0 last_error=""
}

func ExampleSupervisor_Degraded() {
	changed := make(chan supervise.State, 16) // room for every change here
	sup := supervise.New(supervise.Options{
		Logger:   slog.New(slog.DiscardHandler),
		OnChange: func(st supervise.State) { changed <- st }, // the daemon republishes health here
	})
	sup.Add(supervise.Part{Name: "chime", Run: func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	}})
	sup.Add(supervise.Part{Name: "camera", Run: func(context.Context) error {
		return errors.New("capture: open /dev/video0: no such device")
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- sup.Run(ctx) }()

	for st := range changed {
		if st.Status == supervise.Restarting {
			break
		}
	}
	// The health JSON: healthy or not, and what is not running and why.
	fmt.Println("healthy:", sup.Healthy())
	for _, st := range sup.Degraded() {
		fmt.Printf("%s %s (restarts %d): %s\n", st.Name, st.Status, st.Restarts, st.LastError)
	}
	cancel()
	<-done
	// Output:
	// healthy: false
	// camera restarting (restarts 1): capture: open /dev/video0: no such device
}
