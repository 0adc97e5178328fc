package hass_test

import (
	"fmt"

	"github.com/doorbelld/doorbelld/firmware/command"
	"github.com/doorbelld/doorbelld/firmware/hass"
)

func ExampleMessages() {
	o := hass.Options{DeviceID: "front", DeviceName: "Front door", Version: "1.4.0", NoChime: true}
	for _, m := range hass.Messages(o) {
		fmt.Println(m.Topic, m.Retain, len(m.Payload) > 0)
	}
	t := hass.Topics(o)
	fmt.Println(t.Motion, string(hass.OnOff(true)))
	fmt.Println(t.Command(command.Privacy))
	fmt.Println(hass.IsBirth("homeassistant/status", []byte("online"), o))

	o.Mode = hass.ModeSingle
	fmt.Println(len(hass.Messages(o)), hass.Messages(o)[0].Topic)
	// Output:
	// homeassistant/device/front/config true true
	// doorbell/front/motion ON
	// doorbell/front/cmd/privacy
	// true
	// 21 homeassistant/event/front/doorbell/config
}
