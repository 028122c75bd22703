/*
 * pool_peer.h - what each peer allocator provides to pool_peer.c (one
 * peer_<impl>.c per keel_bench_peer_<impl> binary), beside
 * PoolBenchReservedBytes (pool_bench.h).
 */
#ifndef POOL_PEER_H
#define POOL_PEER_H

#include <stddef.h>

/* The allocator the binary is named after ("jemalloc"). */
extern const char PoolPeerName[];

/* The shared object that must define malloc and free ("libjemalloc"): a
 * part of its file name. */
extern const char PoolPeerLibrary[];

/* Checks that this allocator, and no other, serves malloc in this process
 * (a call only it has, and a block from malloc that it owns). Zero when it
 * does, with a line naming it (version) in Message; otherwise nonzero and
 * the reason in Message. */
int PoolPeerVerify(char *Message, size_t Length);

/* PoolBenchSettle for this allocator: before the overhead measure, takes
 * back into the calling thread what exited threads left behind, so that
 * the measure's growth search uses it up first. */
void PoolPeerSettle(void);

#endif /* POOL_PEER_H */
