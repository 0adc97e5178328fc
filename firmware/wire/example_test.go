package wire_test

import (
	"fmt"
	"strings"

	"github.com/doorbelld/doorbelld/firmware/wire"
)

func ExampleQuote() {
	fmt.Println(wire.Quote("ON\n"))
	fmt.Println(wire.Quote(strings.Repeat("Tür ", 30)))
	// Output:
	// "ON\n"
	// "Tür Tür Tür Tür Tür Tür Tür Tür Tür Tür Tür Tür Tür Tür Tür Tü"… (150 bytes)
}

func ExampleDecodeStrict() {
	var want struct {
		Chunks [][2]int `json:"chunks"`
	}
	fmt.Println(wire.DecodeStrict([]byte(`{"chunks":[[0,3]]}`), &want), want.Chunks)
	fmt.Println(wire.DecodeStrict([]byte(`{"chunks":[[0,3]],"all":true}`), &want))
	fmt.Println(wire.DecodeStrict([]byte(`{"chunks":[]} {}`), &want))
	// Output:
	// <nil> [[0 3]]
	// invalid JSON ("json: unknown field \"all\"")
	// data after the JSON object
}
