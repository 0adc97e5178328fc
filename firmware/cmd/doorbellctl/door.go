package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/doorbelld/doorbelld/firmware/account"
	"github.com/doorbelld/doorbelld/firmware/audit"
	"github.com/doorbelld/doorbelld/firmware/doorauth"
	"github.com/doorbelld/doorbelld/firmware/mqttapi"
)

var doorCommands = []subcommand{
	{"open", brokerArgs + " --owner-key FILE [--wait 10s]",
		"open the door: a request signed with the owner key (mqtt.owner_key_file on the doorbell); says whether the doorbell accepted it and why not", doorOpen},
	{"pin", "", "hash a PIN (4-12 digits) for gpio.door.pin_hash: Home Assistant's lock entity sends it", doorPIN},
}

func runDoor(e *env, args []string) int { return dispatch(e, "door", doorCommands, args) }

// doorOpen publishes a signed open request and waits for the doorbell's
// audit entry about it (its nonce), which says accepted or refused, why.
func doorOpen(e *env, args []string) int {
	const cmd = "door open"
	fs := flag.NewFlagSet("doorbellctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	bf := addBrokerFlags(fs)
	keyFile := fs.String("owner-key", "", "the owner key file (doorbellctl owner-key makes one; default $"+ownerKeyEnv+")")
	wait := fs.Duration("wait", 10*time.Second, "how long to wait for the doorbell's answer")
	pos, ok := parse(fs, args)
	if !ok {
		return 2
	}
	if len(pos) > 0 {
		return usagef(e, cmd, "want no arguments")
	}
	key, code := loadOwnerKey(e, cmd, *keyFile)
	if code != 0 {
		return code
	}
	if key == nil {
		return usagef(e, cmd, "want --owner-key FILE (or $%s): the doorbell opens only for a request signed with it", ownerKeyEnv)
	}
	opts, code := bf.options(e, cmd)
	if opts == nil {
		return code
	}
	c, code := connect(e, cmd, opts)
	if c == nil {
		return code
	}
	defer c.Disconnect(250)
	tp := bf.topics()
	var nb [16]byte
	rand.Read(nb[:])
	nonce := hex.EncodeToString(nb[:])
	answers := make(chan audit.Entry, 8)
	tok := c.Subscribe(tp.Audit, 1, func(_ paho.Client, m paho.Message) {
		var a audit.Entry
		if json.Unmarshal(m.Payload(), &a) == nil && a.Action == audit.ActionDoorOpen && a.Object == nonce {
			select {
			case answers <- a:
			default:
			}
		}
	})
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return failf(e, cmd, "subscribe to %s: %v", tp.Audit, tok.Error())
	}
	payload := doorauth.Sign(key, *bf.device, e.now(), nonce)
	if tok := c.Publish(tp.Command(mqttapi.CmdDoor), 1, false, payload); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return failf(e, cmd, "publish: %v", tok.Error())
	}
	select {
	case a := <-answers:
		if a.Outcome != audit.OK {
			return failf(e, cmd, "refused by the doorbell: %s", a.Reason)
		}
		fmt.Fprintf(e.stdout, "door opened (%s)\n", tp.Base)
		return 0
	case <-time.After(*wait):
		return failf(e, cmd, "no answer from %s within %v (is it online, with gpio.door.line and this owner key?)", tp.Base, *wait)
	case <-e.ctx.Done():
		return failf(e, cmd, "interrupted")
	}
}

var pinRE = regexp.MustCompile(`^[0-9]{4,12}$`)

// doorPIN hashes a PIN for gpio.door.pin_hash.
func doorPIN(e *env, args []string) int {
	const cmd = "door pin"
	fs := flag.NewFlagSet("doorbellctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: doorbellctl door pin\n\n"+
			"Asks for a PIN of 4 to 12 digits twice (not shown), or reads one line from stdin, and prints the\n"+
			"gpio.door.pin_hash to paste into the doorbell's config. Home Assistant's lock entity asks for it.\n")
	}
	pos, ok := parse(fs, args)
	if !ok {
		return 2
	}
	if len(pos) > 0 {
		return usagef(e, cmd, "want no arguments")
	}
	pin, code := readPIN(e, cmd)
	if code != 0 {
		return code
	}
	hash, err := account.HashPassword(pin)
	if err != nil {
		return failf(e, cmd, "%v", err)
	}
	fmt.Fprintf(e.stderr, "add this to the doorbell's config, under gpio: door:\n")
	fmt.Fprintf(e.stdout, "    pin_hash: %q\n", hash)
	return 0
}

// readPIN reads the PIN: twice without echo on a terminal, else one line
// of stdin.
func readPIN(e *env, cmd string) (string, int) {
	check := func(p string) int {
		if !pinRE.MatchString(p) {
			return failf(e, cmd, "want 4 to 12 digits (Home Assistant's keypad); nothing printed")
		}
		return 0
	}
	if f, ok := e.stdin.(*os.File); ok && isTerminal(f) {
		first, err := readHidden(e, f, "PIN: ")
		if err != nil {
			return "", failf(e, cmd, "read PIN: %v", err)
		}
		if code := check(first); code != 0 {
			return "", code
		}
		again, err := readHidden(e, f, "again: ")
		if err != nil {
			return "", failf(e, cmd, "read PIN: %v", err)
		}
		if again != first {
			return "", failf(e, cmd, "the two PINs differ; nothing printed")
		}
		return first, 0
	}
	line, err := bufio.NewReader(io.LimitReader(e.stdin, 64)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", failf(e, cmd, "read PIN from stdin: %v", err)
	}
	pin := strings.TrimRight(line, "\r\n")
	return pin, check(pin)
}
