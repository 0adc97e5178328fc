package sim

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/doorbelld/doorbelld/firmware/config"
)

func do(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestEndpointsDriveTheLines(t *testing.T) {
	c := config.SimDefault()
	c.GPIO.PIR.ActiveLow = false
	b := New(c, Options{Pins: true, PressHold: time.Hour}) // the release never comes during the test
	h := b.Handler()
	tests := []struct {
		method, path string
		code         int
	}{
		{"POST", "/api/sim/ring", 202},
		{"POST", "/api/sim/motion?state=on", 202},
		{"POST", "/api/sim/motion?state=off", 202},
		{"POST", "/api/sim/motion?state=banana", 400},
		{"POST", "/api/sim/motion", 400},
		{"GET", "/api/sim/ring", 405},
	}
	for _, tt := range tests {
		if code, body := do(t, h, tt.method, tt.path); code != tt.code {
			t.Errorf("%s %s = %d %q, want %d", tt.method, tt.path, code, body, tt.code)
		}
	}
	active := gpio.Level(!c.GPIO.Button.ActiveLow)
	if got := b.Button.Pending(); !slices.Equal(got, []gpio.Level{active}) {
		t.Errorf("button edges %v, want one press to %v", got, active)
	}
	if got := b.PIR.Pending(); !slices.Equal(got, []gpio.Level{gpio.High, gpio.Low}) {
		t.Errorf("PIR edges %v, want High then Low (active high)", got)
	}
}

func TestTerminal(t *testing.T) {
	c := config.SimDefault()
	b := New(c, Options{Pins: true, PressHold: time.Hour})
	b.Terminal(strings.NewReader("\nm\nm\n"))
	if n := len(b.Button.Pending()); n != 1 {
		t.Errorf("button edges %d, want 1 press", n)
	}
	if n := len(b.PIR.Pending()); n != 2 {
		t.Errorf("PIR edges %d, want on and off", n)
	}
}

func TestWithoutPins(t *testing.T) {
	c := config.SimDefault()
	b := New(c, Options{})
	if b.Pins() != nil {
		t.Error("Pins without Options.Pins")
	}
	if b.Camera() == nil {
		t.Error("camera.device sim gave no camera")
	}
	if code, body := do(t, b.Handler(), "POST", "/api/sim/ring"); code != 503 || !strings.Contains(body, "no simulated GPIO") {
		t.Errorf("ring without pins = %d %q, want 503 naming the cause", code, body)
	}
	c.Camera.Device = "/dev/video0"
	if New(c, Options{}).Camera() != nil {
		t.Error("a real camera device got a simulated camera")
	}
}
