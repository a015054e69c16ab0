"""Codec speeds of the server-compress helper's choices, in the Python PL/Python embeds.

Run with the server's own interpreter (Debian: /usr/bin/python3, not a pyenv or venv python3) on
data files of a cluster, e.g. the mixed data set's tables:

    /usr/bin/python3 bench/helper_codecs.py $PGDATA/base/5/16389 $PGDATA/base/5/16394

Each file is cut into the helper's 1 MB calls; the figure is the best of 7 passes of this
thread's CPU time, which a busy machine disturbs less than wall time.
"""
import sys
import time

N = 1 << 20


def codecs():
    out = []
    try:
        import lz4.block
        out.append(('lz4 block', lambda c: lz4.block.compress(c, store_size=False)))
    except ImportError:
        print('no lz4 (Debian: python3-lz4)')
    try:
        import zstandard
        for level in (1, -1, -5):
            out.append(('zstd %d' % level, zstandard.ZstdCompressor(level=level).compress))
    except ImportError:
        print('no zstandard (Debian: python3-zstandard)')
    import zlib
    out.append(('zlib 1', lambda c: zlib.compress(c, 1)))
    return out


for path in sys.argv[1:]:
    data = open(path, 'rb').read()
    chunks = [memoryview(data)[i:i + N] for i in range(0, len(data), N)]
    for name, compress in codecs():
        best = float('inf')
        for _ in range(7):
            t = time.thread_time()
            size = sum(len(compress(c)) for c in chunks)
            best = min(best, time.thread_time() - t)
        print('%s  %-10s %6.0f MB/s  to %4.1f%%' % (path, name, len(data) / best / 1e6, 100 * size / len(data)))
