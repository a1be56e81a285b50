// See include/CAllocator.h.
#include "CAllocator.h"
#include <mimalloc.h>
#include <stdlib.h>

int trestle_allocator_version(void) {
    return mi_version();
}

void trestle_allocator_release_free_memory(void) {
    mi_collect(false);
}

bool trestle_allocator_replaces_malloc(void) {
    void *probe = malloc(16);
    bool ours = probe != NULL && mi_is_in_heap_region(probe);
    free(probe);
    return ours;
}
