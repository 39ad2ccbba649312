//go:build ignore

/*
 * gmalloc0.c: an LD_PRELOAD shim for Amanda's ndmjob. It replaces two
 * functions of the client whose defects make its own conformance tests fail
 * against any server.
 *
 * 1. g_malloc.
 * Amanda builds NDMJOB with NDMOS_API_MALLOC mapped to g_malloc, and
 * g_malloc(0) returns NULL. NDMJOB treats that NULL as an allocation failure,
 * so its client can never send a zero-length NDMP_TAPE_WRITE (the test-tape
 * series checks one in phase T-BW) and stops before reaching the server.
 * This shim makes g_malloc(0) allocate one byte, so a NULL return again means
 * "out of memory" only.
 *
 * 2. ndmca_test_fill_data, the pattern generator of the T-WRITE, T-READ and
 * T-MTIO phases. It tiles the buffer with a copy of a stack struct
 * {u_short fileno; u_short sequence; u_long recno} whose four padding bytes
 * are never set, so the pattern written in T-WRITE and the one expected in
 * T-READ differ wherever the stack garbage did. This version lays out the
 * same bytes (LP64: fileno, sequence, 4 zero bytes, recno; native byte order)
 * with the padding zeroed. The library calls it through its PLT, so the
 * preloaded definition takes its place.
 *
 * The go:build line above keeps the go tool from treating this directory as a
 * cgo package; ndmjobtest embeds this file and compiles it with gcc at test time.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

void *g_malloc(size_t n)
{
	static void *(*real)(size_t);

	if (real == NULL)
		real = (void *(*)(size_t))dlsym(RTLD_NEXT, "g_malloc");
	if (real == NULL)
		return NULL;
	return real(n == 0 ? 1 : n);
}

struct fill_unit {
	unsigned short fileno;
	unsigned short sequence;
	unsigned long recno;
};

void ndmca_test_fill_data(char *buf, int bufsize, int recno, int fileno)
{
	struct fill_unit u;
	unsigned short seq = 0;
	int off = 0;

	memset(&u, 0, sizeof u);
	u.fileno = (unsigned short)fileno;
	u.recno = (unsigned long)recno;
	while (off < bufsize) {
		int n = bufsize - off < (int)sizeof u ? bufsize - off : (int)sizeof u;

		u.sequence = seq++;
		memcpy(buf + off, &u, n);
		off += n;
	}
}
