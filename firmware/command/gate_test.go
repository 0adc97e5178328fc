package command_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/command"
)

func TestGateBurstThenRate(t *testing.T) {
	clk := clockwork.NewFakeClock()
	g := command.NewGate(clk)
	p := command.Policies[command.Privacy]
	for i := 0; i < p.Burst; i++ {
		if err := g.Allow(command.Privacy); err != nil {
			t.Fatalf("command %d of the burst refused: %v", i+1, err)
		}
	}
	err := g.Allow(command.Privacy)
	if !errors.Is(err, command.ErrRateLimited) {
		t.Fatalf("command past the burst: %v, want ErrRateLimited", err)
	}
	// Another kind has its own bucket.
	if err := g.Allow(command.Snapshot); err != nil {
		t.Fatalf("snapshot refused while privacy is limited: %v", err)
	}
	clk.Advance(p.Every)
	if err := g.Allow(command.Privacy); err != nil {
		t.Fatalf("one refilled after %v: %v", p.Every, err)
	}
	if err := g.Allow(command.Privacy); err == nil {
		t.Fatal("second one after one refill accepted")
	}
	if n := g.Refused()[command.Privacy]; n != 2 {
		t.Errorf("Refused[privacy] = %d, want 2", n)
	}
}

// A flood of 20,000 commands lets through the burst and what the time it
// took refills, nothing more.
func TestGateFlood(t *testing.T) {
	clk := clockwork.NewFakeClock()
	g := command.NewGate(clk)
	ok := 0
	for i := 0; i < 20000; i++ {
		if g.Allow(command.Privacy) == nil {
			ok++
		}
		if i%50 == 0 {
			clk.Advance(time.Millisecond) // 20,000 in 0.4 s, as the attack sent them
		}
	}
	p := command.Policies[command.Privacy]
	if ok > p.Burst+1 {
		t.Errorf("%d of 20,000 accepted in 0.4 s; want at most %d", ok, p.Burst+1)
	}
}

func TestParseTooLarge(t *testing.T) {
	base := "doorbell/front"
	big := []byte(strings.Repeat(" ", command.MaxPayload) + "ON")
	_, err := command.Parse(command.Topic(base, command.Privacy), big, false, base)
	if !errors.Is(err, command.ErrTooLarge) {
		t.Fatalf("Parse of %d bytes: %v, want ErrTooLarge", len(big), err)
	}
	if c, err := command.Parse(command.Topic(base, command.Privacy), []byte("ON"), false, base); err != nil || !c.On {
		t.Fatalf("Parse ON: %+v, %v", c, err)
	}
}

func TestRiskOf(t *testing.T) {
	for _, k := range command.Kinds() {
		if _, ok := command.Policies[k]; !ok {
			t.Errorf("command %s has no policy", k)
		}
	}
	if command.RiskOf(command.Update) != command.High || command.RiskOf(command.Snapshot) != command.Low {
		t.Error("risk classes")
	}
}
