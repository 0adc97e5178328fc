package command_test

import (
	"errors"
	"fmt"

	"github.com/doorbelld/doorbelld/firmware/command"
)

func ExampleParse() {
	base := "doorbell/front" // <mqtt.topic_prefix>/<device.id>
	fmt.Println(command.Filter(base))

	c, err := command.Parse("doorbell/front/cmd/privacy", []byte("ON"), false, base)
	fmt.Println(c.Kind, c.On, err)

	_, err = command.Parse("doorbell/front/cmd/restart", []byte("PRESS"), true, base)
	fmt.Println(errors.Is(err, command.ErrRetained))

	_, err = command.Parse("doorbell/front/cmd/chime", []byte("loud"), false, base)
	fmt.Println(err)
	// Output:
	// doorbell/front/cmd/+
	// privacy true <nil>
	// true
	// command: doorbell/front/cmd/chime: payload "loud": want ON or OFF: malformed command
}
