package ownerkey_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/doorbelld/doorbelld/firmware/ownerkey"
)

func Example() {
	dir, _ := os.MkdirTemp("", "ownerkey")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "owner.key")

	// doorbellctl clips owner-key writes a new key, mode 0600.
	os.WriteFile(path, ownerkey.Generate().Marshal(), 0o600)

	// The device and the receiver load the same file.
	device, err := ownerkey.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	receiver, _ := ownerkey.Load(path)
	mac := receiver.Sign("clipxfer-done", "c1", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	fmt.Println(len(mac), ownerkey.Loose(path))
	fmt.Println(device.Verify(mac, "clipxfer-done", "c1", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"))
	fmt.Println(device.Verify(mac, "clipxfer-done", "c2", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"))

	_, err = ownerkey.Parse([]byte("# a key too short\n0011\n"))
	fmt.Println(err)
	// Output:
	// 64 false
	// true
	// false
	// line 2: a key of 2 bytes, want at least 32 (64 hex digits): bad owner key
}
