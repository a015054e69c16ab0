//go:build libzstd && !cgo

package compress

// -tags libzstd links libzstd through cgo, which CGO_ENABLED=0 turns off. Failing the build
// here says so, where leaving the file out would fall back to the pure-Go encoder unannounced.
var _ = build_with_tags_libzstd_needs_CGO_ENABLED_1_and_a_C_compiler
