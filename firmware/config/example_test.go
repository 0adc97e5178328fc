package config_test

import (
	"fmt"

	"github.com/doorbelld/doorbelld/firmware/config"
)

func ExampleParse() {
	file := []byte(`
device:
  id: front
gpio:
  button:
    line: GPIO17
    debounce: 20ms
`)
	c, err := config.Parse(file, config.Default())
	if err == nil {
		err = c.Validate(false)
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.GPIO.Button.Line, c.GPIO.Button.Debounce, c.MQTT.ClientID, c.Capture.RingBytes)
	// Output: GPIO17 20ms doorbelld-front 64MiB
}

func ExampleConfig_Validate() {
	file := []byte(`
gpio:
  buton:
    line: GPIO17
  button:
    debounce: banana
camera:
  width: 641
`)
	c, err := config.Parse(file, config.Default())
	if err != nil {
		fmt.Println(err)
	}
	if err := c.Validate(false); err != nil {
		fmt.Println(err)
	}
	// Output:
	// line 3: gpio.buton: unknown key (known keys under gpio: button, pir, chime, led, door)
	// gpio.button.line: "" is not allowed: want a line name such as GPIO17, or gpiochipN:offset
	// gpio.button.debounce: "banana" is not allowed: want a Go duration from 0s to 5s, such as 50ms
	// camera.width: "641" is not allowed: want an even whole number from 16 to 4096, such as 640
}

func ExampleParseLine() {
	for _, s := range []string{"GPIO17", "gpiochip0:17", "GPIO 17"} {
		chip, offset, name, err := config.ParseLine(s)
		fmt.Printf("%q %d %q %v\n", chip, offset, name, err)
	}
	// Output:
	// "" -1 "GPIO17" <nil>
	// "gpiochip0" 17 "" <nil>
	// "" -1 "" config: gpio line "GPIO 17": want a line name such as GPIO17, or gpiochipN:offset
}

func ExampleMQTT_BrokerURL() {
	fmt.Println(config.MQTT{Broker: "mqtts://broker.lan:8883"}.BrokerURL())
	// Output: ssl://broker.lan:8883
}

func ExampleLoopback() {
	for _, addr := range []string{"127.0.0.1:1883", "localhost:8080", "[::1]:1883", ":1883", "0.0.0.0:1883", "doorbell.lan:1883"} {
		fmt.Println(addr, config.Loopback(addr))
	}
	// Output:
	// 127.0.0.1:1883 true
	// localhost:8080 true
	// [::1]:1883 true
	// :1883 false
	// 0.0.0.0:1883 false
	// doorbell.lan:1883 false
}
