// The memory allocator Trestle's process runs on: mimalloc (Debian's libmimalloc-dev),
// linked into the executable so that it replaces the C library's malloc and free for the
// whole process (the Swift runtime, NIO and Lua included). Measured against glibc's
// malloc it costs a third less CPU per SET and a third less memory per key (docs/BENCH.md).
#ifndef TRESTLE_CALLOCATOR_H
#define TRESTLE_CALLOCATOR_H

#include <stdbool.h>
#include <stddef.h>

/// mimalloc's version number: 209 for 2.0.9 (major, minor, patch digits).
int trestle_allocator_version(void);

/// True when the process's `malloc` is mimalloc's (the executable links it ahead of the C
/// library); false if something loaded the C library's allocator first.
bool trestle_allocator_replaces_malloc(void);

/// Returns memory the allocator no longer needs to the operating system (retired pages of
/// the calling thread's heap and of abandoned threads). Cheap enough for a periodic timer.
void trestle_allocator_release_free_memory(void);

#endif
