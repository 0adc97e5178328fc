package live

// Queued returns how many frames wait in v's queue.
func (v *Viewer) Queued() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.n
}
