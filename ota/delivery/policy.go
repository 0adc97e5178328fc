package delivery

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/doorbelld/doorbelld/firmware/wire"
	"github.com/doorbelld/doorbelld/ota"
)

// ErrNotAllowed: an offer is well formed, but the device's configuration
// does not allow where it says the bundle is (ota.offer_dir,
// ota.url_hosts).
var ErrNotAllowed = errors.New("offer not allowed")

// allowed checks an offer against the configuration before any work: a
// path must name a file under OfferDir, a URL a host of URLHosts. It looks
// at nothing but the offer and the options (no file system, no network),
// so a refusal says nothing about the device's files or network.
func (d *Device) allowed(o Offer) error {
	switch {
	case o.URL != "":
		u, err := url.Parse(o.URL)
		if err != nil {
			return fmt.Errorf("update: url %s: not a URL: %w", wire.Quote(o.URL), ErrBadOffer)
		}
		if err := d.allowURL(u); err != nil {
			return fmt.Errorf("update: url %s: %w", wire.Quote(o.URL), err)
		}
	case o.Path != "":
		if err := d.allowPath(o.Path); err != nil {
			return fmt.Errorf("update: %w", err)
		}
	}
	return nil
}

// urlHost is an entry of URLHosts: a lower-case host name or IP address
// and a port ("" for the scheme's default).
type urlHost struct{ host, port string }

// parseURLHost parses an entry of URLHosts: host or host:port, an IPv6
// address in brackets when it has a port.
func parseURLHost(s string) (urlHost, error) {
	bad := func(why string) (urlHost, error) {
		return urlHost{}, fmt.Errorf("ota.url_hosts entry %s: %s; want host or host:port", wire.Quote(s), why)
	}
	if s == "" || strings.ContainsAny(s, "/?#@ \t") {
		return bad("not a host")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil { // no port
		host, port = s, ""
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return bad("bad port")
		}
	}
	host = normHost(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if host == "" || strings.ContainsAny(host, "[]") {
		return bad("no host")
	}
	return urlHost{host, port}, nil
}

func normHost(h string) string { return strings.TrimSuffix(strings.ToLower(h), ".") }

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// allowURL checks a URL (an offer's, or a redirect's) against URLHosts.
// An entry without a port allows the scheme's default port only.
func (d *Device) allowURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %s: want http or https: %w", wire.Quote(u.Scheme), ErrNotAllowed)
	}
	if len(d.hosts) == 0 {
		return fmt.Errorf("url offers are off: list the hosts bundles may be fetched from in ota.url_hosts: %w", ErrNotAllowed)
	}
	host, port := normHost(u.Hostname()), u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	for _, h := range d.hosts {
		if h.host == host && (h.port == port || h.port == "" && port == defaultPort(u.Scheme)) {
			return nil
		}
	}
	return fmt.Errorf("host %s is not in ota.url_hosts (an entry without a port allows only port %s): %w",
		wire.Quote(u.Host), defaultPort(u.Scheme), ErrNotAllowed)
}

// allowPath checks, on the path's text alone, that an offered path is
// inside OfferDir. open resolves symbolic links later.
func (d *Device) allowPath(p string) error {
	if d.o.OfferDir == "" {
		return fmt.Errorf("path offers are off: set ota.offer_dir to the directory bundles are put in: %w", ErrNotAllowed)
	}
	dir := filepath.Clean(d.o.OfferDir)
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("ota.offer_dir %s is not an absolute path: path offers are off: %w", wire.Quote(d.o.OfferDir), ErrNotAllowed)
	}
	if _, ok := within(dir, filepath.Clean(p)); !ok {
		return fmt.Errorf("path %s is not inside ota.offer_dir %s: %w", wire.Quote(p), dir, ErrNotAllowed)
	}
	return nil
}

// within returns p relative to dir if p is strictly inside dir (both
// clean and absolute).
func within(dir, p string) (string, bool) {
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == "." || rel == ".." || filepath.IsAbs(rel) || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return rel, true
}

// open opens an offered path (allowPath passed): a regular file that is
// inside OfferDir once every symbolic link is resolved. It opens the file
// through an os.Root of the resolved directory, so a link swapped in
// after the check cannot lead out either. Errors name the offered path,
// never a link's target or anything the file holds, and say whether a
// file exists only for names in directories inside OfferDir.
func (d *Device) open(p string) (*os.File, int64, error) {
	dir := filepath.Clean(d.o.OfferDir)
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("update: ota.offer_dir %s: %w", dir, err)
	}
	outside := fmt.Errorf("update: path %s does not resolve to a file inside ota.offer_dir %s: %w", wire.Quote(p), dir, ErrNotAllowed)
	parent, err := filepath.EvalSymlinks(filepath.Dir(p))
	if err != nil {
		return nil, 0, outside
	}
	if _, ok := within(realDir, parent); !ok && parent != realDir {
		return nil, 0, outside
	}
	name := filepath.Join(parent, filepath.Base(p))
	if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("update: path %s: no such file in ota.offer_dir: %w", wire.Quote(p), fs.ErrNotExist)
	} else if err != nil {
		return nil, 0, fmt.Errorf("update: path %s: cannot be read: %w", wire.Quote(p), fs.ErrPermission)
	}
	real, err := filepath.EvalSymlinks(name)
	if err != nil { // a dangling link: its target may be anywhere
		return nil, 0, outside
	}
	rel, ok := within(realDir, real)
	if !ok {
		return nil, 0, outside
	}
	notFile := fmt.Errorf("update: path %s is not a regular file: %w", wire.Quote(p), ErrNotAllowed)
	// Stat before opening: opening a FIFO would block.
	fi, err := os.Stat(real)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, 0, notFile
	}
	root, err := os.OpenRoot(realDir)
	if err != nil {
		return nil, 0, fmt.Errorf("update: ota.offer_dir %s: %w", dir, err)
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, 0, fmt.Errorf("update: path %s: cannot be read: %w", wire.Quote(p), fs.ErrPermission)
		}
		return nil, 0, outside
	}
	got, err := f.Stat()
	if err != nil || !got.Mode().IsRegular() || !os.SameFile(fi, got) {
		f.Close()
		return nil, 0, notFile
	}
	if got.Size() > d.o.MaxBundle {
		f.Close()
		return nil, 0, fmt.Errorf("update: path %s: %d bytes, at most %d: %w", wire.Quote(p), got.Size(), d.o.MaxBundle, ota.ErrTooLarge)
	}
	return f, got.Size(), nil
}
