package pipeline

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on the platforms pgpull runs on.
const hugePage = 2 << 20

// newBuffer makes a zeroed buffer of n bytes, asking the kernel to back it with transparent huge
// pages (the default "madvise" setting of /sys/kernel/mm/transparent_hugepage/enabled gives them
// only to memory that asks). It starts at a huge page's boundary, so that all of it can be; the
// bytes before it are never written, and cost address space only. The memory is the collector's
// as any other: a buffer no one holds is freed.
func newBuffer(n int) []byte {
	if n < hugePage {
		return make([]byte, n)
	}
	b := make([]byte, n+hugePage)
	off := (hugePage - int(uintptr(unsafe.Pointer(unsafe.SliceData(b))))%hugePage) % hugePage
	b = b[off : off+n : off+n]
	_ = unix.Madvise(b[:n&^(hugePage-1)], unix.MADV_HUGEPAGE) // a hint: refused, small pages serve
	return b
}
