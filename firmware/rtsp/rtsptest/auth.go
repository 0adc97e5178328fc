package rtsptest

// Accounts is a plain in-memory rtsp.Auth for tests (the daemon uses
// firmware/account's hashed store).
type Accounts map[string]string

// Open implements rtsp.Auth: true when there are no accounts.
func (a Accounts) Open() bool { return len(a) == 0 }

// Check implements rtsp.Auth.
func (a Accounts) Check(user, pass string) bool {
	p, ok := a[user]
	return ok && p == pass
}
