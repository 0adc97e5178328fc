package install_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/doorbelld/doorbelld/ota"
	"github.com/doorbelld/doorbelld/ota/install"
	"github.com/doorbelld/doorbelld/ota/otatest"
)

// The life of an update, as the daemon and the launcher see it.
func Example() {
	tmp, _ := os.MkdirTemp("", "ota-example")
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "ota")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// A process running slot's binary (the launcher and the daemon it
	// execs share one StartID: one start).
	process := func(slot, start string) *install.Installer {
		i, _ := install.New(install.Options{Dir: dir, Keys: otatest.Keyring(0), Logger: quiet,
			Executable: filepath.Join(dir, "slot-"+slot, install.BinaryName), StartID: func() string { return start }})
		return i
	}
	// The install script, once.
	process("a", "setup").Seed(bytes.NewReader(otatest.Binary("1.0.0", 100)), "1.0.0")

	// 1.0.0 runs and gets an offer.
	bundle := signed("1.1.0")
	res, err := process("a", "1").Install(context.Background(), bytes.NewReader(bundle), int64(len(bundle)), nil)
	fmt.Println(res.Slot, res.RestartRequired, err) // exit install.ExitRestart now

	// systemd restarts: the launcher's Boot, then the new daemon.
	boot, _ := process("a", "2").Boot()
	fmt.Println(boot.Slot, boot.Version, boot.Trial, boot.Boots)
	daemon := process(boot.Slot, "2")
	ok, err := daemon.Confirm() // broker connected, GPIO lines open
	fmt.Println(ok, err)
	st, _ := daemon.Status()
	fmt.Println(st.Phase, st.Outcome, st.Floor)

	// Replaying the 1.0.0 bundle, validly signed, is refused.
	old := signed("1.0.0")
	_, err = daemon.Install(context.Background(), bytes.NewReader(old), -1, nil)
	fmt.Println(err)
	// Output:
	// b true <nil>
	// b 1.1.0 true 1
	// true <nil>
	// idle confirmed 1.1.0
	// install: ota: version 1.0.0 is not newer than 1.1.0: downgrade refused
}

// signed returns a bundle of a test binary of version v.
func signed(v string) []byte {
	bin := otatest.Binary(v, 100)
	s, err := ota.Sign(otatest.Manifest(v, bin), otatest.Key(0))
	if err != nil {
		panic(err)
	}
	return append(s.Header(), bin...)
}
