package rtsp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/audit"
	"github.com/doorbelld/doorbelld/firmware/rtsp"
)

// TestAuditSession: a reader's session is audited when it ends: who,
// from where, for how long (on the injected clock).
func TestAuditSession(t *testing.T) {
	src := jpegSource(t)
	clk := clockwork.NewFakeClock()
	got := make(chan audit.Entry, 4)
	_, url, _ := start(t, src, accounts, func(o *rtsp.Options) {
		o.Clock = clk
		o.Audit = func(e audit.Entry) { got <- e }
	})
	r, err := play(t, url, gortsplib.ProtocolTCP)
	if err != nil {
		t.Fatal(err)
	}
	src.Publish()
	r.Next(t, deadline)
	clk.Advance(42 * time.Second)
	r.Close()
	select {
	case e := <-got:
		if e.Action != audit.ActionLive || e.Actor != "rtsp:alice" || !strings.HasPrefix(e.From, "127.0.0.1:") ||
			e.Object != "/doorbell-1" || e.Outcome != audit.OK || e.Duration != 42 {
			t.Fatalf("audit entry %+v: want live by rtsp:alice from 127.0.0.1 on /doorbell-1, 42 s", e)
		}
	case <-time.After(deadline):
		t.Fatal("no audit entry after the reader left")
	}
}
