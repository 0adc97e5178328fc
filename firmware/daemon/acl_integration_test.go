//go:build integration

package daemon

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/broker/mosquittotest"
	"github.com/doorbelld/doorbelld/firmware/event"
)

// readmeBlock returns the fenced code block of README.md with the given
// info string (```conf, ```acl) inside the threat model section.
func readmeBlock(t *testing.T, lang string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "## Threat model")
	if i < 0 {
		t.Fatal("README has no threat model section")
	}
	m := regexp.MustCompile("(?s)```" + lang + "\n(.*?)\\s*```").FindStringSubmatch(s[i:])
	if m == nil {
		t.Fatalf("README's threat model has no ```%s block", lang)
	}
	// The blocks are indented as part of a list item.
	var out []string
	for _, l := range strings.Split(m[1], "\n") {
		out = append(out, strings.TrimPrefix(l, "  "))
	}
	return strings.Join(out, "\n") + "\n"
}

// TestReadmeMosquittoACL runs Mosquitto with exactly README's config and
// ACL: anonymous clients are refused, a dashboard's command never reaches
// the doorbell, Home Assistant's does, and the doorbell's own events
// reach everyone allowed to read.
func TestReadmeMosquittoACL(t *testing.T) {
	pw, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		t.Skip("no mosquitto_passwd (scripts/test.sh installs mosquitto)")
	}
	b := mosquittotest.Prepare(t)
	conf := strings.ReplaceAll(readmeBlock(t, "conf"), "/etc/mosquitto/", "$DIR/")
	acl := readmeBlock(t, "acl")
	// Readable by the mosquitto user (Mosquitto reads it after dropping root).
	if err := os.WriteFile(filepath.Join(b.Dir, "doorbell.acl"), []byte(acl), 0o644); err != nil {
		t.Fatal(err)
	}
	passwd := filepath.Join(b.Dir, "passwd")
	users := map[string]string{"doorbell-front": "pw-device", "homeassistant": "pw-ha", "owner": "pw-owner", "dashboard": "pw-dash"}
	first := true
	for u, p := range users {
		args := []string{"-b", passwd, u, p}
		if first {
			args = append([]string{"-c"}, args...)
			first = false
		}
		if out, err := exec.Command(pw, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd %s: %v\n%s", u, err, out)
		}
	}
	b.Configure(conf)
	b.Start()

	c := simConfig(t, b.URL())
	c.MQTT.TopicPrefix, c.Device.ID = "doorbell", "front"
	c.MQTT.Username, c.MQTT.Password = "doorbell-front", users["doorbell-front"]
	r := start(t, c)
	tp := r.d.Topics()
	as := func(u string) *paho.ClientOptions {
		return paho.NewClientOptions().AddBroker(b.URL()).SetUsername(u).SetPassword(users[u])
	}

	// Anonymous: refused.
	anon := paho.NewClient(paho.NewClientOptions().AddBroker(b.URL()).SetClientID("anon"))
	if tok := anon.Connect(); tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
		anon.Disconnect(50)
		t.Fatal("README's Mosquitto config accepted an anonymous client")
	}

	dash := subscribeWith(t, as("dashboard"), "doorbell/#")
	waitFor(t, "the doorbell to connect with its own login", r.d.MQTTConnected)
	for {
		if m := next(t, dash, tp.Status, 10*time.Second); string(m.payload) == "online" {
			break
		}
	}
	send := func(u, topic, payload string) {
		t.Helper()
		cl := paho.NewClient(as(u).SetClientID("pub-" + u))
		if tok := cl.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("%s connect: %v", u, tok.Error())
		}
		defer cl.Disconnect(50)
		if tok := cl.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("%s publish: %v", u, tok.Error())
		}
	}

	// Commands are heard from the owner (a malformed probe is refused).
	owner := func() {
		before := r.d.rejected.Load()
		for r.d.rejected.Load() == before {
			send("owner", tp.Command("privacy"), "PROBE")
			for i := 0; i < 100 && r.d.rejected.Load() == before; i++ {
				time.Sleep(10 * time.Millisecond) // polling a counter
			}
		}
	}
	owner()
	// The dashboard may not command: Mosquitto acknowledges and drops it.
	send("dashboard", tp.Command("privacy"), "ON")
	owner() // after the dashboard's message, in Mosquitto's order
	if privacy, _ := r.d.sw.get(); privacy || r.d.commandStats().Accepted != 0 {
		t.Fatalf("a dashboard's command was obeyed (privacy %v, accepted %d)", privacy, r.d.commandStats().Accepted)
	}
	// Home Assistant may.
	send("homeassistant", tp.Command("privacy"), "ON")
	for {
		if m := next(t, dash, tp.PrivacyState, 10*time.Second); string(m.payload) == "ON" {
			break
		}
	}
	send("homeassistant", tp.Command("privacy"), "OFF")
	for {
		if m := next(t, dash, tp.PrivacyState, 10*time.Second); string(m.payload) == "OFF" {
			break
		}
	}
	// The doorbell's events reach the dashboard.
	if err := r.board.Press(30 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if e, _ := nextEvent(t, dash, tp, 10*time.Second); e.Type != event.Ring {
		t.Fatalf("event %s, want ring", e.Type)
	}
}
