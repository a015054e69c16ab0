package fetch

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
)

// WarmBytes is the buffer Warm has a new backend allocate and free: more than any one row of a
// read needs (a row's bytea, its copy for the wire and the message that carries it), and under
// glibc's 32 MiB ceiling for the threshold it moves.
const WarmBytes = 16 << 20

// warmSQL allocates WarmBytes on the server and fills 3 bytes of it: PG_VERSION is in every data
// directory, and pg_read_binary_file allocates the length asked for, not the file's size.
var warmSQL = `SELECT length(pg_read_binary_file('PG_VERSION', 0, ` + strconv.Itoa(WarmBytes) + `, true))`

// Warm readies a new connection's backend for the reads to come. glibc's malloc maps every block
// of 128 kB and more afresh, and returns it on free, until it frees a mapped block larger than
// its threshold: then the threshold rises to that block's size and later blocks come from the heap,
// whose pages stay. A backend reading 256 kB rows otherwise maps and faults in new pages for
// each row (its bytea, the copy byteasend makes, the DataRow message): on PostgreSQL 15, 2 cores,
// a pgbench scale 20 backup (-j 2) took 23.8k page faults on the machine and 10.6k after a warm-up,
// 660 ms and 540 ms.
//
// With helperCodec, the codec --server-compress's helper is to use, the same round trip starts the
// backend's Python and imports the codec (40-80 ms of a backend's CPU on the bench machine), which
// would otherwise wait for the first read. The warm-up is paid while pg_backup_start's checkpoint
// runs for the connections opened then. Its failure is left to the first real read to report.
func Warm(ctx context.Context, conn *pgconn.PgConn, helperCodec string) {
	if helperCodec == "" {
		_, _ = conn.Exec(ctx, warmSQL).ReadAll()
		return
	}
	_ = conn.ExecParams(ctx, warmHelperSQL, [][]byte{[]byte(helperCodec)}, nil, nil, nil).Read()
}

// warmHelperSQL is warmSQL and a first call of the helper, which reads one byte of PG_VERSION.
var warmHelperSQL = warmSQL + `, length(pgpull.read_compressed('PG_VERSION', 0, 1, $1::text))`
