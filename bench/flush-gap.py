#!/usr/bin/env python3
"""How long this machine's disk takes to sync a batch's worth of WAL pages, with and without CPU work
between the syncs: behind docs/performance.md's "The flush waits for the virtual disk to wake".

    bench/flush-gap.py [directory] [rounds]

Each round writes 25 pages of fresh bytes (a batch of holds writes about 25 WAL frames) and fsyncs
them, for 1.2 s back to back, then for 1.2 s with 300 µs of spinning before each write (about the
writer's CPU for a batch), into a file in the directory given (the current one by default), and
prints the median, p10 and p90 of the syncs of each, and last a line
`FLUSH back_to_back_ms=… after_gap_ms=…` (the median over the rounds of each round's median), which
bench/run.sh puts in its report. The file is removed at the end.
"""
import os
import statistics
import sys
import time

PAGES, SECONDS, GAPS_US = 25, 1.2, (0, 300)


def run(path, gap_us, data):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.ftruncate(fd, 2000 * 4096)
        took, i, pos = [], 0, 0
        end = time.time() + SECONDS
        while time.time() < end:
            if pos + PAGES * 4096 > len(data):
                pos = 0
            chunk = data[pos:pos + PAGES * 4096]
            pos += PAGES * 4096
            spin_until = time.perf_counter() + gap_us / 1e6
            while time.perf_counter() < spin_until:
                pass
            os.pwrite(fd, chunk, (i * PAGES % (2000 - PAGES)) * 4096)
            i += 1
            start = time.perf_counter()
            os.fsync(fd)
            took.append((time.perf_counter() - start) * 1000)
        return sorted(took)
    finally:
        os.close(fd)


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "."
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    path = os.path.join(directory, "flush-gap.tmp")
    data = os.urandom(48 << 20)
    medians = {gap: [] for gap in GAPS_US}
    try:
        for r in range(1, rounds + 1):
            for gap in GAPS_US:
                t = run(path, gap, data)
                medians[gap].append(statistics.median(t))
                print(f"round {r}  {gap:3d} µs between syncs: {len(t):5d} syncs, median {statistics.median(t):.3f} ms, "
                      f"p10 {t[len(t) // 10]:.3f} ms, p90 {t[len(t) * 9 // 10]:.3f} ms", flush=True)
        print(f"FLUSH back_to_back_ms={statistics.median(medians[0]):.3f} after_gap_ms={statistics.median(medians[300]):.3f}")
    finally:
        if os.path.exists(path):
            os.remove(path)


if __name__ == "__main__":
    main()
