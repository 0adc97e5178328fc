package doorauth

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/account"
	"github.com/doorbelld/doorbelld/firmware/ownerkey"
	"github.com/doorbelld/doorbelld/firmware/wire"
)

// Lockout tunes how wrong PINs lock the PIN out. The zero value of each
// field is its default.
type Lockout struct {
	After int           // wrong PINs in a row before the first lockout; default 5
	Base  time.Duration // the first lockout; default 1 min
	Max   time.Duration // the longest lockout; default 1 h
}

// Options configure an Authorizer. The zero value of each field is its
// default.
type Options struct {
	// DeviceID is the doorbell's device.id; a signed request for another
	// device is refused.
	DeviceID string
	// Key is the owner key; nil: signed requests are refused ("no owner
	// key on the device").
	Key ownerkey.Key
	// PINHash is the door PIN's argon2id or bcrypt hash (account.Verify);
	// "": PIN requests are refused ("no pin configured").
	PINHash string
	// MaxAge is how far a signed request's ts may be from now, either way
	// (a sender whose clock is ahead is refused as well); default 30 s.
	MaxAge time.Duration
	// Rate attempts per Per, for each method on its own; default 3 per
	// minute. See the package comment for what counts.
	Rate int
	Per  time.Duration
	// Lockout: wrong PINs lock the PIN out (never the signed path).
	Lockout Lockout
	// MaxNonces bounds the nonces remembered against replay; default 1024.
	MaxNonces int
	// Clock is the time of every check; default the real clock.
	Clock clockwork.Clock
}

func (o *Options) ensureDefaults() {
	if o.MaxAge <= 0 {
		o.MaxAge = 30 * time.Second
	}
	if o.Rate <= 0 {
		o.Rate = 3
	}
	if o.Per <= 0 {
		o.Per = time.Minute
	}
	if o.Lockout.After <= 0 {
		o.Lockout.After = 5
	}
	if o.Lockout.Base <= 0 {
		o.Lockout.Base = time.Minute
	}
	if o.Lockout.Max <= 0 {
		o.Lockout.Max = time.Hour
	}
	if o.Lockout.Max < o.Lockout.Base {
		o.Lockout.Max = o.Lockout.Base
	}
	if o.MaxNonces <= 0 {
		o.MaxNonces = 1024
	}
	if o.Clock == nil {
		o.Clock = clockwork.NewRealClock()
	}
}

// Validate reports what in o would make every request of a method fail:
// a PIN hash account.Verify does not take, an owner key shorter than
// ownerkey.MinBytes. Its error names the option, never the hash or key.
// An Authorizer built from options that fail it refuses those requests
// (class Misconfigured) rather than crash.
func (o Options) Validate() error {
	var errs []error
	if o.PINHash != "" {
		if err := account.ParseHash(o.PINHash); err != nil {
			errs = append(errs, fmt.Errorf("doorauth: pin hash: %w", err))
		}
	}
	if len(o.Key) > 0 && len(o.Key) < ownerkey.MinBytes {
		errs = append(errs, fmt.Errorf("doorauth: owner key of %d bytes, want at least %d", len(o.Key), ownerkey.MinBytes))
	}
	if o.Key != nil && !deviceID(o.DeviceID) {
		errs = append(errs, fmt.Errorf("doorauth: device id %s: want 1 to %d characters from a-z, 0-9, _ and -", wire.Quote(o.DeviceID), MaxDeviceID))
	}
	return errors.Join(errs...)
}

// Class is the kind of a verdict, a fixed token for metrics and for code
// that branches on it; Verdict.Reason says it in words, with details.
type Class string

// Classes of verdicts.
const (
	Accepted      Class = "accepted"
	TooLarge      Class = "too_large"     // over MaxPayload
	Retained      Class = "retained"      // a retained MQTT message
	Malformed     Class = "malformed"     // not a door command (Parse's error)
	RateLimited   Class = "rate_limited"  // over Rate per Per for its method
	NoPIN         Class = "no_pin"        // a PIN request, no PIN configured
	WrongPIN      Class = "wrong_pin"     // the PIN does not match
	LockedOut     Class = "locked_out"    // a PIN request during a lockout
	NoKey         Class = "no_key"        // a signed request, no owner key
	OtherDevice   Class = "other_device"  // signed for another device.id
	BadMAC        Class = "bad_mac"       // the MAC does not verify
	Stale         Class = "stale"         // ts more than MaxAge from now
	Replayed      Class = "replayed"      // the nonce was seen within MaxAge
	NoncesFull    Class = "nonces_full"   // MaxNonces fresh nonces remembered
	Misconfigured Class = "misconfigured" // the PIN hash is unusable
)

