package manifest

import (
	"encoding/binary"
	"hash/crc32"
)

// castagnoli is CRC-32C's polynomial less x^32, bit-reversed as hash/crc32 holds it: in such a
// register the coefficient of x^i is bit 31-i.
const castagnoli = 0x82F63B78

// RawCRC32C is the CRC-32C register after p from zero, without the initial and final
// inversions: what p contributes to the CRC-32C of a file at p's place, before the bytes that
// follow shift it (see CRCPatch).
func RawCRC32C(p []byte) uint32 {
	return ^crc32.Update(^uint32(0), crc32.MakeTable(crc32.Castagnoli), p)
}

// CRCPatch computes a file's new CRC-32C from its old one and the blocks that changed, without
// the others' bytes. A CRC register is linear over GF(2) in the bytes it has read, so the CRC-32C
// of two inputs of one length differ by the register of their XOR from zero. That XOR is zero
// outside the changed blocks: each contributes the raw CRC of its old bytes XOR that of its new
// ones, shifted by the bytes that follow it. A file that grew is taken to have been zeros past
// its old end, whose CRC the old one gives too.
type CRCPatch struct {
	reg uint32 // register of old XOR new from the start through pos
	pos int64
}

// Reset starts a file.
func (c *CRCPatch) Reset() { c.reg, c.pos = 0, 0 }

// Change accounts for n bytes at offset whose old and new bytes have the raw CRCs (RawCRC32C)
// old and new. Changes come by increasing offset, without overlap.
func (c *CRCPatch) Change(offset, n int64, old, new uint32) {
	c.reg = crcShift(c.reg, offset+n-c.pos) ^ old ^ new
	c.pos = offset + n
}

// Sum appends to b the new CRC-32C, little-endian as the manifest writes it, of the file of size
// bytes whose old CRC-32C was prior (the same encoding) at priorSize, not above size. The changes
// past priorSize were accounted for from zeros.
func (c *CRCPatch) Sum(b, prior []byte, priorSize, size int64) []byte {
	// Zeros past the old end: the register (the CRC's inverse) runs on over them.
	crc := ^crcShift(^binary.LittleEndian.Uint32(prior), size-priorSize)
	crc ^= crcShift(c.reg, size-c.pos)
	return binary.LittleEndian.AppendUint32(b, crc)
}

// crcShift is register reg after n zero bytes: reg times x^(8n), modulo the polynomial.
func crcShift(reg uint32, n int64) uint32 {
	pow := uint32(1) << (31 - 8) // x^8, one zero byte
	for ; n > 0 && reg != 0; n >>= 1 {
		if n&1 != 0 {
			reg = crcMul(reg, pow)
		}
		pow = crcMul(pow, pow)
	}
	return reg
}

// crcMul is a times b modulo the polynomial, both bit-reversed.
func crcMul(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0 && a != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			a &^= m
		}
		if b&1 != 0 { // b times x
			b = b>>1 ^ castagnoli
		} else {
			b >>= 1
		}
	}
	return p
}
