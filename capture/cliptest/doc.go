// Package cliptest helps test code that makes clips: frame sequences to
// feed a capture.Ring or clip.Mux (MJPEG, YUYV, and real H.264 access
// units), and Probe, which judges an MP4 file with the real ffprobe.
//
// testdata/h264_160x120_15fps_30frames.h264 is an Annex-B stream with
// access unit delimiters, made by
//
//	ffmpeg -f lavfi -i testsrc=size=160x120:rate=15 -frames:v 30 -c:v libx264 \
//	  -profile:v baseline -g 10 -bf 0 -pix_fmt yuv420p -x264-params aud=1 -f h264 FILE
//
// so frames 0, 10 and 20 are key frames (IDR) carrying SPS and PPS.
package cliptest