// Reasons that are fixed strings, for callers that compare or make them
// (the web app's own rate limit audits ReasonRateLimited too). Prefer
// comparing Verdict.Class.
const (
	ReasonRateLimited = "rate limited"
	ReasonRetained    = "retained"
	ReasonWrongPIN    = "wrong pin"
	ReasonBadMAC      = "bad mac"
	ReasonReplayed    = "replayed nonce"
	ReasonNoPIN       = "no pin configured"
	ReasonNoKey       = "no owner key on the device"
)

// Verdict is the judgement of one attempt: the daemon pulses the relay
// only when OK, and records every verdict in the audit trail.
type Verdict struct {
	OK bool
	// Method is MethodPIN, MethodSigned, or "" when it could not be told.
	Method string
	// Class is Accepted or why the attempt was refused.
	Class Class
	// Reason says why, for the audit trail and logs, when refused:
	// "stale (41 s old)", "replayed nonce", "wrong pin", "locked out for
	// 2m0s", "rate limited", "bad mac", "retained", ... It never contains
	// the code or the MAC.
	Reason string
}

// Stats are the counts of an Authorizer's verdicts.
type Stats struct {
	Accepted map[string]uint64 // by method
	Refused  map[Class]uint64  // by class
	// Nonces is how many nonces are remembered against replay (expired
	// ones are dropped only when MaxNonces are held).
	Nonces int
	// PINFailures is the count of wrong PINs since the last right one;
	// LockedUntil the end of the current PIN lockout (zero: none).
	PINFailures int
	LockedUntil time.Time
}

// Authorizer judges door commands. It is safe for concurrent use; PIN
// checks (one hash each) run one at a time, and never hold up a signed
// request.
type Authorizer struct {
	opts Options

	mu       sync.Mutex
	rate     map[string]*window // by method
	nonces   map[string]time.Time
	accepted map[string]uint64
	refused  map[Class]uint64

	pinMu     sync.Mutex // held across a PIN check, hash included
	failures  int        // wrong PINs in a row (pinMu)
	locks     int        // lockouts since the last right PIN (pinMu)
	lockUntil time.Time  // (pinMu; read under mu too, so set under both)
}

// New returns an Authorizer with opts, defaults filled in. It starts
// nothing.
func New(opts Options) *Authorizer {
	opts.ensureDefaults()
	return &Authorizer{
		opts: opts,
		rate: map[string]*window{
			MethodPIN:    newWindow(opts.Rate, opts.Per),
			MethodSigned: newWindow(opts.Rate, opts.Per),
		},
		nonces:   map[string]time.Time{},
		accepted: map[string]uint64{},
		refused:  map[Class]uint64{},
	}
}

// Check parses payload, a door command (retained: it came as a retained
// MQTT message), and judges it. Checks run in this order: size, retained,
// Parse; then the method's configuration (no PIN, no key); then the rate
// limit; then the method's own checks. The daemon pulses the relay only
// when the Verdict is OK.
//
// The returned Request never holds the code (it is cleared), so it may be
// kept and logged; on a Parse error it is the zero Request.
func (a *Authorizer) Check(payload []byte, retained bool) (Request, Verdict) {
	r, v := a.check(payload, retained)
	r.Code = ""
	a.mu.Lock()
	if v.OK {
		a.accepted[v.Method]++
	} else {
		a.refused[v.Class]++
	}
	a.mu.Unlock()
	return r, v
}

func refuse(method string, c Class, reason string) Verdict {
	return Verdict{Method: method, Class: c, Reason: reason}
}

func (a *Authorizer) check(payload []byte, retained bool) (Request, Verdict) {
	if len(payload) > MaxPayload {
		return Request{}, refuse("", TooLarge, fmt.Sprintf("too large (%d bytes, at most %d)", len(payload), MaxPayload))
	}
	if retained {
		return Request{}, refuse("", Retained, ReasonRetained)
	}
	r, method, err := parse(payload)
	if err != nil {
		var pe *parseError
		errors.As(err, &pe)
		return Request{}, refuse(method, Malformed, "malformed: "+pe.detail)
	}
	switch method {
	case MethodPIN:
		return r, a.checkPIN(r)
	default:
		return r, a.checkSigned(r)
	}
}

