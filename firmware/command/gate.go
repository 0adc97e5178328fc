package command

import (
	"fmt"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// MaxPayload bounds a command's payload. Commands are tiny (ON, PRESS, an
// update offer of a few hundred bytes); a larger one is refused before it
// is parsed or copied.
const MaxPayload = 4 << 10

// ErrTooLarge: the payload is larger than MaxPayload.
var ErrTooLarge = fmt.Errorf("command payload larger than %d bytes", MaxPayload)

// ErrRateLimited: the command came too soon after others of its kind.
var ErrRateLimited = fmt.Errorf("too many commands")

// Risk says what an attacker could do with a command, and so how it is
// limited (see Policies).
type Risk uint8

const (
	// Low: snapshot, test chime. Cheap to refuse, harmless to fold: one in
	// flight, the rest fold into it.
	Low Risk = iota
	// Medium: privacy, chime switch, restart. Changes what the doorbell
	// does; rate-limited and audited (logged when accepted).
	Medium
	// High: update offers (and the door relay, later). Checked by the
	// receiving part itself (signatures, allowed directories and hosts);
	// rate-limited here too.
	High
)

func (r Risk) String() string {
	switch r {
	case Low:
		return "low"
	case Medium:
		return "medium"
	}
	return "high"
}

// Policy is how often one kind of command is accepted: a token bucket of
// Burst commands, refilled at one per Every.
type Policy struct {
	Risk  Risk
	Burst int
	Every time.Duration
}

// Policies are the default limits per command kind. A person flips a
// switch a few times in a row at most; Home Assistant sends one message
// per click. Restarts have their own, persisted, cap (the daemon's).
var Policies = map[Kind]Policy{
	Snapshot:  {Low, 5, 2 * time.Second},
	TestChime: {Low, 3, 5 * time.Second},
	Privacy:   {Medium, 10, 6 * time.Second},
	Chime:     {Medium, 10, 6 * time.Second},
	Restart:   {Medium, 2, time.Minute},
	Update:    {High, 5, 10 * time.Second},
	// Deleting every recording cannot be undone: audited, and twice a
	// minute at most (one press and a second thought).
	DeleteRecordings: {High, 2, time.Minute},
	// Door requests have their own limit (firmware/doorauth: 3 a minute,
	// counting refusals); this one only stops a flood at the door.
	Door: {High, 10, 6 * time.Second},
	// A reply speaks at the door: a few in a row, then one per 10 s.
	Reply:       {Medium, 3, 10 * time.Second},
	ReplySelect: {Low, 10, 2 * time.Second},
}

// RiskOf is the risk class of kind k (High for a kind without a policy).
func RiskOf(k Kind) Risk {
	if p, ok := Policies[k]; ok {
		return p.Risk
	}
	return High
}

// Gate rate-limits commands per kind. It is safe for concurrent use and
// costs a map lookup and a few arithmetic operations per message, so a
// flood is refused at the door, before it reaches any lock held across
// disk I/O.
type Gate struct {
	clk clockwork.Clock

	mu      sync.Mutex
	buckets map[Kind]*bucket
	refused map[Kind]uint64
}

type bucket struct {
	p      Policy
	tokens float64
	at     time.Time
}

// NewGate returns a Gate with Policies on clk (nil: the real clock).
func NewGate(clk clockwork.Clock) *Gate {
	if clk == nil {
		clk = clockwork.NewRealClock()
	}
	g := &Gate{clk: clk, buckets: map[Kind]*bucket{}, refused: map[Kind]uint64{}}
	now := clk.Now()
	for k, p := range Policies {
		g.buckets[k] = &bucket{p: p, tokens: float64(p.Burst), at: now}
	}
	return g
}

// Allow takes a token for kind k; it returns an error wrapping
// ErrRateLimited (saying the limit) when none is left.
func (g *Gate) Allow(k Kind) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	b, ok := g.buckets[k]
	if !ok {
		return nil // unknown kinds are refused by Parse
	}
	now := g.clk.Now()
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(float64(b.p.Burst), b.tokens+float64(d)/float64(b.p.Every))
	}
	b.at = now
	if b.tokens < 1 {
		g.refused[k]++
		return fmt.Errorf("command: %s: %w: at most %d in a row, then one per %v", k, ErrRateLimited, b.p.Burst, b.p.Every)
	}
	b.tokens--
	return nil
}

// Refused is how many commands of each kind the gate has refused.
func (g *Gate) Refused() map[Kind]uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[Kind]uint64, len(g.refused))
	for k, n := range g.refused {
		out[k] = n
	}
	return out
}
