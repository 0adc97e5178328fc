package command

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, k := range Kinds() {
		for _, p := range []string{"ON", "off", "PRESS", "install", "", " \n", `{"url":"https://h/x","version":"1.0.0"}`, `{"url":"https://h/x","version":"1"}{}`, "\xff\xfe"} {
			f.Add(Topic(base, k), []byte(p), false)
		}
	}
	f.Add(base+"/cmd/restart", []byte("PRESS"), true)
	f.Add(base+"/cmd/", []byte("ON"), false)
	f.Add("doorbell/front/cmd/privacy/x", []byte("ON"), false)
	f.Fuzz(func(t *testing.T, topic string, payload []byte, retained bool) {
		orig := bytes.Clone(payload)
		c, err := Parse(topic, payload, retained, base)
		if !bytes.Equal(payload, orig) {
			t.Fatal("Parse modified the payload")
		}
		if err != nil {
			n := 0
			for _, s := range []error{ErrRetained, ErrUnknown, ErrMalformed} {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("error %q wraps %d sentinels, want 1", err, n)
			}
			msg := err.Error()
			if !utf8.ValidString(msg) || strings.ContainsAny(msg, "\n\r\x00\x1b") {
				t.Fatalf("error is not safe to log: %q", msg)
			}
			if len(msg) > 500 {
				t.Fatalf("error of %d bytes for a %d byte topic: %q", len(msg), len(topic), msg)
			}
			if c.Kind != "" || c.Raw != nil {
				t.Fatalf("error with a non-zero command %+v", c)
			}
			return
		}
		if retained {
			t.Fatal("retained command accepted")
		}
		if Topic(base, c.Kind) != topic {
			t.Fatalf("kind %q from topic %q", c.Kind, topic)
		}
		if !bytes.Equal(c.Raw, payload) {
			t.Fatalf("Raw %q != payload %q", c.Raw, payload)
		}
		switch c.Kind {
		case Privacy, Chime:
			want := Off
			if c.On {
				want = On
			}
			if !strings.EqualFold(string(bytes.TrimSpace(payload)), want) {
				t.Fatalf("On=%v from %q", c.On, payload)
			}
		case Snapshot, TestChime, Restart, DeleteRecordings:
			if !strings.EqualFold(string(bytes.TrimSpace(payload)), Press) {
				t.Fatalf("%s accepted %q", c.Kind, payload)
			}
		case Update, Door: // any payload: ota/delivery, firmware/doorauth judge it
		case Reply, ReplySelect:
			if c.Name == "" && (c.Kind == ReplySelect || !strings.EqualFold(string(bytes.TrimSpace(payload)), Press)) {
				t.Fatalf("%s accepted %q without a name", c.Kind, payload)
			}
		default:
			t.Fatalf("unknown kind %q accepted", c.Kind)
		}
	})
}
