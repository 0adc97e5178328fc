package delivery

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

var policyHosts = []string{"NAS.lan", "10.0.0.2:8443", "[fe80::1]:8080", "::1", "example.org."}

func policyDevice() *Device {
	return NewDevice(Options{OfferDir: "/srv/offers", URLHosts: policyHosts, Logger: quietLog})
}

func TestAllowURL(t *testing.T) {
	d := policyDevice()
	for _, s := range []string{
		"http://nas.lan/x", "https://nas.LAN/x", "http://nas.lan:80/x", "https://nas.lan:443/x", "http://nas.lan./x",
		"https://10.0.0.2:8443/x", "http://[fe80::1]:8080/x", "http://[::1]/x", "http://EXAMPLE.org/x",
	} {
		u, _ := url.Parse(s)
		if err := d.allowURL(u); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{
		"http://nas.lan:8080/x", "http://nas.lan:443/x", "https://10.0.0.2/x", "http://10.0.0.2:8444/x", "http://nas.lan.evil/x",
		"http://evil/nas.lan", "http://evil/?h=nas.lan", "http://nas.lan@evil/x", "ftp://nas.lan/x", "http://[fe80::1]/x",
		"http://[::1]:8080/x", "http://10.0.0.2/x",
	} {
		u, _ := url.Parse(s)
		if err := d.allowURL(u); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("%s: %v, want ErrNotAllowed", s, err)
		}
	}
	for _, s := range []string{"", "http://nas.lan", "nas.lan/x", "nas.lan:0", "nas.lan:99999", "nas.lan:08", "a b", "[]", "u@nas.lan"} {
		if h, err := parseURLHost(s); err == nil {
			t.Errorf("parseURLHost(%q) = %+v", s, h)
		}
	}
	if d := NewDevice(Options{URLHosts: []string{"http://nas.lan"}, Logger: quietLog}); len(d.hosts) != 0 {
		t.Errorf("a bad entry allows %+v", d.hosts)
	}
}

// FuzzOfferPolicy: what allowed lets through is what the configuration
// says, checked against a plain reading of it.
func FuzzOfferPolicy(f *testing.F) {
	for _, s := range []string{"/srv/offers/1.ota", "/srv/offers/../etc/passwd", "/srv/offers", "/srv/offersx/1", "/etc/passwd",
		"http://nas.lan/x", "http://NAS.lan:80/x", "http://nas.lan:8080/x", "https://10.0.0.2:8443/", "http://[::1]/", "http://a@nas.lan/"} {
		f.Add(s)
	}
	d := policyDevice()
	f.Fuzz(func(t *testing.T, s string) {
		o, err := ParseOffer([]byte(`{"version":"1.0.0","path":` + quoteJSON(s) + `}`))
		if err == nil && d.allowed(o) == nil {
			if !strings.HasPrefix(filepath.Clean(o.Path), "/srv/offers/") {
				t.Fatalf("path %q allowed", o.Path)
			}
		}
		o, err = ParseOffer([]byte(`{"version":"1.0.0","url":` + quoteJSON(s) + `}`))
		if err == nil && d.allowed(o) == nil {
			u, err := url.Parse(o.URL)
			if err != nil {
				t.Fatalf("url %q allowed, but: %v", o.URL, err)
			}
			host, port := strings.TrimSuffix(strings.ToLower(u.Hostname()), "."), u.Port()
			def := map[string]string{"http": "80", "https": "443"}[u.Scheme]
			ok := (host == "nas.lan" || host == "example.org" || host == "::1") && (port == "" || port == def) ||
				host == "10.0.0.2" && port == "8443" || host == "fe80::1" && port == "8080"
			if !ok || u.User != nil {
				t.Fatalf("url %q allowed (host %q, port %q)", o.URL, host, port)
			}
		}
	})
}

func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// FuzzUnverifiedBundleErrors: whatever bytes a source starts with, the
// error reported before the signature has verified is one of a few fixed
// texts: nothing of the bytes (the magic, the key id, the length) shows.
func FuzzUnverifiedBundleErrors(f *testing.F) {
	good := otatest.NewBundle(f, "2.0.0", otatest.Binary("2.0.0", 100))
	f.Add([]byte("root:x:0:0:root:/root:/bin/bash\n"))
	f.Add([]byte("root:x:"))
	f.Add(append([]byte("DBOTA\x00\x00\x02"), good[8:]...))
	f.Add(good[:40])
	bin := otatest.Binary("2.0.0", 100)
	f.Add(otatest.Bundle(f, 3, otatest.Manifest("2.0.0", bin), bin)[:200]) // an untrusted key
	bad := bytes.Clone(good)
	bad[len(bad)-150] ^= 1 // in the signature
	f.Add(bad[:len(bad)-100])
	long := bytes.Clone(good[:40])
	binary.BigEndian.PutUint32(long[16:], 1<<20)
	f.Add(long)
	fixed := []string{
		"update: not an OTA bundle: bad magic: malformed bundle",
		"update: an OTA bundle of a format version this device cannot read: malformed bundle",
		"update: not an OTA bundle: bad manifest length: malformed bundle",
		"update: the bundle is not signed by one of the trusted keys (ota.keys_file): signed by an untrusted key",
		"update: the bundle's signature does not verify: bad signature",
		"ota: bundle ends in the header: bundle truncated",
		"ota: bundle ends in the manifest and signature: bundle truncated",
	}
	keys := otatest.Keyring(0)
	d := &Device{}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 64<<10 {
			return
		}
		j := newJob(Offer{}, time.Time{})
		src := &source{r: bytes.NewReader(b), j: j, clk: clockwork.NewFakeClock()}
		bd, err := ota.Open(src, keys)
		if err == nil {
			// Only a header signed by the trusted key gets here; what
			// follows is checked data.
			if bd.KeyID != ota.IDOf(otatest.Public(0)) {
				t.Fatalf("opened with key %s", bd.KeyID)
			}
			io.Copy(io.Discard, src)
			return
		}
		msg := d.explain(err, j, src).Error()
		for _, m := range fixed {
			if msg == m {
				return
			}
		}
		if errors.Is(err, ota.ErrMalformed) && strings.HasPrefix(msg, "ota: manifest") {
			// ParseManifest: after the signature has verified.
			return
		}
		t.Fatalf("error %q is not one of the fixed texts", msg)
	})
}
