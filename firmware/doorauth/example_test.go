package doorauth_test

import (
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/doorbelld/doorbelld/firmware/account"
	"github.com/doorbelld/doorbelld/firmware/doorauth"
	"github.com/doorbelld/doorbelld/firmware/ownerkey"
)

func Example() {
	key := ownerkey.Generate()              // the owner key file, on the device and with doorbellctl
	hash, _ := account.HashPassword("4711") // door.pin_hash in the config
	clk := clockwork.NewFakeClockAt(time.Date(2025, 12, 6, 10, 0, 0, 0, time.UTC))
	a := doorauth.New(doorauth.Options{DeviceID: "front", Key: key, PINHash: hash, Clock: clk})

	// Home Assistant's lock, command_template {"action":"open","code":"{{ code }}"}.
	_, v := a.Check([]byte(`{"action":"open","code":"4711"}`), false)
	fmt.Println(v.OK, v.Method)
	_, v = a.Check([]byte(`{"action":"open","code":"4712"}`), false)
	fmt.Println(v.OK, v.Reason)

	// doorbellctl door open.
	p := doorauth.Sign(key, "front", clk.Now(), doorauth.NewNonce())
	req, v := a.Check(p, false)
	fmt.Println(v.OK, v.Method, req.Device)
	_, v = a.Check(p, false) // the same message again, seen on the broker
	fmt.Println(v.OK, v.Reason)

	_, v = a.Check([]byte(`{"action":"open","code":"4711"}`), true)
	fmt.Println(v.OK, v.Reason)
	_, v = a.Check([]byte(`{"action":"open","code":"4711","user":"me"}`), false)
	fmt.Println(v.OK, v.Class)
	// Output:
	// true pin
	// false wrong pin
	// true signed front
	// false replayed nonce
	// false retained
	// false malformed
}
