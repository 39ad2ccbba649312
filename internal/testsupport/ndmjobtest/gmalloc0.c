//go:build ignore

/*
 * gmalloc0.c: an LD_PRELOAD shim for Amanda's ndmjob.
 *
 * Amanda builds NDMJOB with NDMOS_API_MALLOC mapped to g_malloc, and
 * g_malloc(0) returns NULL. NDMJOB treats that NULL as an allocation failure,
 * so its client can never send a zero-length NDMP_TAPE_WRITE (the test-tape
 * series checks one in phase T-BW) and stops before reaching the server.
 * This shim makes g_malloc(0) allocate one byte, so a NULL return again means
 * "out of memory" only. It changes nothing else.
 *
 * The go:build line above keeps the go tool from treating this directory as a
 * cgo package; ndmjobtest embeds this file and compiles it with gcc at test time.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

void *g_malloc(size_t n)
{
	static void *(*real)(size_t);

	if (real == NULL)
		real = (void *(*)(size_t))dlsym(RTLD_NEXT, "g_malloc");
	if (real == NULL)
		return NULL;
	return real(n == 0 ? 1 : n);
}
