package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/renameio/v2"

	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/delivery"
	"github.com/doorbelld/doorbelld/ota/install"
)

var otaCommands = []subcommand{
	{"keygen", "--out DIR [--name NAME]", "make an ed25519 signing key pair: DIR/NAME.key (secret) and DIR/NAME.pub", otaKeygen},
	{"sign", "--key KEY --version V --in BINARY --out BUNDLE [--model M] [--goos OS --goarch ARCH --goarm N] [--expires 90d]",
		"sign a doorbelld binary into an update bundle (the architecture is read from the binary)", otaSign},
	{"verify", "--pubkey PUB [--pubkey PUB...] BUNDLE", "check a bundle: exit 0 if valid, 1 with the reason if not", otaVerify},
	{"push", brokerArgs + " BUNDLE",
		"offer a bundle to a doorbell over MQTT, send it, and wait for its health confirmation", otaPush},
	{"status", "[--dir DIR]", "on the device: the OTA slots, version floor, trial and last outcome", otaStatus},
}

func runOTA(e *env, args []string) int { return dispatch(e, "ota", otaCommands, args) }

func otaKeygen(e *env, args []string) int {
	const cmd = "ota keygen"
	fs := flag.NewFlagSet("doorbellctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	out := fs.String("out", "", "directory for the key files (created 0700 if missing)")
	name := fs.String("name", "doorbell-ota", "file name of the keys, without .key/.pub")
	pos, ok := parse(fs, args)
	if !ok {
		return 2
	}
	if *out == "" || len(pos) > 0 {
		return usagef(e, cmd, "want --out DIR and no arguments")
	}
	if *name == "" || strings.ContainsAny(*name, `/\`) {
		return usagef(e, cmd, "--name %q: want a plain file name", *name)
	}
	keyPath, pubPath := filepath.Join(*out, *name+".key"), filepath.Join(*out, *name+".pub")
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return failf(e, cmd, "%s exists; not overwriting a key (move it away first)", p)
		}
	}
	pub, priv, err := ota.GenerateKey()
	if err != nil {
		return failf(e, cmd, "%v", err)
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return failf(e, cmd, "%v", err)
	}
	if err := writeNew(keyPath, ota.MarshalPrivateKey(priv), 0o600); err != nil {
		return failf(e, cmd, "%v", err)
	}
	if err := writeNew(pubPath, ota.MarshalPublicKey(pub), 0o644); err != nil {
		os.Remove(keyPath)
		return failf(e, cmd, "%v", err)
	}
	fmt.Fprintf(e.stdout, "private key: %s\n  keep it secret and offline: it signs firmware for every doorbell that trusts it\n", keyPath)
	fmt.Fprintf(e.stdout, "public key:  %s (key id %s)\n", pubPath, ota.IDOf(pub))
	fmt.Fprintf(e.stdout, "trust it on a doorbell: add this line to its OTA keys\n  %s\n", ota.EncodePublicKey(pub))
	return 0
}

// writeNew creates path with b, failing if it exists, durably.
func writeNew(path string, b []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

func otaSign(e *env, args []string) int {
	const cmd = "ota sign"
	fs := flag.NewFlagSet("doorbellctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	keyPath := fs.String("key", "", "private key file (PEM, from ota keygen)")
	ver := fs.String("version", "", "the binary's version, as its --version prints it (semantic version)")
	in := fs.String("in", "", "the doorbelld binary")
	out := fs.String("out", "", "the bundle to write")
	model := fs.String("model", install.DefaultModel, "device model the bundle is for")
	goos := fs.String("goos", "", "GOOS (default: read from the binary)")
	goarch := fs.String("goarch", "", "GOARCH (default: read from the binary)")
	goarm := fs.String("goarm", "", "GOARM for arm: 5, 6 or 7 (default: read from the binary)")
	expires := fs.String("expires", "90d", "when devices stop accepting the bundle: a duration (90d, 2160h) or a date (2027-03-01, RFC 3339)")
	pos, ok := parse(fs, args)
	if !ok {
		return 2
	}
	if *keyPath == "" || *ver == "" || *in == "" || *out == "" || len(pos) > 0 {
		return usagef(e, cmd, "want --key, --version, --in and --out, and no arguments")
	}
	v, err := ota.ParseVersion(*ver)
	if err != nil {
		return usagef(e, cmd, "--version: %v", err)
	}
	keyText, err := os.ReadFile(*keyPath)
	if err != nil {
		return failf(e, cmd, "%v", err)
	}
	key, err := ota.ParsePrivateKey(keyText)
	if err != nil {
		return failf(e, cmd, "%s: %v", *keyPath, err)
	}
	arch, err := signArch(*in, ota.Arch{GOOS: *goos, GOARCH: *goarch, GOARM: *goarm})
	if err != nil {
		return failf(e, cmd, "%v", err)
	}
	now := e.now().UTC().Truncate(time.Second)
	exp, err := parseExpiry(*expires, now)
	if err != nil {
		return usagef(e, cmd, "--expires: %v", err)
	}
	bin, err := os.Open(*in)
	if err != nil {
		return failf(e, cmd, "%v", err)
	}
	defer bin.Close()
	sum, size, err := ota.HashFile(bin)
	if err != nil {
		return failf(e, cmd, "%s: %v", *in, err)
	}
	m := ota.Manifest{
		Format: ota.ManifestFormat, Model: *model, GOOS: arch.GOOS, GOARCH: arch.GOARCH, GOARM: arch.GOARM,
		Version: v.String(), SHA256: sum, Size: size, Created: now, Expires: exp,
	}
	s, err := ota.Sign(m, key)
	if err != nil {
		return failf(e, cmd, "%v", err)
	}
	if _, err := bin.Seek(0, io.SeekStart); err != nil {
		return failf(e, cmd, "%v", err)
	}
	if err := writeAtomic(*out, func(w io.Writer) error { return ota.WriteBundle(w, s, bin) }); err != nil {
		return failf(e, cmd, "%v (did %s change while signing?)", err, *in)
	}
	fmt.Fprintf(e.stdout, "signed %s %s for %s (%s), key %s, expires %s\n  %s (%d bytes)\n",
		m.Model, m.Version, arch, mib(size), s.KeyID, exp.Format("2006-01-02"), *out, s.Size())
	return 0
}

// writeAtomic writes path through renameio's temp file in its directory,
// renamed over it once complete, so a failed sign leaves no half bundle.
func writeAtomic(path string, write func(io.Writer) error) error {
	f, err := renameio.NewPendingFile(path, renameio.WithStaticPermissions(0o644))
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if err := write(f); err != nil {
		return err
	}
	return f.CloseAtomicallyReplace()
}

// signArch is the architecture to sign for: read from the binary, with
// flags filling in or (for a binary that is not Go/ELF) stating it. A flag
// that contradicts the binary is an error: a mislabeled bundle would be
// refused by every device or, worse, crash one.
func signArch(path string, flags ota.Arch) (ota.Arch, error) {
	got, err := ota.FileArch(path)
	if err != nil {
		if flags.GOOS == "" || flags.GOARCH == "" || (flags.GOARCH == "arm" && flags.GOARM == "") {
			return ota.Arch{}, fmt.Errorf("%v; give --goos and --goarch (and --goarm for arm)", err)
		}
		return flags, nil
	}
	for _, c := range [][3]string{{"goos", flags.GOOS, got.GOOS}, {"goarch", flags.GOARCH, got.GOARCH}, {"goarm", flags.GOARM, got.GOARM}} {
		if c[1] != "" && c[1] != c[2] {
			return ota.Arch{}, fmt.Errorf("--%s %s, but %s is built for %s", c[0], c[1], path, got)
		}
	}
	return got, nil
}

// parseExpiry reads "90d", a Go duration, "2006-01-02" or RFC 3339.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 {
			return now.AddDate(0, 0, n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	for _, layout := range []string{"2006-01-02", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			if !t.After(now) {
				return time.Time{}, fmt.Errorf("%s is in the past", s)
			}
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want a duration (90d, 2160h) or a date (2027-03-01, RFC 3339)", s)
}

// keyFlags is a repeatable --pubkey: a key file, or a key itself.
type keyFlags []string

func (k *keyFlags) String() string     { return strings.Join(*k, ",") }
func (k *keyFlags) Set(s string) error { *k = append(*k, s); return nil }

func (k keyFlags) keyring() (*ota.Keyring, error) {
	var text bytes.Buffer
	for _, s := range k {
		if b, err := os.ReadFile(s); err == nil {
			text.Write(b)
			text.WriteByte('\n')
			continue
		} else if _, perr := ota.ParsePublicKey(s); perr != nil {
			return nil, fmt.Errorf("--pubkey %s: %v", s, err)
		}
		text.WriteString(s + "\n")
	}
	return ota.ParseKeyring(text.Bytes())
}

func otaVerify(e *env, args []string) int {
	const cmd = "ota verify"
	fs := flag.NewFlagSet("doorbellctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var keys keyFlags
	fs.Var(&keys, "pubkey", "trusted public key: a file (PEM or base64 lines) or the base64 key; repeat for several")
	pos, ok := parse(fs, args)
	if !ok {
		return 2
	}
	if len(keys) == 0 || len(pos) != 1 {
		return usagef(e, cmd, "want --pubkey PUB and one BUNDLE")
	}
	kr, err := keys.keyring()
	if err != nil {
		return usagef(e, cmd, "%v", err)
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return failf(e, cmd, "%v", err)
	}
	defer f.Close()
	m, id, err := ota.Verify(f, kr, e.now())
	if err != nil {
		return failf(e, cmd, "%s is INVALID: %v", pos[0], err)
	}
	fmt.Fprintf(e.stdout, "%s is valid\n", pos[0])
	printManifest(e.stdout, m, id)
	return 0
}

func printManifest(w io.Writer, m ota.Manifest, id ota.KeyID) {
	fmt.Fprintf(w, "  model    %s\n  version  %s\n  arch     %s\n  binary   %s, sha256 %s\n  signed   %s by key %s\n  expires  %s\n",
		m.Model, m.Version, m.Arch(), mib(m.Size), m.SHA256, m.Created.UTC().Format(time.RFC3339), id, m.Expires.UTC().Format(time.RFC3339))
}

func otaPush(e *env, args []string) int {
	const cmd = "ota push"
	fs := flag.NewFlagSet("doorbellctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	bf := addBrokerFlags(fs)
	chunk := fs.Int("chunk-size", delivery.DefaultChunkSize, "bytes per MQTT message")
	wait := fs.Duration("wait", 5*time.Minute, "how long to wait for the new version's health confirmation after the transfer; 0: do not wait")
	var keys keyFlags
	fs.Var(&keys, "pubkey", "verify the bundle locally first against this key (file or base64; repeatable)")
	pos, ok := parse(fs, args)
	if !ok {
		return 2
	}
	if len(pos) != 1 {
		return usagef(e, cmd, "want one BUNDLE")
	}
	if *chunk < delivery.MinChunkSize || *chunk > delivery.MaxChunkSize {
		return usagef(e, cmd, "--chunk-size %d: want %d to %d", *chunk, delivery.MinChunkSize, delivery.MaxChunkSize)
	}
	opts, code := bf.options(e, cmd)
	if opts == nil {
		return code
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return failf(e, cmd, "%v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return failf(e, cmd, "%v", err)
	}
	m, id, size, err := ota.Inspect(f)
	if err != nil {
		return failf(e, cmd, "%s: %v", pos[0], err)
	}
	if size != fi.Size() {
		return failf(e, cmd, "%s: %d bytes, its header says %d: %v", pos[0], fi.Size(), size, ota.ErrMalformed)
	}
	if len(keys) > 0 {
		kr, err := keys.keyring()
		if err != nil {
			return usagef(e, cmd, "%v", err)
		}
		if _, _, err := ota.Verify(io.NewSectionReader(f, 0, size), kr, e.now()); err != nil {
			return failf(e, cmd, "%s is INVALID, not sending it: %v", pos[0], err)
		}
	}
	topics := bf.topics()
	fmt.Fprintf(e.stderr, "pushing %s %s for %s (%s, key %s) to %s via %s\n", m.Model, m.Version, m.Arch(), mib(size), id, topics.Base, opts.Servers[0])

	c, code := connect(e, cmd, opts.SetOrderMatters(false))
	if c == nil {
		return code
	}
	defer c.Disconnect(250)

	bar := newBar(e.stderr)
	res, err := delivery.Push(e.ctx, delivery.PushOptions{
		Client: c, Base: topics.Base, Bundle: f, Size: size, Version: m.Version, ChunkSize: *chunk, Wait: *wait,
		Progress: bar.update,
		Phase: func(p string) {
			switch p {
			case "offer":
				bar.note("offering " + m.Version + " on " + topics.Command(mqttapi.CmdUpdate))
			case "restart":
				bar.done()
				bar.note(fmt.Sprintf("installed; waiting up to %v for %s to restart and confirm its health", *wait, m.Version))
			}
		},
	})
	bar.done()
	switch {
	case err != nil:
		return failf(e, cmd, "%v", err)
	case res.Confirmed:
		fmt.Fprintf(e.stdout, "%s: %s installed, running and confirmed healthy\n", topics.Base, res.Version)
	default:
		fmt.Fprintf(e.stdout, "%s: %s installed; the doorbell restarts into it (not waiting for its health confirmation)\n", topics.Base, res.Version)
	}
	return 0
}

func otaStatus(e *env, args []string) int {
	const cmd = "ota status"
	fs := flag.NewFlagSet("doorbellctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	dir := fs.String("dir", install.DefaultDir, "the OTA directory")
	pos, ok := parse(fs, args)
	if !ok {
		return 2
	}
	if len(pos) > 0 {
		return usagef(e, cmd, "no arguments")
	}
	inst, err := install.New(install.Options{Dir: *dir})
	if err != nil {
		return usagef(e, cmd, "%v", err)
	}
	st, err := inst.Status()
	if err != nil {
		return failf(e, cmd, "%v", err)
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	fmt.Fprintln(e.stdout, string(b))
	return 0
}
