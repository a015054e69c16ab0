module github.com/pgpull/pgpull/bench/zstdcgo

go 1.26.8

require (
	github.com/DataDog/zstd v1.5.7
	github.com/klauspost/compress v1.20.4
	github.com/pgpull/pgpull v0.0.0
)

// The mixed input comes from pgpull's own test fixtures.
replace github.com/pgpull/pgpull => ../..
