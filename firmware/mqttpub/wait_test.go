package mqttpub_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/doorbelld/doorbelld/firmware/mqttpub"
)

// token is a paho.Token that completes when done is closed.
type token struct {
	done chan struct{}
	err  error
}

func (t *token) Wait() bool { <-t.done; return true }

func (t *token) WaitTimeout(d time.Duration) bool {
	select {
	case <-t.done:
		return true
	case <-time.After(d):
		return false
	}
}

func (t *token) Done() <-chan struct{} { return t.done }
func (t *token) Error() error          { return t.err }

func TestWait(t *testing.T) {
	refused := errors.New("not authorized")
	closed := make(chan struct{})
	close(closed)
	tests := []struct {
		name string
		tok  *token
		want error // nil: no error
	}{
		{"acknowledged", &token{done: closed}, nil},
		{"failed", &token{done: closed, err: refused}, refused},
		{"no answer", &token{done: make(chan struct{})}, mqttpub.ErrNoAck},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mqttpub.Wait(tt.tok, time.Millisecond, "publish x/y")
			if tt.want == nil {
				if err != nil {
					t.Errorf("Wait = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), "publish x/y") {
				t.Errorf("Wait = %v, want an error naming publish x/y and wrapping %v", err, tt.want)
			}
		})
	}
}
