package outbox

import (
	"bytes"
	"testing"

	"github.com/doorbelld/doorbelld/firmware/event"
)

// encodeAll is the log body for records.
func encodeAll(rs []record) []byte {
	var b []byte
	for _, r := range rs {
		if r.op == opAdd {
			b = appendAdd(b, r.id, r.typ, r.at, r.seq, r.payload)
		} else {
			b = appendDel(b, r.op, r.id)
		}
	}
	return b
}

func FuzzScan(f *testing.F) {
	_, p := ev(1, event.Ring)
	valid := encodeAll([]record{
		{op: opAdd, id: "ev0001", typ: event.Ring, at: 1, seq: 2, payload: p},
		{op: opAck, id: "ev0001"},
		{op: opAdd, id: "x", typ: "", at: -1, seq: 0, payload: []byte("{}")},
		{op: opDrop, id: "x"},
	})
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(append(bytes.Clone(valid[:20]), valid[40:]...))
	f.Add([]byte{marker0, marker1, 2, 0, 0, 0, 0, 0, 0, 0, opAck, 0})
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		res := scan(data)
		if res.end > len(data) || res.torn != len(data)-res.end || res.skipped < 0 || res.skipped > res.end {
			t.Fatalf("end %d torn %d skipped %d of %d bytes", res.end, res.torn, res.skipped, len(data))
		}
		// What was found encodes back to records that scan finds again,
		// exactly and without damage.
		enc := encodeAll(res.records)
		again := scan(enc)
		if again.end != len(enc) || again.skipped != 0 || again.torn != 0 || len(again.records) != len(res.records) {
			t.Fatalf("re-encoded records: %+v", again)
		}
		for i, r := range again.records {
			w := res.records[i]
			if r.op != w.op || r.id != w.id || r.typ != w.typ || r.at != w.at || r.seq != w.seq || !bytes.Equal(r.payload, w.payload) {
				t.Fatalf("record %d: %+v != %+v", i, r, w)
			}
		}
		// Damage in front of intact records never hides them.
		tail := scan(append(bytes.Clone(data), valid...))
		if len(tail.records) < len(res.records)+4 {
			t.Fatalf("%d records before a valid log, %d after appending it", len(res.records), len(tail.records))
		}
	})
}
