package command

import (
	"errors"
	"strings"
	"testing"
)

const base = "doorbell/front"

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		topic    string
		payload  string
		retained bool
		want     Command // Raw is checked separately
		err      error
		errHas   []string // substrings the error must name
	}{
		{name: "privacy on", topic: base + "/cmd/privacy", payload: "ON", want: Command{Kind: Privacy, On: true}},
		{name: "privacy off", topic: base + "/cmd/privacy", payload: "OFF", want: Command{Kind: Privacy}},
		{name: "chime lower case and newline", topic: base + "/cmd/chime", payload: "on\n", want: Command{Kind: Chime, On: true}},
		{name: "snapshot", topic: base + "/cmd/snapshot", payload: "PRESS", want: Command{Kind: Snapshot}},
		{name: "test chime", topic: base + "/cmd/test_chime", payload: "press", want: Command{Kind: TestChime}},
		{name: "restart", topic: base + "/cmd/restart", payload: " PRESS ", want: Command{Kind: Restart}},
		{name: "update install", topic: base + "/cmd/update", payload: "install", want: Command{Kind: Update}},
		// Offers are ota/delivery's to judge: Parse passes any payload on.
		{name: "update offer", topic: base + "/cmd/update", payload: `{"url": "https://updates.example/d.bundle", "version": "1.2.3"}`, want: Command{Kind: Update}},
		{name: "update junk passes to delivery", topic: base + "/cmd/update", payload: "now", want: Command{Kind: Update}},
		{name: "retained update", topic: base + "/cmd/update", payload: "install", retained: true, err: ErrRetained},

		{name: "retained", topic: base + "/cmd/restart", payload: "PRESS", retained: true, err: ErrRetained, errHas: []string{"cmd/restart", "retained"}},
		{name: "retained empty (clearing)", topic: base + "/cmd/privacy", payload: "", retained: true, err: ErrRetained},
		{name: "unknown command", topic: base + "/cmd/open_door", payload: "PRESS", err: ErrUnknown, errHas: []string{`"open_door"`, "privacy, chime"}},
		{name: "deeper topic", topic: base + "/cmd/privacy/set", payload: "ON", err: ErrUnknown},
		{name: "other device", topic: "doorbell/back/cmd/privacy", payload: "ON", err: ErrUnknown, errHas: []string{`"doorbell/front/cmd/"`}},
		{name: "not a command topic", topic: base + "/event", payload: "{}", err: ErrUnknown},
		{name: "empty topic", topic: "", payload: "ON", err: ErrUnknown},
		{name: "privacy maybe", topic: base + "/cmd/privacy", payload: "maybe", err: ErrMalformed, errHas: []string{`"maybe"`, "ON or OFF"}},
		{name: "privacy empty", topic: base + "/cmd/privacy", payload: "", err: ErrMalformed},
		{name: "privacy true", topic: base + "/cmd/privacy", payload: "true", err: ErrMalformed},
		{name: "snapshot ON", topic: base + "/cmd/snapshot", payload: "ON", err: ErrMalformed, errHas: []string{"want PRESS"}},
		{name: "restart empty", topic: base + "/cmd/restart", payload: "", err: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.topic, []byte(tt.payload), tt.retained, base)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				for _, s := range tt.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("err %q does not name %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got.Kind != tt.want.Kind || got.On != tt.want.On {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if string(got.Raw) != tt.payload {
				t.Errorf("raw = %q, want %q", got.Raw, tt.payload)
			}
		})
	}
}

func TestParseRawIsACopy(t *testing.T) {
	p := []byte("ON")
	c, err := Parse(base+"/cmd/chime", p, false, base)
	if err != nil {
		t.Fatal(err)
	}
	p[0] = 'X'
	if string(c.Raw) != "ON" {
		t.Errorf("Raw changed with the caller's buffer: %q", c.Raw)
	}
}

func TestParseBaseWithSlash(t *testing.T) {
	if _, err := Parse(base+"/cmd/chime", []byte("OFF"), false, base+"/"); err != nil {
		t.Fatal(err)
	}
}

// Errors quote and truncate what they show, so logging them is safe.
func TestErrorIsSafeToLog(t *testing.T) {
	payload := "\x1b[31mred" + strings.Repeat("é", 100) + "\n"
	_, err := Parse(base+"/cmd/privacy", []byte(payload), false, base)
	if !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\x1b\n") {
		t.Errorf("control characters in %q", msg)
	}
	if len(msg) > 300 {
		t.Errorf("error is %d bytes: %q", len(msg), msg)
	}
}

func TestTopicAndFilter(t *testing.T) {
	if got := Topic(base, Privacy); got != "doorbell/front/cmd/privacy" {
		t.Errorf("Topic = %q", got)
	}
	if got := Filter(base); got != "doorbell/front/cmd/+" {
		t.Errorf("Filter = %q", got)
	}
	for _, k := range Kinds() {
		if _, err := Parse(Topic(base, k), nil, false, base); errors.Is(err, ErrUnknown) {
			t.Errorf("Topic(%s) is not parsed as a known command: %v", k, err)
		}
	}
}
