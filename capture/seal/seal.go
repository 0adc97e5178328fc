package seal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
)

// Name is what sealed clips and snapshots are marked with (storage.Meta.Encryption,
// the clip manifest, the snapshot topic) and the extension of their files.
const Name = "age"

// Ext is the extension added to a sealed file's name: clip.mp4.age.
const Ext = "." + Name

// ErrNoMatch: none of the identities can open the file: it was sealed for
// other recipients, or the identity file is the wrong one.
var ErrNoMatch = errors.New("no identity matches the recipients the file was sealed for")

// ErrNotSealed: the input does not start with an age header.
var ErrNotSealed = errors.New("not an age-encrypted file")

// header is how every age file starts.
const header = "age-encryption.org/v1\n"

// IsSealed reports whether b starts like an age file.
func IsSealed(b []byte) bool { return bytes.HasPrefix(b, []byte(header)) }

// Sealer encrypts for a fixed set of recipients. It is safe for concurrent use.
type Sealer struct {
	rs   []age.Recipient
	keys []string // the public keys, as configured
}

// ParseRecipient parses one public key: an age X25519 key (age1…), a
// post-quantum hybrid key (age1pq1…) or an OpenSSH ed25519 or RSA public
// key line (ssh-ed25519 AAAA… [comment]). The error says which forms are
// allowed.
func ParseRecipient(s string) (age.Recipient, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "age1pq1"):
		return age.ParseHybridRecipient(s)
	case strings.HasPrefix(s, "age1"):
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return nil, fmt.Errorf("not a valid age public key (%v)", err)
		}
		return r, nil
	case strings.HasPrefix(s, "ssh-ed25519 "), strings.HasPrefix(s, "ssh-rsa "):
		r, err := agessh.ParseRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("not a valid SSH public key (%v)", err)
		}
		return r, nil
	case strings.HasPrefix(s, "AGE-SECRET-KEY-"):
		return nil, errors.New("this is a secret key (AGE-SECRET-KEY-…): give its public key, age1… (age-keygen -y)")
	}
	return nil, errors.New("want an age public key (age1…, from age-keygen) or an SSH public key (ssh-ed25519 AAAA…)")
}

// NewSealer returns a Sealer for keys, each a public key ParseRecipient
// takes. The error names the index of the bad key.
func NewSealer(keys []string) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no recipients")
	}
	s := &Sealer{keys: append([]string(nil), keys...)}
	for i, k := range keys {
		r, err := ParseRecipient(k)
		if err != nil {
			return nil, fmt.Errorf("seal: recipient [%d]: %w", i, err)
		}
		s.rs = append(s.rs, r)
	}
	return s, nil
}

// Name returns "age".
func (*Sealer) Name() string { return Name }

// Recipients returns how many public keys a file is sealed for.
func (s *Sealer) Recipients() int { return len(s.rs) }

// Encrypt returns a writer that encrypts what is written to it into dst
// with a fresh file key. Close must be called to write the last chunk; it
// does not close dst.
func (s *Sealer) Encrypt(dst io.Writer) (io.WriteCloser, error) {
	w, err := age.Encrypt(dst, s.rs...)
	if err != nil {
		return nil, fmt.Errorf("seal: encrypt: %w", err)
	}
	return w, nil
}

// Seal returns b encrypted.
func (s *Sealer) Seal(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(b) + len(b)/4096 + 512*len(s.rs))
	w, err := s.Encrypt(&buf)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, fmt.Errorf("seal: encrypt: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("seal: encrypt: %w", err)
	}
	return buf.Bytes(), nil
}

// Opener decrypts with the identities of one identity file.
type Opener struct {
	ids  []age.Identity
	path string
}

// maxIdentityFile bounds what LoadIdentities reads.
const maxIdentityFile = 64 << 10

