package wire

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkQuote checks what Quote promises for any s: one line of valid
// UTF-8, a quoted part within MaxQuoted bytes that unquotes to a prefix of
// s cut on a character boundary, and the length when cut.
func checkQuote(t *testing.T, s string) {
	t.Helper()
	got := Quote(s)
	if !utf8.ValidString(got) || strings.ContainsAny(got, "\n\r\x00\x1b") {
		t.Fatalf("Quote(%q) = %q: not one line of valid UTF-8", s, got)
	}
	q, rest, cut := strings.Cut(got, "… (")
	if len(q) > MaxQuoted {
		t.Fatalf("Quote(%q): quoted part is %d bytes, at most %d", s, len(q), MaxQuoted)
	}
	u, err := strconv.Unquote(q)
	if err != nil {
		t.Fatalf("Quote(%q) = %q: %v", s, got, err)
	}
	if !strings.HasPrefix(s, u) {
		t.Fatalf("Quote(%q) shows %q, not a prefix", s, u)
	}
	if !cut {
		if u != s {
			t.Fatalf("Quote(%q) shows %q uncut", s, u)
		}
		return
	}
	if rest != strconv.Itoa(len(s))+" bytes)" {
		t.Fatalf("Quote(%q) = %q: want the length %d", s, got, len(s))
	}
	if utf8.ValidString(s) && !utf8.ValidString(u) {
		t.Fatalf("Quote(%q) cut a character in half: %q", s, u)
	}
}

func TestQuote(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", `""`},
		{"ON", `"ON"`},
		{"a\nb\x1b[31m", `"a\nb\x1b[31m"`},
		{"\xff\xfe", `"\xff\xfe"`},
		{strings.Repeat("x", 100), `"` + strings.Repeat("x", 78) + `"… (100 bytes)`},
		// 39 é are 78 bytes: the 40th would not fit.
		{strings.Repeat("é", 50), `"` + strings.Repeat("é", 39) + `"… (100 bytes)`},
		// 26 € are 78 bytes.
		{strings.Repeat("€", 30), `"` + strings.Repeat("€", 26) + `"… (90 bytes)`},
		// 19 clefs are 76 bytes; a 20th (80) would not fit.
		{strings.Repeat("𝄞", 21), `"` + strings.Repeat("𝄞", 19) + `"… (84 bytes)`},
		// Escapes count: 19 tabs quote to 38 bytes, 20 to 40, ...
		{strings.Repeat("\t", 50), `"` + strings.Repeat(`\t`, 39) + `"… (50 bytes)`},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%q)\n = %s\nwant %s", tt.in, got, tt.want)
		}
		checkQuote(t, tt.in)
	}
	// Every offset of a cut lands before a character, whatever the mix of
	// widths.
	mix := "aé€𝄞"
	for n := range 40 {
		for pre := range 4 {
			checkQuote(t, strings.Repeat("a", pre)+strings.Repeat(mix, n))
		}
	}
	if got := QuoteBytes([]byte("OFF")); got != `"OFF"` {
		t.Errorf("QuoteBytes = %s", got)
	}
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "x", strings.Repeat("é", 60), strings.Repeat("\x00é\xff", 40), "\xe2\x82"} {
		f.Add(s)
	}
	f.Fuzz(checkQuote)
}

func TestDecodeStrict(t *testing.T) {
	type doc struct {
		A string `json:"a"`
		N int    `json:"n"`
	}
	var d doc
	if err := DecodeStrict([]byte(" {\"a\":\"x\",\"n\":2}\n"), &d); err != nil || d != (doc{"x", 2}) {
		t.Fatalf("DecodeStrict = %+v, %v", d, err)
	}
	tests := []struct {
		in   string
		want error  // a sentinel, or nil for "some error"
		text string // the error contains it
	}{
		{"", ErrNotObject, `payload ""`},
		{"  ", ErrNotObject, "want a JSON object"},
		{`[1]`, ErrNotObject, `payload "[1]"`},
		{`"a"`, ErrNotObject, ""},
		{`null`, ErrNotObject, ""},
		{`{"a":"x","b":1}`, nil, `unknown field \"b\"`},
		{`{"n":"two"}`, nil, "invalid JSON"},
		{`{"a":`, nil, "invalid JSON"},
		{`{"a":"x"} {}`, ErrTrailing, ""},
		{`{"a":"x"}x`, ErrTrailing, ""},
		{"{\"a\":\"x\"}\n\x1b" + strings.Repeat("é", 300), ErrTrailing, ""},
		{"[\x1b" + strings.Repeat("é", 300), ErrNotObject, "… (602 bytes)"},
	}
	for _, tt := range tests {
		var d doc
		err := DecodeStrict([]byte(tt.in), &d)
		if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.text) {
			t.Errorf("DecodeStrict(%.40q) = %v, want %v containing %q", tt.in, err, tt.want, tt.text)
			continue
		}
		if msg := err.Error(); !utf8.ValidString(msg) || strings.ContainsAny(msg, "\n\x1b") || len(msg) > 200 {
			t.Errorf("DecodeStrict(%.40q): error not fit to log: %q", tt.in, msg)
		}
	}
}
