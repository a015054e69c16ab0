// Package manifest is PostgreSQL's backup_manifest format: building and writing one byte for byte
// as the server does, parsing one as strictly as pg_verifybackup, and the file checksum algorithms
// it names.
package manifest

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"strings"
)

// Algorithm is a backup_manifest file checksum algorithm, as pg_basebackup --manifest-checksums
// names them.
type Algorithm int

// The algorithms PostgreSQL's manifest knows. CRC32C is the zero value because it is
// pg_basebackup's default.
const (
	CRC32C Algorithm = iota
	SHA224
	SHA256
	SHA384
	SHA512
	NONE
)

// algorithmNames are the names the server writes, indexed by Algorithm.
var algorithmNames = [...]string{
	CRC32C: "CRC32C",
	SHA224: "SHA224",
	SHA256: "SHA256",
	SHA384: "SHA384",
	SHA512: "SHA512",
	NONE:   "NONE",
}

// algorithmSizes are the digest lengths in bytes, indexed by Algorithm.
var algorithmSizes = [...]int{
	CRC32C: 4,
	SHA224: sha256.Size224,
	SHA256: sha256.Size,
	SHA384: sha512.Size384,
	SHA512: sha512.Size,
	NONE:   0,
}

// ParseAlgorithm reads an algorithm name, ignoring case as PostgreSQL does.
func ParseAlgorithm(s string) (Algorithm, error) {
	for a, name := range algorithmNames {
		if strings.EqualFold(s, name) {
			return Algorithm(a), nil
		}
	}
	return 0, fmt.Errorf("unrecognized checksum algorithm %q", s)
}

// String is the name the server writes in Checksum-Algorithm.
func (a Algorithm) String() string {
	if a < 0 || int(a) >= len(algorithmNames) {
		return fmt.Sprintf("Algorithm(%d)", int(a))
	}
	return algorithmNames[a]
}

// Size is the digest length in bytes; 0 for NONE.
func (a Algorithm) Size() int {
	if a < 0 || int(a) >= len(algorithmSizes) {
		return 0
	}
	return algorithmSizes[a]
}

// New returns a fresh hash for the algorithm, or nil for NONE (or an unknown value). Its Sum is the
// byte string the manifest hex-encodes.
func (a Algorithm) New() hash.Hash {
	switch a {
	case CRC32C:
		return &crc32cLE{table: crc32.MakeTable(crc32.Castagnoli)}
	case SHA224:
		return sha256.New224()
	case SHA256:
		return sha256.New()
	case SHA384:
		return sha512.New384()
	case SHA512:
		return sha512.New()
	}
	return nil
}

// crc32cLE is CRC-32C whose Sum is the uint32 in little-endian order: the server hex-encodes the
// raw bytes of its native (x86/ARM) uint32, so "123456789" gives "839206e3", not "e3069283" as
// hash/crc32's big-endian Sum would.
type crc32cLE struct {
	table *crc32.Table // the Castagnoli table, so crc32.Update takes the hardware path
	crc   uint32
}

func (c *crc32cLE) Write(p []byte) (int, error) {
	c.crc = crc32.Update(c.crc, c.table, p)
	return len(p), nil
}

func (c *crc32cLE) Sum(b []byte) []byte { return binary.LittleEndian.AppendUint32(b, c.crc) }
func (c *crc32cLE) Reset()              { c.crc = 0 }
func (c *crc32cLE) Size() int           { return 4 }
func (c *crc32cLE) BlockSize() int      { return 1 }
