package command

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/firmware/wire"
)

// Kind names a command; it is the last level of the command topic. The
// names are the MQTT contract's (mqttapi.Command).
type Kind = mqttapi.Command

// The commands a doorbell accepts.
const (
	Privacy   = mqttapi.CmdPrivacy   // ON | OFF: privacy mode (no snapshots)
	Chime     = mqttapi.CmdChime     // ON | OFF: ring the mechanical chime or not
	Snapshot  = mqttapi.CmdSnapshot  // PRESS: publish a snapshot now
	TestChime = mqttapi.CmdTestChime // PRESS: pulse the chime relay once
	Restart   = mqttapi.CmdRestart   // PRESS: restart the daemon
	Update    = mqttapi.CmdUpdate    // "install", or a JSON offer {"url": ..., "version": ...}
	// DeleteRecordings: PRESS: delete every stored clip and retained snapshot.
	DeleteRecordings = mqttapi.CmdDeleteRecordings
	// Door: a door request (firmware/doorauth judges it; the daemon takes
	// it before Parse, so that a retained one is audited too).
	Door = mqttapi.CmdDoor
	// Reply: a quick reply's name, or PRESS for the selected one.
	Reply = mqttapi.CmdReply
	// ReplySelect: a quick reply's name (Home Assistant's select).
	ReplySelect = mqttapi.CmdReplySelect
)

// Payloads, as Home Assistant sends them (mqttapi's). Parse compares them
// without regard to case and ignores surrounding white space.
const (
	On    = mqttapi.On
	Off   = mqttapi.Off
	Press = mqttapi.Press
)

// Sentinel errors; Parse wraps them with the details.
var (
	// ErrRetained: the message was retained. A retained command would fire
	// again on every reconnect, so it is never acted on.
	ErrRetained = errors.New("retained command ignored")
	// ErrUnknown: the topic is not a command this doorbell knows.
	ErrUnknown = errors.New("unknown command")
	// ErrMalformed: the payload is not one the command allows.
	ErrMalformed = errors.New("malformed command")
)

// Command is one parsed command.
type Command struct {
	Kind Kind
	// On is the switch state for Privacy and Chime.
	On bool
	// Raw is a copy of the payload as received. For Update it is all there
	// is: the OTA code judges offers (ota/delivery.ParseOffer).
	Raw []byte
	// Name is the quick reply of Reply ("" for the selected one) and
	// ReplySelect, checked for its form only: the daemon knows the names.
	Name string
	// From says who sent it, for the audit log: "" for MQTT (any client
	// of the broker), "web:<user>" for the web app.
	From string
	// Done, when not nil, is closed once the command has been carried
	// out (or refused on the way), so a caller that must answer after
	// the fact (the web app) can wait for it.
	Done chan struct{}
}

// replyName is the form of a quick reply's name (config audio.replies).
var replyName = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// Limits on what Parse accepts.
const (
	maxSimplePayload = 32 // ON, OFF, PRESS with some white space
)

// Kinds returns every command kind, in a fixed order.
func Kinds() []Kind { return mqttapi.AllCommands() }

func known(k Kind) bool {
	for _, c := range Kinds() {
		if c == k {
			return true
		}
	}
	return false
}

// Topic returns the command topic of kind k under base, the device's topic
// base <topic_prefix>/<device.id> (mqttapi.Topics.Command).
func Topic(base string, k Kind) string { return mqttapi.TopicsUnder(base).Command(k) }

// Filter returns the subscription filter that matches every command topic
// under base (mqttapi.Topics.Commands).
func Filter(base string) string { return mqttapi.TopicsUnder(base).Commands }

// Parse validates one message received on a command topic. base is the
// device's topic base <topic_prefix>/<device.id>. It returns an error
// wrapping ErrUnknown when the topic is not a known command under base,
// ErrRetained when the message was retained, and ErrMalformed when the
// payload is not allowed; the error says what was wrong and what is
// allowed, and is safe to log (the payload is quoted and truncated).
func Parse(topic string, payload []byte, retained bool, base string) (Command, error) {
	t := mqttapi.TopicsUnder(strings.TrimSuffix(base, "/"))
	k, ok := t.ParseCommand(topic)
	if !ok {
		return Command{}, fmt.Errorf("command: topic %s is not under %s: %w", wire.Quote(topic), wire.Quote(t.Command("")), ErrUnknown)
	}
	if !known(k) {
		return Command{}, fmt.Errorf("command: topic %s: %s is not a command; known: %s: %w",
			wire.Quote(topic), wire.Quote(string(k)), kindList(), ErrUnknown)
	}
	if retained {
		return Command{}, fmt.Errorf("command: %s: retained message ignored (a retained command would fire on every reconnect; clear it with an empty retained message): %w",
			topic, ErrRetained)
	}
	if len(payload) > MaxPayload {
		return Command{}, fmt.Errorf("command: %s: %d bytes: %w", topic, len(payload), ErrTooLarge)
	}
	c := Command{Kind: k, Raw: bytes.Clone(payload)}
	if c.Raw == nil {
		c.Raw = []byte{}
	}
	switch k {
	case Privacy, Chime:
		on, err := onOff(payload)
		if err != nil {
			return Command{}, fmt.Errorf("command: %s: %w", topic, err)
		}
		c.On = on
	case Snapshot, TestChime, Restart, DeleteRecordings:
		if !word(payload, Press) {
			return Command{}, fmt.Errorf("command: %s: payload %s: want %s: %w", topic, wire.QuoteBytes(payload), Press, ErrMalformed)
		}
	case Door:
		// firmware/doorauth parses and judges it.
	case Reply, ReplySelect:
		name := strings.ToLower(string(bytes.TrimSpace(payload)))
		switch {
		case k == Reply && word(payload, Press):
		case replyName.MatchString(name):
			c.Name = name
		default:
			want := "a quick reply's name (1-32 of a-z 0-9 _)"
			if k == Reply {
				want = Press + " or " + want
			}
			return Command{}, fmt.Errorf("command: %s: payload %s: want %s: %w", topic, wire.QuoteBytes(payload), want, ErrMalformed)
		}
	case Update:
		// "install" or a JSON offer: ota/delivery parses and refuses it,
		// and reports a refusal on the update status topic.
	}
	return c, nil
}

func onOff(p []byte) (bool, error) {
	switch {
	case word(p, On):
		return true, nil
	case word(p, Off):
		return false, nil
	}
	return false, fmt.Errorf("payload %s: want %s or %s: %w", wire.QuoteBytes(p), On, Off, ErrMalformed)
}

// word reports whether p is w, ignoring case and surrounding white space.
func word(p []byte, w string) bool {
	if len(p) > maxSimplePayload {
		return false
	}
	return strings.EqualFold(string(bytes.TrimSpace(p)), w)
}

func kindList() string {
	ks := Kinds()
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
