package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/renameio/v2"

	"github.com/doorbelld/doorbelld/capture/seal"
	"github.com/doorbelld/doorbelld/firmware/clipxfer"
)

var clipsCommands = []subcommand{
	{"pull", brokerArgs + " --out DIR [--clip ID...] [--follow] [--owner-key FILE] [--identity FILE]",
		"fetch the doorbell's clips over MQTT into DIR, verified by sha256; an interrupted pull resumes where it stopped; " +
			"encrypted clips (privacy.recipients) arrive as .mp4.age and --identity decrypts each to .mp4", clipsPull},
	{"list", brokerArgs + " [--out DIR]",
		"list the clips the doorbell offers (and which are already in DIR)", clipsList},
}

func runClips(e *env, args []string) int { return dispatch(e, "clips", clipsCommands, args) }

// clipFlags are the flags every clips subcommand takes.
type clipFlags struct {
	brokerFlags
	settle *time.Duration
}

func addClipFlags(fs *flag.FlagSet) clipFlags {
	return clipFlags{
		brokerFlags: addBrokerFlags(fs),
		settle:      fs.Duration("wait", clipxfer.DefaultSettle, "how long the broker may take to hand over the offered clips"),
	}
}

// connect connects to the broker; onReconnect runs after every reconnect.
func (f clipFlags) connect(e *env, cmd string, onReconnect func()) (paho.Client, int) {
	opts, code := f.options(e, cmd)
	if opts == nil {
		return nil, code
	}
	var connected atomic.Bool
	opts.SetWriteTimeout(30 * time.Second).SetOnConnectHandler(func(paho.Client) {
		if connected.Swap(true) && onReconnect != nil {
			onReconnect()
		}
	})
	return connect(e, cmd, opts)
}

func clipLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// clipLine describes a clip in one line.
func clipLine(m clipxfer.Manifest) string {
	ev := ""
	if len(m.EventIDs) > 0 {
		ev = "  events " + strings.Join(m.EventIDs, ",")
	}
	if m.Encryption != "" {
		ev += "  encrypted (" + m.Encryption + ")"
	}
	return fmt.Sprintf("%s  %s  %5.1fs  %s%s", m.ID, m.Start.Local().Format("2006-01-02 15:04:05"), m.Duration().Seconds(), mib(m.Size), ev)
}