func (a *Authorizer) checkPIN(r Request) Verdict {
	if a.opts.PINHash == "" {
		return refuse(MethodPIN, NoPIN, ReasonNoPIN)
	}
	now := a.opts.Clock.Now()
	a.mu.Lock()
	ok := a.rate[MethodPIN].take(now)
	a.mu.Unlock()
	if !ok {
		return refuse(MethodPIN, RateLimited, ReasonRateLimited)
	}

	a.pinMu.Lock()
	defer a.pinMu.Unlock()
	now = a.opts.Clock.Now() // after waiting for another check's hash
	if left := a.lockUntil.Sub(now); left > 0 {
		return refuse(MethodPIN, LockedOut, "locked out for "+ceilSecond(left).String())
	}
	match, err := account.Verify(a.opts.PINHash, r.Code)
	if err != nil {
		// err names what is wrong with the hash, never the hash or the code.
		return refuse(MethodPIN, Misconfigured, "pin hash unusable: "+err.Error())
	}
	if !match {
		a.failures++
		reason := ReasonWrongPIN
		if over := a.failures - a.opts.Lockout.After; over >= 0 {
			d := a.opts.Lockout.Max
			if a.locks < 30 {
				d = min(a.opts.Lockout.Base<<a.locks, a.opts.Lockout.Max)
			}
			a.locks++
			a.mu.Lock()
			a.lockUntil = now.Add(d)
			a.mu.Unlock()
			reason = fmt.Sprintf("%s (%d in a row); locked out for %s", ReasonWrongPIN, a.failures, d)
		}
		return refuse(MethodPIN, WrongPIN, reason)
	}
	a.failures, a.locks = 0, 0
	a.mu.Lock()
	a.lockUntil = time.Time{}
	a.mu.Unlock()
	return Verdict{OK: true, Method: MethodPIN, Class: Accepted}
}

func (a *Authorizer) checkSigned(r Request) Verdict {
	if len(a.opts.Key) == 0 {
		return refuse(MethodSigned, NoKey, ReasonNoKey)
	}
	now := a.opts.Clock.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	// The rate limit is asked first but only authentic, fresh, new
	// requests take from it: a forger cannot use it up. A refused
	// authentic request still has its nonce remembered, so it cannot be
	// replayed once the limit has room again.
	limited := !a.rate[MethodSigned].allow(now)
	if r.Device != a.opts.DeviceID {
		return refuse(MethodSigned, OtherDevice, "other device ("+wire.Quote(r.Device)+", this is "+wire.Quote(a.opts.DeviceID)+")")
	}
	if !a.opts.Key.Verify(r.MAC, Purpose, r.Device, r.Action, strconv.FormatInt(r.TS, 10), r.Nonce) {
		return refuse(MethodSigned, BadMAC, ReasonBadMAC)
	}
	maxAge := int64(a.opts.MaxAge / time.Second)
	switch age := now.Unix() - r.TS; {
	case age > maxAge:
		return refuse(MethodSigned, Stale, fmt.Sprintf("stale (%d s old, at most %d s)", age, maxAge))
	case -age > maxAge:
		return refuse(MethodSigned, Stale, fmt.Sprintf("stale (%d s in the future, at most %d s)", -age, maxAge))
	}
	if _, seen := a.nonces[r.Nonce]; seen {
		return refuse(MethodSigned, Replayed, ReasonReplayed)
	}
	if len(a.nonces) >= a.opts.MaxNonces {
		a.forgetExpired(now)
		if len(a.nonces) >= a.opts.MaxNonces {
			return refuse(MethodSigned, NoncesFull, fmt.Sprintf("too many recent signed requests (%d nonces remembered)", len(a.nonces)))
		}
	}
	// Fresh while now ≤ ts+MaxAge; one second more for the rounding of
	// now to seconds above.
	a.nonces[r.Nonce] = time.Unix(r.TS, 0).Add(a.opts.MaxAge + time.Second)
	if limited {
		return refuse(MethodSigned, RateLimited, ReasonRateLimited)
	}
	a.rate[MethodSigned].take(now)
	return Verdict{OK: true, Method: MethodSigned, Class: Accepted}
}

// forgetExpired drops the nonces whose requests are stale now. Called
// with mu held.
func (a *Authorizer) forgetExpired(now time.Time) {
	for n, until := range a.nonces {
		if !now.Before(until) {
			delete(a.nonces, n)
		}
	}
}

// ceilSecond rounds d up to a whole second, so "locked out for 0s" never
// shows.
func ceilSecond(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}

// Stats returns the counts so far.
func (a *Authorizer) Stats() Stats {
	a.pinMu.Lock() // failures: wait for a PIN check in flight
	failures := a.failures
	a.pinMu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	s := Stats{
		Accepted:    make(map[string]uint64, len(a.accepted)),
		Refused:     make(map[Class]uint64, len(a.refused)),
		Nonces:      len(a.nonces),
		PINFailures: failures,
	}
	if a.opts.Clock.Now().Before(a.lockUntil) {
		s.LockedUntil = a.lockUntil
	}
	for k, n := range a.accepted {
		s.Accepted[k] = n
	}
	for k, n := range a.refused {
		s.Refused[k] = n
	}
	return s
}
