// Package mask burns privacy masks into camera frames before they enter
// the RAM ring, so snapshots, clips, MQTT, RTSP, MJPEG and the web app can
// only ever see masked pixels.
//
// Data flow:
//
//	config privacy.masks ── []Shape (normalised polygons; Rect is a shorthand)
//	  │  Validate: ≥ 3 points, coordinates in [0,1], no self-intersection, area > 0
//	  ▼
//	New ──────────── *Masker (a capture.Filter)
//	  │
//	Source ─► Camera.push ─► Masker.Apply(frame, format) ─► Ring.Push ─► readers
//	                            │  plan per frame size, cached: covered pixels
//	                            │  (rows of spans) and touched blocks/MCUs
//	                            ├─ YUYV: fill covered pixels in place
//	                            ├─ MJPEG, baseline Huffman: DCT-domain rewrite
//	                            │    header ─► copy (APPn thumbnails dropped)
//	                            │    scan ──► per restart interval:
//	                            │      untouched ─► copy bytes as they are
//	                            │      touched ───► Huffman-walk the blocks:
//	                            │        (64-bit bit buffer; AC codes skipped
//	                            │         ~2 at a time by a 12-bit run table;
//	                            │         only DC differences get values)
//	                            │        touched block ─► flat block (DC only, EOB)
//	                            │        next block ────► DC difference re-coded
//	                            │        other blocks ──► bits copied unchanged
//	                            │                         (64 bits a step, re-stuffed)
//	                            │        after the last touched MCU, once every
//	                            │        DC predictor agrees ─► rest of the
//	                            │        interval copied unwalked (when the
//	                            │        padding provably lands the same)
//	                            ├─ MJPEG, anything else: image/jpeg decode,
//	                            │    fill, encode (quality 85), counted by Reason
//	                            └─ H.264 / unknown: ErrCannotMask ─► frame dropped
//
// Semantics:
//
//   - Pixels: pixel (x, y) of a w×h frame is covered when its centre
//     ((x+0.5)/w, (y+0.5)/h) is inside a shape, by the even-odd rule (the
//     same as non-zero for the simple polygons Validate accepts). A centre
//     on a left/top edge is inside, on a right/bottom edge outside.
//   - Fill colour: mid grey, Y = Cb = Cr = 128 (Fill). In a JPEG this is a
//     block with all coefficients zero, exact for any quantisation table.
//   - YUYV: Y of every covered pixel, and U and V of every pixel pair with a
//     covered pixel, become 128.
//   - JPEG blocks: an 8×8 block of component c is touched when any covered
//     pixel lies in the image area it codes, scaled by the component's
//     subsampling (a chroma block of 4:2:0 codes 16×16 pixels). Touched
//     blocks become flat: conservative, masks up to a block more, never
//     less. Every other block keeps its quantised coefficients exactly
//     (bit-identical in the DCT domain); only the DC difference of the first
//     untouched block after touched ones is re-coded, with the frame's own
//     Huffman tables (or the standard ones if the frame has no DHT).
//     Restart intervals untouched by the mask are copied byte for byte.
//   - Fallback reasons (Stats.Fallbacks): progressive (SOF2); unsupported
//     (arithmetic coding, lossless, hierarchical, 12-bit, height by DNL);
//     sampling (factors that do not divide the largest); multi-scan
//     (components in separate scans); huffman-code (optimised tables that
//     lack a code a flat block needs); corrupt (the walker could not parse
//     the frame). If image/jpeg cannot decode it either, Apply returns an
//     error and the frame must be dropped: a frame never passes unmasked.
//   - APPn segments other than a short APP0 (JFIF/AVI1 without thumbnail)
//     and APP14 (Adobe) are dropped: an Exif or JFXX thumbnail would show
//     the unmasked scene.
//   - H.264 cannot be masked without re-encoding: ErrCannotMask.
//
// Ownership: Apply returns YUYV frames in place, JPEG frames in a buffer
// owned by the Masker and valid until the next Apply (Ring.Push copies it).
package mask
