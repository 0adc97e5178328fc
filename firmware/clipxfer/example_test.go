package clipxfer_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/doorbelld/doorbelld/firmware/clipxfer"
	"github.com/doorbelld/doorbelld/firmware/ownerkey"
)

func ExampleParseManifest() {
	base := "doorbell/front" // <mqtt.topic_prefix>/<device.id>
	fmt.Println(clipxfer.ManifestTopic(base, "c1"), clipxfer.ChunkTopic(base, "c1", 0), clipxfer.WantTopic(base, "c1"))

	m, err := clipxfer.ParseManifest("c1", []byte(`{"format":1,"id":"c1","event_ids":["e1"],"start":"2026-11-26T19:38:14.1Z",
		"duration_ms":15000,"codec":"mjpeg","size":300000,"sha256":"`+
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"+`","chunk_size":262144,"chunks":2,"crc32c":"AAAAAAAAAAA="}`))
	fmt.Println(m.ID, m.EventIDs, m.Duration(), m.Size, m.Chunks, m.ChunkLen(0), m.ChunkLen(1), err)
	fmt.Println(m.FileBase() + ".mp4")

	_, err = clipxfer.ParseWant([]byte(`{"chunks":[[2,1]]}`))
	fmt.Println(err)
	// Output:
	// doorbell/front/clips/c1/manifest doorbell/front/clips/c1/chunk/0 doorbell/front/clips/c1/want
	// c1 [e1] 15s 300000 2 262144 37856 <nil>
	// 20261126T193814.100Z_c1.mp4
	// clip want: range [2 1]: want [first, last] with 0 <= first <= last < 65536: bad clip transfer message
}

func ExampleSignDone() {
	// The owner key both the device and doorbellctl clips pull load
	// (ownerkey.Load); a fixed one here.
	key, _ := ownerkey.Parse([]byte("# example\n" + strings.Repeat("0123456789abcdef", 4) + "\n"))
	sum := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

	d := clipxfer.SignDone(key, "c1", sum)
	b, _ := json.Marshal(d)
	fmt.Println(clipxfer.DoneTopic("doorbell/front", "c1"), len(b), len(d.MAC))

	// The device: the owner's done verifies; one anyone could make from
	// the public manifest does not.
	got, _ := clipxfer.ParseDone(b)
	forged, _ := clipxfer.ParseDone([]byte(`{"sha256":"` + sum + `"}`))
	fmt.Println(clipxfer.VerifyDone(key, "c1", got), clipxfer.VerifyDone(key, "c2", got), clipxfer.VerifyDone(key, "c1", forged))
	// Output:
	// doorbell/front/clips/c1/done 150 64
	// true false false
}
