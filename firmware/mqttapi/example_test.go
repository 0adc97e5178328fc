package mqttapi_test

import (
	"fmt"

	"github.com/doorbelld/doorbelld/firmware/mqttapi"
)

func ExampleNewTopics() {
	t := mqttapi.NewTopics("doorbell", "front") // mqtt.topic_prefix, device.id
	fmt.Println(t.Event, t.UpdateState, t.UpdateStatus)
	fmt.Println(t.Command(mqttapi.CmdPrivacy), t.Commands)
	fmt.Println(t.ClipChunkTopic("d4k9s3", 0), t.OTAAckTopic("k3j9x0"))
	fmt.Println(mqttapi.DeviceDiscoveryTopic(mqttapi.DefaultDiscoveryPrefix, "front"), mqttapi.DefaultBirthTopic)
	// Output:
	// doorbell/front/event doorbell/front/update/state doorbell/front/update/status
	// doorbell/front/cmd/privacy doorbell/front/cmd/+
	// doorbell/front/clips/d4k9s3/chunk/0 doorbell/front/ota/k3j9x0/ack
	// homeassistant/device/front/config homeassistant/status
}

func ExampleTopics_ParseClip() {
	t := mqttapi.NewTopics("doorbell", "front")
	fmt.Println(t.ParseClip("doorbell/front/clips/d4k9s3/chunk/17"))
	fmt.Println(t.ParseClip("doorbell/front/clips/d4k9s3/want"))
	fmt.Println(t.ParseClip("doorbell/front/event"))
	// Output:
	// d4k9s3 chunk 17 true
	// d4k9s3 want  true
	//    false
}
