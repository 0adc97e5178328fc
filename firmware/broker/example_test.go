package broker_test

import (
	"fmt"

	"github.com/doorbelld/doorbelld/firmware/broker"
)

func ExampleLoopback() {
	for _, addr := range []string{"127.0.0.1:1883", "[::1]:1883", "localhost:1883", ":1883", "0.0.0.0:1883", "192.168.1.10:1883"} {
		fmt.Println(addr, broker.Loopback(addr))
	}
	// Output:
	// 127.0.0.1:1883 true
	// [::1]:1883 true
	// localhost:1883 true
	// :1883 false
	// 0.0.0.0:1883 false
	// 192.168.1.10:1883 false
}

func ExampleParseRole() {
	r, err := broker.ParseRole("reader")
	fmt.Println(r, err)
	_, err = broker.ParseRole("admin")
	fmt.Println(err)
	// Output:
	// reader <nil>
	// broker: role "admin": want owner or reader
}

func ExampleNew() {
	b := broker.New(broker.Options{
		Listen:   "0.0.0.0:1883",
		Username: "doorbelld", Password: "device-secret", // the daemon's own login
		Accounts: []broker.Account{
			{Username: "homeassistant", Password: "ha-secret", Role: broker.RoleOwner},
			{Username: "wall-tablet", Password: "tablet-secret", Role: broker.RoleReader},
		},
	})
	_ = b // b.Start(), then b.Run(ctx); b.Stats() counts what it refused
	fmt.Println(broker.Account{Username: "wall-tablet", Password: "tablet-secret", Role: broker.RoleReader})
	// Output: wall-tablet (reader)
}
