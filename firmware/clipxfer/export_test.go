package clipxfer

// Test hooks; set them before Run.

// SetCorrupt makes p call f on each chunk just before publishing it.
func SetCorrupt(p *Publisher, f func(id string, n int, b []byte)) { p.corrupt = f }

// SetManifestHook makes p call f on each manifest it computes.
func SetManifestHook(p *Publisher, f func(m *Manifest)) { p.manifest = f }

// SetAfterCheck makes r call f on chunk n once it passed its CRC, before
// it is written and hashed.
func SetAfterCheck(r *Receiver, f func(n int, b []byte)) { r.afterCheck = f }

// SetLose makes r drop chunk n of clip id as it arrives (lost on its
// way) when f returns true.
func SetLose(r *Receiver, f func(id string, n int) bool) { r.lose = f }
