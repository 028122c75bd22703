/*
 * pool_bench.h - the interface between the pool allocator benchmark bodies
 * (pool_bodies.c, one set for every allocator) and the binary that links
 * them: keel_bench_ex (the executive pool in the hosted kernel, its workers
 * kernel system threads: pool_keel.c) or keel_bench_peer_<impl> (the C
 * library's malloc as served by glibc, jemalloc, mimalloc or tcmalloc,
 * its workers pthreads: pool_peer.c + peer_<impl>.c).
 *
 * The bodies see an allocator (allocate, free, the bytes it reserves by
 * its own statistic) and a team of workers, worker i pinned to processor
 * i, released together once per round.
 */
#ifndef POOL_BENCH_H
#define POOL_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* Most workers a team may have (processors the bodies use at once). */
#define POOL_BENCH_MAX_WORKERS 64

/* ---- The allocator ----------------------------------------------------- */

/* The pool's ExAllocatePool2 / ExFreePoolWithTag, or malloc / free. NULL
 * when out of memory. Never inlined into the bodies (an indirect-free call
 * on both sides, so no compiler can pair and drop an allocation). */
void *PoolBenchAllocate(size_t Size);
void PoolBenchFree(void *Block);

/* Bytes the allocator holds from the system right now for its blocks, by
 * its own exact statistic (each implementation says which and why): the
 * overhead benchmark takes differences of it. Zero on success. */
int PoolBenchReservedBytes(uint64_t *Bytes);

/* Waits until work the system defers is done (Keel: the stacks of
 * terminated threads freed), so that nothing but the blocks moves the
 * reserved bytes while the overhead is measured. */
void PoolBenchSettle(void);

/* ---- Workers ----------------------------------------------------------- */

/* A worker's share of one round: Index is its number (0..Count-1), which
 * is also the processor it is pinned to. */
typedef void POOL_BENCH_WORK(void *Context, unsigned Index);

typedef struct POOL_BENCH_TEAM POOL_BENCH_TEAM;

/* Starts Count workers (Count <= POOL_BENCH_MAX_WORKERS and <= the
 * processor count), worker i pinned to processor i, each waiting for a
 * round. Returns once every one of them runs on its processor; NULL when
 * they cannot be started. One team at a time. */
POOL_BENCH_TEAM *PoolBenchTeamStart(unsigned Count, POOL_BENCH_WORK *Work, void *Context);

/* Releases every worker at once to run Work once; returns when all have
 * finished, with the wall time in nanoseconds from the moment they all
 * started their work (together, past a spinning start barrier) to the
 * moment the last one finished. Waking the workers (an IPI and a host
 * thread's wake-up, or a condition variable) is the scheduler's cost, not
 * the allocator's, and is left out for every implementation alike. */
uint64_t PoolBenchTeamRound(POOL_BENCH_TEAM *Team);

/* The start barrier of a round: each worker calls it once woken; it
 * returns when all Count have arrived (*Arrived is reset to 0 before the
 * round is released). */
void PoolBenchStartTogether(volatile unsigned *Arrived, unsigned Count);

/* Ends the workers and waits until every one of them has terminated. */
void PoolBenchTeamStop(POOL_BENCH_TEAM *Team);

#endif /* POOL_BENCH_H */
