package backup

import (
	"runtime"
	"time"

	"github.com/pgpull/pgpull/sinks"
	"github.com/pgpull/pgpull/stages/fetch"
)

// Tuning is every bound that decides how much memory pgpull holds and how much it runs at once,
// in one place: the backup run, the command line and the sinks take their numbers from it, and
// GOMEMLIMIT is derived from it. DefaultTuning gives the values pgpull runs with and says why
// each; figures come from bench/RESULTS.md where they were measured there, and a value that was
// chosen rather than measured says so.
//
// Not here: the compressors' block sizes (internal/compress), which are properties of each
// algorithm measured beside the code they tune, and RowSize (stages/fetch), measured likewise;
// -j and --range-size, which the user sets (bench/RESULTS.md recommends them per compression).
type Tuning struct {
	// RangesPerJob and MinRanges size the byte budget between the splitter and the sink:
	// max(jobs × RangesPerJob, MinRanges) ranges. Two per job let a slow range be overtaken
	// without stalling the others behind the reorder window.
	RangesPerJob int
	MinRanges    int
	// SinkShare and SinkShareMin: an object store's sink (S3) takes SinkShare of the in-flight
	// bytes, at least SinkShareMin, for its part buffers, and the pipeline's budget is what is
	// left: its uploads then stay within a tar stream's bound rather than adding to it.
	SinkShare    float64
	SinkShareMin int64
	// MemoryHeadroom is added to the budget for GOMEMLIMIT: room for the compressors, buffers
	// and the runtime, so that the collector keeps the heap near the budget instead of letting
	// it double between collections.
	MemoryHeadroom int64

	// ItemQueue is how many listed Files (and WAL segments) may wait for the splitter: listing
	// is cheap, and a deep queue keeps the splitter from idling between directories.
	ItemQueue int
	// RequestsPerJob is how many Requests wait for each fetch worker, and how many fetched ones
	// wait for the reorder stage: one each, since the budget already bounds the bytes.
	RequestsPerJob int
	// PieceQueue is how many Pieces wait between reorder and verify, and between verify and the
	// sink.
	PieceQueue int

	// SmallFileShare: files of at most RangeSize/SmallFileShare are batched with others, so
	// that a request moves about a range of bytes whatever the files' sizes.
	SmallFileShare int64
	// BatchFiles caps the files in one batched request, which keeps its query short.
	BatchFiles int

	// FetchRetryFor, FetchBackoff and FetchBackoffMax: a fetch whose connection breaks or stalls
	// reconnects and reads again for FetchRetryFor at most, from its first failure, waiting
	// FetchBackoff before the first retry, then twice that, and so on up to FetchBackoffMax.
	FetchRetryFor   time.Duration
	FetchBackoff    time.Duration
	FetchBackoffMax time.Duration
	// RateBurst is how much of --max-rate may be spent at once: a tenth of a second's worth. The
	// first burst is free, so a larger one overshot the cap on short runs at low rates.
	RateBurst time.Duration

	// ControlPing is how often the idle control session is checked: losing it loses the backup,
	// and a ping is one round trip.
	ControlPing time.Duration
	// Progress is how often a run reports its progress between phase changes (-v, --events).
	Progress time.Duration

	// Hashers is how many goroutines hash the destination's ranges in a refresh; 0 means
	// GOMAXPROCS, since hashing is all CPU.
	Hashers int

	// Compressors is how many goroutines compress a tar stream or each -F tar archive; 0 means
	// GOMAXPROCS. Each holds about two blocks (see internal/compress.NewWriter).
	Compressors int
	// StreamBuffer buffers the tar stream on its way to stdout, so that a pipe gets large writes.
	StreamBuffer int
	// TarFileBuffer buffers each -F tar archive file. Measured (sinks'
	// BenchmarkTarFilesSmallFiles): without it each member costs three write calls, header,
	// body and padding, which halves throughput on 8 KiB files. Large Pieces pass through it
	// mostly uncopied.
	TarFileBuffer int
	// FileClosers is how many finished files of a plain backup are fsynced and closed at once,
	// in the background: one slow fsync of a 1 GiB segment then does not stall the stream.
	FileClosers int

	// AutoJobs is -j auto's rule (stages/fetch.AutoJobs): the connections it starts with, the
	// most it runs, the rise in throughput that earns more, the free connections it always
	// leaves to the server's other clients, and how long each count is measured.
	AutoJobs       fetch.AutoJobs
	AutoJobsWindow time.Duration

	// FarRoundTrip is the round trip from which a server is far (Options.FarJobs): above any LAN's
	// and a loaded machine's local one (a Unix socket took 0.2-3 ms here under load), under a
	// WAN's.
	FarRoundTrip time.Duration

	// ServerCompress is --server-compress=auto's rule: the sample it reads both ways, and the
	// gain and the ratio that turn compression on.
	ServerCompress ServerCompressRule
}

