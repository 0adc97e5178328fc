//go:build linux

package gpioline

import (
	"testing"
	"unsafe"
)

// The uAPI structs must match the kernel's layout exactly.
func TestUAPILayout(t *testing.T) {
	if s := unsafe.Sizeof(v2LineRequest{}); s != 592 {
		t.Errorf("gpio_v2_line_request is %d bytes, want 592", s)
	}
	if s := unsafe.Sizeof(v2LineConfig{}); s != 272 {
		t.Errorf("gpio_v2_line_config is %d bytes, want 272", s)
	}
	if s := unsafe.Sizeof(v2LineValues{}); s != 16 {
		t.Errorf("gpio_v2_line_values is %d bytes, want 16", s)
	}
	if ioctlGetLine != 0xC250B407 {
		t.Errorf("GPIO_V2_GET_LINE_IOCTL = %#x, want 0xc250b407", ioctlGetLine)
	}
	if ioctlGetValues != 0xC010B40E {
		t.Errorf("GPIO_V2_LINE_GET_VALUES_IOCTL = %#x, want 0xc010b40e", ioctlGetValues)
	}
}
