// Package supervise runs the daemon's long-lived parts (event loop, camera,
// outbox sender, web server, ...): it restarts a failed part with a
// backoff, stops everything when a critical part fails, and reports each
// part's state for health. gokrazy's supervise loop is the model, with
// goroutines for processes and a context for signals.
//
// Each part is a Run(ctx) error on its own goroutine, and each goroutine
// walks this loop:
//
//	Add ──▶ starting ──▶ running ──Run returned nil──────────────────────────▶ stopped
//	                      │   ▲
//	                      │   └──────── backoff elapsed ◀──────┐
//	                      │                                    │
//	                      ├──error or panic, not Critical──▶ restarting (Restarts++, LastError)
//	                      │                                    wait MinBackoff, 2×, 4×, ... MaxBackoff;
//	                      │                                    from MinBackoff again after a run of
//	                      │                                    StableAfter or more
//	                      │
//	                      └──error or panic, Critical──▶ failed ──▶ Stop: Run returns
//	                                                                "supervise: <name>: <err>"
//
//	Run's ctx done, Stop(cause) or a critical failure
//	   ──▶ every part's ctx is cancelled (a backoff wait ends at once)
//	   ──▶ each part becomes stopped when its Run returns (what it returns then is no failure)
//	   ──▶ Run returns once every part has: nil, the critical error or the cause, whichever came first
//
// A panic is recovered, logged with its stack and treated as the part's
// error. Each failure is logged once, at Error, with the part's name and
// the backoff. Every status change goes to Options.OnChange; States,
// Degraded and Healthy read the same states at any time, for the health
// JSON and the watchdog.
//
// # How the daemon uses it
//
//	sup := supervise.New(supervise.Options{Logger: log, OnChange: func(supervise.State) { d.publishHealth() }})
//	sup.Add(supervise.Part{Name: "events", Critical: true, Run: d.loop})
//	sup.Add(supervise.Part{Name: "camera", Run: d.camera.Run})
//	sup.Add(supervise.Part{Name: "stopping", Run: func(ctx context.Context) error {
//		<-ctx.Done() // hears of the stop with every other part
//		sdnotify.Stopping(log)
//		return nil
//	}})
//	// restart command, OTA slot switch: sup.Stop(ErrRestart)
//	err := sup.Run(ctx) // nil on SIGTERM, ErrRestart, or "supervise: events: ..."
package supervise
