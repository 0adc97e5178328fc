package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// MaxQuoted is how many bytes the quoted part of Quote's result may be,
// quotes and escapes included.
const MaxQuoted = 80

// Quote quotes s for an error message: Go syntax, with control characters
// and invalid UTF-8 escaped, so the result is one line of valid UTF-8. A
// longer s is cut, never inside a UTF-8 character, so that the quoted
// part stays within MaxQuoted bytes, and the cut is marked with "…" and
// s's length: "\"abcdef\"… (912 bytes)".
func Quote(s string) string {
	q := strconv.Quote(s)
	if len(q) <= MaxQuoted {
		return q
	}
	// Each byte quotes to at least one byte plus the two quotes, so the
	// cut starts at most MaxQuoted-2 bytes in and moves back.
	cut := min(len(s), MaxQuoted-2)
	for {
		for cut > 0 && cut < len(s) && !utf8.RuneStart(s[cut]) {
			cut--
		}
		q = strconv.Quote(s[:cut])
		if len(q) <= MaxQuoted || cut == 0 {
			break
		}
		cut--
	}
	return q + "… (" + strconv.Itoa(len(s)) + " bytes)"
}

// QuoteBytes is Quote for a payload.
func QuoteBytes(p []byte) string { return Quote(string(p)) }

// Errors of DecodeStrict; it wraps them with the details.
var (
	// ErrNotObject: the payload is not a JSON object.
	ErrNotObject = errors.New("want a JSON object")
	// ErrTrailing: something follows the JSON object.
	ErrTrailing = errors.New("data after the JSON object")
)

// DecodeStrict decodes payload, which must be one JSON object (white
// space around it allowed), into v. A field v does not have, a value of
// the wrong type and anything after the object are errors. The error
// quotes what it shows (Quote), so it is safe to log; callers add what
// they were decoding.
func DecodeStrict(payload []byte, v any) error {
	t := bytes.TrimSpace(payload)
	if len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("payload %s: %w", QuoteBytes(payload), ErrNotObject)
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON (%s)", Quote(err.Error()))
	}
	if _, err := dec.Token(); err != io.EOF {
		return ErrTrailing
	}
	return nil
}