func clipsPull(e *env, args []string) int {
	const cmd = "clips pull"
	fs := flag.NewFlagSet("doorbellctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	cf := addClipFlags(fs)
	out := fs.String("out", "", "directory for the clips: <start>_<id>.mp4 and .json; partial downloads are hidden files beside them")
	follow := fs.Bool("follow", false, "keep running and pull each new clip as the doorbell stores it (until Ctrl-C)")
	window := fs.Int("window", clipxfer.DefaultReceiveWindow, "chunks asked for ahead (bounds what the broker queues for this receiver)")
	keyFile := fs.String("owner-key", "", "the owner key file (doorbellctl owner-key makes one; default $"+ownerKeyEnv+"): signs each clip's done, "+
		"so that a doorbell requiring it (storage.mode ram) frees the clip")
	identity := fs.String("identity", "", "an age identity file (age-keygen's key.txt) or OpenSSH ed25519 key whose public key is in "+
		"the doorbell's privacy.recipients: each encrypted clip is also decrypted to <start>_<id>.mp4")
	var ids keyFlags
	fs.Var(&ids, "clip", "pull only this clip id (repeatable)")
	pos, ok := parse(fs, args)
	if !ok {
		return 2
	}
	if *out == "" || len(pos) > 0 {
		return usagef(e, cmd, "want --out DIR and no arguments")
	}
	if *window < 1 || *window > 1024 {
		return usagef(e, cmd, "--window %d: want 1 to 1024", *window)
	}
	for _, id := range ids {
		if !clipxfer.ValidID(id) {
			return usagef(e, cmd, "--clip %q: want 1-64 of A-Z a-z 0-9 -", id)
		}
	}
	key, code := loadOwnerKey(e, cmd, *keyFile)
	if code != 0 {
		return code
	}
	var opener *seal.Opener
	if *identity != "" {
		var err error
		if opener, err = seal.LoadIdentities(*identity); err != nil {
			return usagef(e, cmd, "--identity: %v", err)
		}
	}
	var got, had, failed int
	var hinted bool
	// unseal decrypts a pulled sealed clip beside it (once).
	unseal := func(p clipxfer.Progress) {
		if p.Clip.Encryption == "" {
			return
		}
		if opener == nil {
			if !hinted {
				hinted = true
				fmt.Fprintf(e.stderr, "  the clips are encrypted for the doorbell's owner (privacy.recipients): "+
					"pass --identity key.txt, or run age -d -i key.txt FILE.mp4.age > FILE.mp4\n")
			}
			return
		}
		plain := strings.TrimSuffix(p.Path, seal.Ext)
		if _, err := os.Stat(plain); err == nil {
			return
		}
		if err := decryptFile(opener, p.Path, plain); err != nil {
			failed++
			fmt.Fprintf(e.stderr, "  FAILED to decrypt %s: %v\n", p.Path, err)
			return
		}
		fmt.Fprintf(e.stdout, "%s  decrypted\n", plain)
	}

	var rcv *clipxfer.Receiver
	var ready atomic.Bool
	c, code := cf.connect(e, cmd, func() {
		if ready.Load() {
			rcv.Resubscribe()
		}
	})
	if c == nil {
		return code
	}
	defer c.Disconnect(250)
	base := cf.topics().Base
	fmt.Fprintf(e.stderr, "pulling the clips of %s into %s\n", base, *out)
	if key != nil {
		fmt.Fprintf(e.stderr, "confirming each clip signed with %s\n", key)
	}

	bar := newBar(e.stderr)
	rcv = clipxfer.NewReceiver(clipxfer.ReceiverOptions{
		Client: c, Base: base, Dir: *out, IDs: ids, Follow: *follow, Settle: *cf.settle, Window: *window,
		OwnerKey: key, Logger: clipLogger(e.stderr),
		Progress: func(p clipxfer.Progress) {
			switch p.Phase {
			case clipxfer.PhaseStart:
				bar = newBar(e.stderr)
				bar.note(clipLine(p.Clip))
				if p.Resumed > 0 {
					bar.note(fmt.Sprintf("  resuming: %s of %s already here", mib(p.Resumed), mib(p.Clip.Size)))
				}
				bar.update(p.Have, p.Clip.Size)
			case clipxfer.PhaseReceiving:
				bar.update(p.Have, p.Clip.Size)
			case clipxfer.PhaseDone:
				got++
				bar.update(p.Clip.Size, p.Clip.Size)
				bar.done()
				fmt.Fprintf(e.stdout, "%s  sha256 ok\n", p.Path)
				unseal(p)
			case clipxfer.PhaseHave:
				had++
				fmt.Fprintf(e.stdout, "%s  already here\n", p.Path)
				unseal(p)
			case clipxfer.PhaseFailed:
				failed++
				bar.done()
				fmt.Fprintf(e.stderr, "  FAILED %s: %v\n", p.Clip.ID, p.Err)
			}
		},
	})
	ready.Store(true)
	err := rcv.Run(e.ctx)
	bar.done()
	summary := fmt.Sprintf("%d clips pulled, %d already here", got, had)
	if failed > 0 {
		summary += fmt.Sprintf(", %d failed", failed)
	}
	switch {
	case errors.Is(err, context.Canceled) && *follow:
		fmt.Fprintln(e.stderr, summary)
		return 0
	case errors.Is(err, context.Canceled):
		return failf(e, cmd, "interrupted (%s); run it again to resume", summary)
	case err != nil:
		return failf(e, cmd, "%v\n%s", err, summary)
	case failed > 0:
		return failf(e, cmd, "%s", summary)
	}
	fmt.Fprintln(e.stderr, summary)
	return 0
}

// decryptFile writes the plaintext of sealed file in to out, atomically:
// a wrong key or a damaged file leaves no out behind.
func decryptFile(o *seal.Opener, in, out string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := o.Open(f)
	if err != nil {
		return err
	}
	pf, err := renameio.NewPendingFile(out, renameio.WithPermissions(0o644))
	if err != nil {
		return err
	}
	defer pf.Cleanup()
	if _, err := io.Copy(pf, r); err != nil {
		return fmt.Errorf("decrypt %s: %w", in, err)
	}
	return pf.CloseAtomicallyReplace()
}

func clipsList(e *env, args []string) int {
	const cmd = "clips list"
	fs := flag.NewFlagSet("doorbellctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	cf := addClipFlags(fs)
	out := fs.String("out", "", "mark the clips already in this directory")
	pos, ok := parse(fs, args)
	if !ok {
		return 2
	}
	if len(pos) > 0 {
		return usagef(e, cmd, "want no arguments")
	}
	c, code := cf.connect(e, cmd, nil)
	if c == nil {
		return code
	}
	defer c.Disconnect(250)
	ms, err := clipxfer.Offered(e.ctx, c, cf.topics().Base, *cf.settle)
	if err != nil {
		return failf(e, cmd, "%v", err)
	}
	var total int64
	for _, m := range ms {
		mark := ""
		if *out != "" {
			if fi, err := os.Stat(clipxfer.Path(*out, m)); err == nil && fi.Size() == m.Size {
				mark = "  (here)"
			}
		}
		total += m.Size
		fmt.Fprintln(e.stdout, clipLine(m)+mark)
	}
	fmt.Fprintf(e.stderr, "%d clips offered by %s, %s\n", len(ms), cf.topics().Base, mib(total))
	return 0
}
