// Package wire holds the two helpers every parser of outside input shares:
// Quote, which makes a piece of that input safe to put in an error
// message, and DecodeStrict, which decodes one JSON object and refuses
// anything else. It imports only the standard library, so ota and firmware
// packages alike may use it.
//
//	payload ──DecodeStrict──▶ struct, or error ──▶ caller wraps it: "clip want: %v: %w"
//	                                  │
//	        topic, field, payload ──Quote──▶ "\"abc…\"… (912 bytes)": short, escaped, valid UTF-8
package wire
