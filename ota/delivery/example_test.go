package delivery_test

import (
	"fmt"

	"github.com/doorbelld/doorbelld/ota/delivery"
)

func ExampleParseOffer() {
	base := "doorbell/front" // <mqtt.topic_prefix>/<device.id>
	fmt.Println(delivery.CommandTopic(base), delivery.StateTopic(base), delivery.Filters(base))

	o, err := delivery.ParseOffer([]byte(`{"version":"1.3.0","url":"http://nas.lan/doorbelld-1.3.0.ota"}`))
	fmt.Println(o.Version, o.URL, o.Announce(), err)

	o, err = delivery.ParseOffer([]byte(`{"version":"1.3.0","transfer":"k3j9x0","size":10234567,"chunk_size":65536}`))
	fmt.Println(o.Transfer, delivery.ChunkTopic(base, o.Transfer, 65536), err)

	_, err = delivery.ParseOffer([]byte(`{"version":"1.3.0","url":"ftp://nas.lan/x"}`))
	fmt.Println(err)
	// Output:
	// doorbell/front/cmd/update doorbell/front/update/state [doorbell/front/ota/+/chunk/+ doorbell/front/ota/+/abort]
	// 1.3.0 http://nas.lan/doorbelld-1.3.0.ota false <nil>
	// k3j9x0 doorbell/front/ota/k3j9x0/chunk/65536 <nil>
	// update offer: url "ftp://nas.lan/x": want http:// or https://: bad update offer
}
