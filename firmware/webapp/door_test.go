package webapp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// doorBackend opens a pretend door.
type doorBackend struct {
	*fakeBackend
	has bool
	err error

	mu    sync.Mutex
	asked []string
}

func (b *doorBackend) HasDoor() bool { return b.has }

func (b *doorBackend) OpenDoor(ctx context.Context) error {
	actor, from, ok := Requester(ctx)
	b.mu.Lock()
	b.asked = append(b.asked, fmt.Sprintf("%s %s %v", actor, from, ok))
	b.mu.Unlock()
	return b.err
}

// TestOpenDoor: POST /api/door/open calls the Backend with who asked;
// without a door opener it is 501 and the page hides the button.
func TestOpenDoor(t *testing.T) {
	be := &doorBackend{fakeBackend: newFakeBackend(), has: true}
	f := newFixture(t, func(o *Options) { o.Backend = be })
	if _, body := get(t, f.srv, "GET", "/api/features", ""); !strings.Contains(body, `"door":true`) {
		t.Errorf("features = %q, want door", body)
	}
	if res, _ := get(t, f.srv, "GET", "/api/door/open", ""); res.StatusCode != 405 {
		t.Errorf("GET = %d, want 405", res.StatusCode)
	}
	res, _ := do(t, f, "POST", "/api/door/open", asUser("alice"))
	if res.StatusCode != 202 {
		t.Fatalf("open = %d, want 202", res.StatusCode)
	}
	if len(be.asked) != 1 || !strings.HasPrefix(be.asked[0], "web:alice 127.0.0.1:") || !strings.HasSuffix(be.asked[0], " true") {
		t.Errorf("Requester in OpenDoor = %q", be.asked)
	}
	be.err = errors.New("rate limited")
	if res, body := get(t, f.srv, "POST", "/api/door/open", ""); res.StatusCode != 503 || !strings.Contains(body, "rate limited") {
		t.Errorf("refused open = %d %q, want 503 with the reason", res.StatusCode, body)
	}

	for name, b := range map[string]Backend{"no door": &doorBackend{fakeBackend: newFakeBackend()}, "plain backend": newFakeBackend()} {
		f := newFixture(t, func(o *Options) { o.Backend = b })
		if res, _ := get(t, f.srv, "POST", "/api/door/open", ""); res.StatusCode != 501 {
			t.Errorf("%s: open = %d, want 501", name, res.StatusCode)
		}
		if _, body := get(t, f.srv, "GET", "/api/features", ""); !strings.Contains(body, `"door":false`) {
			t.Errorf("%s: features = %q", name, body)
		}
	}
}
