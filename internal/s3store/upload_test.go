package s3store

import "testing"

// TestPartSize: the first 1000 parts are S3's smallest, the sizes double every 1000 after, and
// 10000 parts hold an object of S3's largest size (5 TB) without a part over S3's 5 GiB.
func TestPartSize(t *testing.T) {
	if PartSize(1) != MinPartSize || PartSize(1000) != MinPartSize || PartSize(1001) != 2*MinPartSize || PartSize(2001) != 4*MinPartSize {
		t.Errorf("part sizes 1, 1000, 1001, 2001: %d %d %d %d", PartSize(1), PartSize(1000), PartSize(1001), PartSize(2001))
	}
	var total int64
	for n := 1; n <= maxParts; n++ {
		total += int64(PartSize(n))
	}
	if last := PartSize(maxParts); total < 5e12 || last > 5<<30 {
		t.Errorf("10000 parts hold %d bytes, the last %d; want at least 5e12, each at most 5 GiB", total, last)
	}
}

// TestPartsWeight: a part holds its size of the budget but at most half, so that two objects
// filling at once always get their buffers.
func TestPartsWeight(t *testing.T) {
	p := NewParts(30 << 20)
	if p.weight(MinPartSize) != MinPartSize || p.weight(40<<20) != 15<<20 {
		t.Errorf("weights of 5 MiB and 40 MiB parts in 30 MiB: %d, %d", p.weight(MinPartSize), p.weight(40<<20))
	}
	if NewParts(1).Bytes() != 2*MinPartSize {
		t.Errorf("a budget under two smallest parts: %d", NewParts(1).Bytes())
	}
}
