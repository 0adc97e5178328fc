// Package doorauth decides who may open the door: it judges each door
// command (MQTT <base>/cmd/door, the web app, doorbellctl door open) and
// says whether the door relay may pulse, and why not. A door is not a
// chime: any client of the broker can publish a command, so broker access
// alone never opens it.
//
//	payload, retained ──▶ Check ──▶ (Request without its code, Verdict{OK, Method, Class, Reason})
//	                        │                      │
//	  1 size ≤ MaxPayload   │                      ├─ OK ──▶ daemon pulses the relay
//	  2 not retained        │                      └─ every verdict ──▶ audit trail (Reason), Stats
//	  3 Parse (strict JSON) │
//	  4 method configured   ├─ pin:    PINHash set ─▶ rate ─▶ not locked out ─▶ account.Verify(PINHash, code)
//	  5 rate limit          │                                   (no hashing)       wrong: count, lock out
//	  6 method's checks     └─ signed: Key set ─▶ (rate asked) ─▶ device ─▶ MAC ─▶ |now-ts| ≤ MaxAge
//	                                   ─▶ nonce not seen ─▶ nonce remembered ─▶ rate taken ─▶ OK
//
// # Two ways in
//
// Home Assistant's MQTT lock has a code_format (^\d{4,12}$) and a
// command_template that carries {{ code }}, so it sends
// {"action":"open","code":"1234"}. The PIN is stored only as an argon2id
// or bcrypt hash (account.Verify); a code that is not 4 to 12 digits is
// refused without hashing. After Lockout.After (5) wrong PINs in a row
// every PIN, the right one too, is refused for Lockout.Base (1 min); each
// further wrong PIN after a lockout locks again for twice as long, up to
// Lockout.Max (1 h); a right PIN after the lockout resets the count. A
// lockout never touches the signed path.
//
// doorbellctl door open sends Sign's payload: device, ts (Unix seconds),
// a random nonce and mac = Key.Sign(Purpose, device, "open", ts, nonce)
// with the owner key (package ownerkey), compared in constant time. It is
// refused for another device.id, when ts is more than MaxAge (30 s) from
// the device's clock in either direction, or when its nonce was seen
// before. Nonces are remembered only once their MAC verifies, so only the
// key holder can fill the memory; each is forgotten when its request is
// stale anyway. At most MaxNonces (1024) are kept: when that many fresh
// ones are held (far beyond the rate limit) new signed requests are
// refused, never an unexpired nonce forgotten.
//
// # Rate limit
//
// Each method has its own window of Rate (3) attempts per Per (1 min), so
// a PIN guesser never blocks the owner's signed requests. Every well-formed
// PIN attempt counts, whatever its outcome (a lockout refusal too), which
// bounds both guessing and hashing. A signed attempt counts only when it
// is authentic, fresh and new: a forger, or someone replaying a request
// seen on the broker, cannot use up the owner's limit. An authentic
// request refused by the limit still has its nonce remembered, so it
// cannot be replayed later when the limit has room. Malformed payloads are
// refused before the limit and count nowhere (they cost no hashing).
//
// # Threat model
//
// A broker client that can only publish cannot open the door: it cannot
// sign without the owner key, and guessing a PIN costs it 3 tries a minute
// and then lockouts of up to an hour. A client that can also SUBSCRIBE to
// cmd/door sees Home Assistant's PIN in clear text and can reuse it, so
// the broker's ACLs must let only the doorbell read cmd/door; it sees
// signed requests too, but can neither forge one nor replay it (nonce,
// 30 s window). The signed path is the strong one; the PIN path is for
// Home Assistant's buttons. Retained messages are refused: the broker
// would hand them out again on every reconnect.
//
// No Reason, error, String or log value shows the code or the MAC: Parse
// quotes what it shows (wire.Quote) and never a value that contains
// either, and Check clears the code from the Request it returns.
package doorauth