// LoadIdentities reads an identity file: age secret keys (AGE-SECRET-KEY-1…,
// one per line, # comments; what age-keygen writes) or an unencrypted
// OpenSSH private key (ed25519 or RSA). Errors name the file, never its
// contents.
func LoadIdentities(path string) (*Opener, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("seal: identity file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxIdentityFile+1))
	if err != nil {
		return nil, fmt.Errorf("seal: identity file %s: %w", path, err)
	}
	if len(b) > maxIdentityFile {
		return nil, fmt.Errorf("seal: identity file %s: larger than %d bytes: not an identity file", path, maxIdentityFile)
	}
	ids, err := ParseIdentities(b)
	if err != nil {
		return nil, fmt.Errorf("seal: identity file %s: %w", path, err)
	}
	return &Opener{ids: ids, path: path}, nil
}

// ParseIdentities parses the contents of an identity file (LoadIdentities).
func ParseIdentities(b []byte) ([]age.Identity, error) {
	if bytes.Contains(b, []byte("-----BEGIN")) {
		if bytes.Contains(b, []byte("ENCRYPTED")) || bytes.Contains(b, []byte("Proc-Type: 4,ENCRYPTED")) {
			return nil, errors.New("the SSH key is protected by a passphrase: give an unencrypted key or an age identity")
		}
		id, err := agessh.ParseIdentity(b)
		if err != nil {
			return nil, fmt.Errorf("not a usable SSH private key: %w", err)
		}
		return []age.Identity{id}, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	var ids []age.Identity
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var id age.Identity
		var err error
		switch {
		case strings.HasPrefix(line, "AGE-SECRET-KEY-PQ-1"):
			id, err = age.ParseHybridIdentity(line)
		case strings.HasPrefix(line, "AGE-SECRET-KEY-1"):
			id, err = age.ParseX25519Identity(line)
		case strings.HasPrefix(line, "age1"):
			err = errors.New("a public key (age1…): give the secret key file that age-keygen wrote")
		default:
			err = errors.New("want AGE-SECRET-KEY-1… lines or an OpenSSH private key")
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err) // never the line itself: it may be a secret
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, errors.New("no identity in it (want AGE-SECRET-KEY-1… lines or an OpenSSH private key)")
	}
	return ids, nil
}

// Open returns a reader of src's plaintext. A file sealed for other keys
// fails with ErrNoMatch; a file that is not age, with ErrNotSealed. The
// reader fails with an error if the ciphertext was changed or cut short.
func (o *Opener) Open(src io.Reader) (io.Reader, error) {
	br := bufio.NewReader(src)
	if p, err := br.Peek(len(header)); err != nil || !IsSealed(p) {
		return nil, fmt.Errorf("seal: open: %w", ErrNotSealed)
	}
	r, err := age.Decrypt(br, o.ids...)
	if err != nil {
		if _, ok := errors.AsType[*age.NoIdentityMatchError](err); ok {
			return nil, fmt.Errorf("seal: open with %s: %w", o.path, ErrNoMatch)
		}
		return nil, fmt.Errorf("seal: open: %w", err)
	}
	return r, nil
}

// OpenAt returns the plaintext of the sealed file src of size bytes as a
// ReadSeeker, for random access (HTTP ranges, an MP4's sample table)
// without decrypting it whole; each read checks the chunks it touches.
func (o *Opener) OpenAt(src io.ReaderAt, size int64) (io.ReadSeeker, int64, error) {
	head := make([]byte, len(header))
	if _, err := src.ReadAt(head, 0); err != nil || !IsSealed(head) {
		return nil, 0, fmt.Errorf("seal: open: %w", ErrNotSealed)
	}
	ra, n, err := age.DecryptReaderAt(src, size, o.ids...)
	if err != nil {
		if _, ok := errors.AsType[*age.NoIdentityMatchError](err); ok {
			return nil, 0, fmt.Errorf("seal: open with %s: %w", o.path, ErrNoMatch)
		}
		return nil, 0, fmt.Errorf("seal: open: %w", err)
	}
	return io.NewSectionReader(ra, 0, n), n, nil
}

// Matches reports whether the opener holds the secret key of at least one
// of s's recipients, by sealing a probe for s and opening it. The daemon
// checks privacy.identity_file against privacy.recipients with it.
func (o *Opener) Matches(s *Sealer) bool {
	b, err := s.Seal([]byte("probe"))
	if err != nil {
		return false
	}
	r, err := o.Open(bytes.NewReader(b))
	if err != nil {
		return false
	}
	p, err := io.ReadAll(r)
	return err == nil && string(p) == "probe"
}
