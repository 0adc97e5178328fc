package delivery_test

import (
	"fmt"

	"github.com/doorbelld/doorbelld/firmware/mqttapi"
	"github.com/doorbelld/doorbelld/ota/delivery"
)

func ExampleParseOffer() {
	t := mqttapi.NewTopics("doorbell", "front") // mqtt.topic_prefix, device.id
	fmt.Println(t.Command(mqttapi.CmdUpdate), delivery.Filters(t.Base))

	o, err := delivery.ParseOffer([]byte(`{"version":"1.3.0","url":"http://nas.lan/doorbelld-1.3.0.ota"}`))
	fmt.Println(o.Version, o.URL, o.Announce(), err)

	o, err = delivery.ParseOffer([]byte(`{"version":"1.3.0","transfer":"k3j9x0","size":10234567,"chunk_size":65536}`))
	fmt.Println(o.Transfer, t.OTAChunkTopic(o.Transfer, 65536), err)

	_, err = delivery.ParseOffer([]byte(`{"version":"1.3.0","url":"ftp://nas.lan/x"}`))
	fmt.Println(err)
	// Output:
	// doorbell/front/cmd/update [doorbell/front/ota/+/chunk/+ doorbell/front/ota/+/abort]
	// 1.3.0 http://nas.lan/doorbelld-1.3.0.ota false <nil>
	// k3j9x0 doorbell/front/ota/k3j9x0/chunk/65536 <nil>
	// update offer: url "ftp://nas.lan/x": want http:// or https://: bad update offer
}

// A daemon with over-the-air updates off publishes these after every
// connect; a Device publishes StateMessages of its State.
func ExampleIdleMessages() {
	for _, m := range delivery.IdleMessages(mqttapi.NewTopics("doorbell", "front"), "v1.4.0") {
		fmt.Println(m.Topic, m.Retain, string(m.Payload))
	}
	// Output:
	// doorbell/front/update/status true {"installed_version":"1.4.0","latest_version":"1.4.0","in_progress":false,"update_percentage":null,"status":"idle","error":""}
	// doorbell/front/update/state true {"installed_version":"1.4.0","latest_version":"1.4.0","in_progress":false,"update_percentage":null}
}
