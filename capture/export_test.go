package capture

// Waiting is how many waits for the next frame are registered (snapshots
// waiting, a hub), for tests that must know a snapshot is waiting.
func Waiting(c *Camera) int { return int(c.nWaiters.Load()) }
