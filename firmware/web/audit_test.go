package web

import (
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/doorbelld/doorbelld/firmware/audit"
)

// TestLoginAudited: a successful login is audited with who and from
// where; refused ones are not (a guesser must not flush the trail).
func TestLoginAudited(t *testing.T) {
	var mu sync.Mutex
	var got []audit.Entry
	h := newHandlers()
	opts := Options{Accounts: accounts(t), Logger: slog.New(slog.DiscardHandler), Audit: func(e audit.Entry) {
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	}}
	h.mount(&opts)
	s := serve(t, opts)
	c := newClient(t, s)
	if resp, _ := c.do("POST", "/api/login", `{"username":"alice","password":"Wr0ngGuess"}`); resp.StatusCode != 401 {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	c.login()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Action != audit.ActionLogin || got[0].Actor != "web:alice" || !strings.HasPrefix(got[0].From, "127.0.0.1:") || got[0].Outcome != audit.OK {
		t.Fatalf("audited %+v, want one login by web:alice from 127.0.0.1", got)
	}
	if strings.Contains(got[0].Reason+got[0].Object, alicePassword) {
		t.Fatal("the password is in the audit entry")
	}
}