// DefaultTuning is what pgpull runs with.
func DefaultTuning() Tuning {
	return Tuning{
		RangesPerJob: 2,
		MinRanges:    4,
		// Commit 381868e: peak RSS 114 MB with -j 4 for none, gzip:1 and zstd:1 on a 1.5 GiB
		// cluster (142 MB with gzip before the limit); bench/RESULTS.md's "peak RSS" column.
		MemoryHeadroom: 48 << 20,
		// Chosen, not measured: half leaves the fetch jobs a range each and the uploads 6 parts
		// of 5 MiB at the default -j 4; the least is two parts of S3's smallest size, one filling
		// for base.tar and one for a tablespace's archive.
		SinkShare:    0.5,
		SinkShareMin: 10 << 20,

		// Chosen, not measured: deep enough that listing never waits on a busy splitter.
		ItemQueue:      256,
		RequestsPerJob: 1,
		// Chosen, not measured: 64 Pieces are at most 64 ranges' worth of pointers; the bytes
		// behind them are bounded by the budget.
		PieceQueue: 64,

		// Chosen, not measured: 1 MiB files at the default 8 MB range are batched.
		SmallFileShare: 8,
		BatchFiles:     1000,

		// Chosen: a minute of retries rides out a dropped connection (one retry mends it), a
		// backend killed by an administrator, or a route that flaps for tens of seconds; a server
		// that stays away ends the backup in --io-timeout + a minute, within two with the default
		// 30 s, where counting attempts let each wait out its own timeouts (about 15 minutes at
		// 5 attempts of 5 minutes' --io-timeout). The waits grow from half a second, so that a
		// dropped connection costs little, to 8 s, so that a minute holds several attempts.
		FetchRetryFor:   time.Minute,
		FetchBackoff:    500 * time.Millisecond,
		FetchBackoffMax: 8 * time.Second,
		// Measured by the -r e2e test: with a burst of a tenth of a second, a -r 2M backup's
		// average rate stays within 15% above the cap.
		RateBurst: 100 * time.Millisecond,

		ControlPing: 2 * time.Second,
		Progress:    time.Second,

		Hashers:     0,
		Compressors: 0,
		// Chosen, not measured: 1 MiB keeps writes to a pipe large without holding much.
		StreamBuffer:  1 << 20,
		TarFileBuffer: 64 << 10, // see BenchmarkTarFilesSmallFiles
		// Chosen, not measured: a few fsyncs in flight keep an SSD or a RAID busy, and only a few
		// files are ever open.
		FileClosers: 4,

		// Two connections are what every server has room for; 16 is twice the best fixed -j
		// measured on the slow link; 10% rises above the noise of a window, which holds several
		// 256 kB rows per job even at 100 Mbit/s; three free connections stay for the server's
		// other clients. Doubling at 80% of a proportional rise and the 750 ms window: on the
		// 20 ms / 200 Mbit link a 256 MB backup took 6.2 s at +50% per 1 s window against
		// 3.6 s at -j 8 (bench/RESULTS.md, 2026-11-30 12:25): the ramp, not the choice, cost it.
		AutoJobs:       fetch.AutoJobs{Start: 2, Max: 16, Margin: 0.10, Linear: 0.8, Spare: 3},
		AutoJobsWindow: 750 * time.Millisecond,

		// Chosen, not measured: 1 MB takes 40 ms at 200 Mbit/s, long enough beside a round trip
		// to clock the link, short enough not to matter; a quarter more data per connection leaves
		// room for the Python starts and the decompression the rule does not count, and data that
		// keeps 80% of its size is not worth the CPU on either end.
		ServerCompress: ServerCompressRule{Sample: 1 << 20, Gain: 1.25, MaxRatio: 0.8},
		FarRoundTrip:   10 * time.Millisecond,
	}
}

// InFlightBytes is how many bytes may be between the splitter and the sink.
func (t Tuning) InFlightBytes(jobs int, rangeSize int64) int64 {
	return int64(max(jobs*t.RangesPerJob, t.MinRanges)) * rangeSize
}

// MemoryLimit is the soft memory limit (GOMEMLIMIT) for a backup of jobs jobs and rangeSize
// ranges: the budget plus the headroom.
func (t Tuning) MemoryLimit(jobs int, rangeSize int64) int64 {
	return t.InFlightBytes(jobs, rangeSize) + t.MemoryHeadroom
}

// CompressorCount is Compressors, or GOMAXPROCS when that is 0.
func (t Tuning) CompressorCount() int {
	if t.Compressors > 0 {
		return t.Compressors
	}
	return runtime.GOMAXPROCS(0)
}

// HasherCount is Hashers, or GOMAXPROCS when that is 0.
func (t Tuning) HasherCount() int {
	if t.Hashers > 0 {
		return t.Hashers
	}
	return runtime.GOMAXPROCS(0)
}

// SinkBounds is the sinks' share of the tuning.
func (t Tuning) SinkBounds() sinks.Bounds {
	return sinks.Bounds{StreamBuffer: t.StreamBuffer, TarFileBuffer: t.TarFileBuffer, FileClosers: t.FileClosers,
		Compressors: t.CompressorCount()}
}
