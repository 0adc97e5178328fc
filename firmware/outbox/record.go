package outbox

import (
	"encoding/binary"
	"errors"
	"hash/crc32"

	"github.com/doorbelld/doorbelld/firmware/event"
)

// On-disk format of the log file (little endian throughout):
//
//	file   = fileMagic record*
//	record = 0xDB 0x0B  len:u32  crc:u32  body[len]
//	body   = opAdd  idLen:u8 id  typeLen:u8 type  at:i64 (Unix ns)  seq:u64  payload
//	       | opAck  idLen:u8 id
//	       | opDrop idLen:u8 id
//
// crc is CRC-32C (Castagnoli) of the four len bytes followed by the body.
// The two marker bytes let the scanner find the next record after damage in
// the middle of the file; they never occur in JSON (0xDB 0x0B is not
// UTF-8). A record is only ever appended, so a power cut can tear at most
// the records written since the last fsync, and those are at the end.
const (
	fileMagic       = "DBOXLOG1"
	marker0         = 0xDB
	marker1         = 0x0B
	recHeader       = 10 // marker, len, crc
	maxBody         = 16 << 20
	addFixed        = 1 + 1 + 1 + 8 + 8 // op, idLen, typeLen, at, seq
	maxIDLen        = 255
	maxTypeLen      = 255
	headerLen       = int64(len(fileMagic))
	opAdd      byte = 1
	opAck      byte = 2 // published and acknowledged
	opDrop     byte = 3 // evicted to make room
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// record is one decoded log record. For opAdd, payload aliases the buffer
// it was decoded from.
type record struct {
	op      byte
	id      string
	typ     event.Type
	at      int64
	seq     uint64
	payload []byte
}

// addSize is the encoded size of an add record.
func addSize(id string, typ event.Type, payload []byte) int64 {
	return int64(recHeader + addFixed + len(id) + len(typ) + len(payload))
}

// appendAdd appends an add record to b.
func appendAdd(b []byte, id string, typ event.Type, at int64, seq uint64, payload []byte) []byte {
	start := len(b)
	b = append(b, marker0, marker1, 0, 0, 0, 0, 0, 0, 0, 0)
	b = append(b, opAdd, byte(len(id)))
	b = append(b, id...)
	b = append(b, byte(len(typ)))
	b = append(b, typ...)
	b = binary.LittleEndian.AppendUint64(b, uint64(at))
	b = binary.LittleEndian.AppendUint64(b, seq)
	b = append(b, payload...)
	return seal(b, start)
}

// appendDel appends an ack or drop record to b.
func appendDel(b []byte, op byte, id string) []byte {
	start := len(b)
	b = append(b, marker0, marker1, 0, 0, 0, 0, 0, 0, 0, 0)
	b = append(b, op, byte(len(id)))
	b = append(b, id...)
	return seal(b, start)
}

// seal fills in the length and CRC of the record starting at start.
func seal(b []byte, start int) []byte {
	body := b[start+recHeader:]
	binary.LittleEndian.PutUint32(b[start+2:], uint32(len(body)))
	crc := crc32.Update(0, crcTable, b[start+2:start+6])
	crc = crc32.Update(crc, crcTable, body)
	binary.LittleEndian.PutUint32(b[start+6:], crc)
	return b
}

var errBadRecord = errors.New("bad record")

// parseAt decodes the record at data[off:]. It returns the record and its
// encoded length, or errBadRecord when there is no complete, intact record
// there.
func parseAt(data []byte, off int) (record, int, error) {
	if len(data)-off < recHeader || data[off] != marker0 || data[off+1] != marker1 {
		return record{}, 0, errBadRecord
	}
	n := int(binary.LittleEndian.Uint32(data[off+2:]))
	if n < 2 || n > maxBody || n > len(data)-off-recHeader {
		return record{}, 0, errBadRecord
	}
	body := data[off+recHeader : off+recHeader+n]
	crc := crc32.Update(0, crcTable, data[off+2:off+6])
	if crc32.Update(crc, crcTable, body) != binary.LittleEndian.Uint32(data[off+6:]) {
		return record{}, 0, errBadRecord
	}
	r, err := decodeBody(body)
	if err != nil {
		return record{}, 0, err
	}
	return r, recHeader + n, nil
}

func decodeBody(body []byte) (record, error) {
	r := record{op: body[0]}
	idLen := int(body[1])
	rest := body[2:]
	if idLen == 0 || idLen > len(rest) {
		return record{}, errBadRecord
	}
	r.id, rest = string(rest[:idLen]), rest[idLen:]
	switch r.op {
	case opAck, opDrop:
		if len(rest) != 0 {
			return record{}, errBadRecord
		}
		return r, nil
	case opAdd:
	default:
		return record{}, errBadRecord
	}
	if len(rest) < 1 {
		return record{}, errBadRecord
	}
	tl := int(rest[0])
	rest = rest[1:]
	if tl > len(rest) || len(rest)-tl < 16 {
		return record{}, errBadRecord
	}
	r.typ, rest = event.Type(rest[:tl]), rest[tl:]
	r.at = int64(binary.LittleEndian.Uint64(rest))
	r.seq = binary.LittleEndian.Uint64(rest[8:])
	r.payload = rest[16:]
	if len(r.payload) == 0 {
		return record{}, errBadRecord
	}
	return r, nil
}

// scanResult is what scan found in a log file's records.
type scanResult struct {
	records []record
	end     int // offset just past the last intact record
	skipped int // damaged bytes between intact records
	torn    int // bytes after the last intact record
}

// scan decodes every intact record in data (the file after its magic).
// Damage in the middle is skipped by searching for the next intact record;
// whatever follows the last intact record is torn. scan never fails.
func scan(data []byte) scanResult {
	var res scanResult
	off := 0
	for off < len(data) {
		r, n, err := parseAt(data, off)
		if err == nil {
			res.records = append(res.records, r)
			off += n
			res.end = off
			continue
		}
		next := resync(data, off+1)
		if next < 0 {
			break
		}
		res.skipped += next - off
		off = next
	}
	res.torn = len(data) - res.end
	return res
}

// resync returns the offset of the next intact record at or after from,
// or -1.
func resync(data []byte, from int) int {
	for i := from; i+recHeader <= len(data); i++ {
		if data[i] != marker0 || data[i+1] != marker1 {
			continue
		}
		if _, _, err := parseAt(data, i); err == nil {
			return i
		}
	}
	return -1
}
