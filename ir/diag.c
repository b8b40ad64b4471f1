/* diag.c — diagnostics lists, the internal-bug path, checked allocation.
 *
 * Messages are formatted once into owned strings. If memory runs out while
 * reporting, the list records it (oom) instead of failing a second time, so
 * an error path can never crash.
 */
#include "ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long fail_countdown; /* test hook: > 0 counts allocations down to a failure */

void nnl_fail_alloc_after(long n) { fail_countdown = n; }

static int should_fail(void)
{
	if (fail_countdown > 0 && --fail_countdown == 0)
		return 1;
	return 0;
}

void *nnl_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *nnl_calloc(size_t n, size_t size)
{
	if (should_fail())
		return NULL;
	if (n == 0 || size == 0)
		return calloc(1, 1);
	return calloc(n, size);
}

char *nnl_strdup(const char *s)
{
	size_t len = strlen(s) + 1;
	char *p = nnl_malloc(len);
	if (p)
		memcpy(p, s, len);
	return p;
}

int nnl_mul_i64(int64_t a, int64_t b, int64_t *out)
{
	if (a < 0 || b < 0)
		return -1;
	if (a != 0 && b > INT64_MAX / a)
		return -1;
	*out = a * b;
	return 0;
}

void nnl_bug(const char *file, int line, const char *msg)
{
	fprintf(stderr, "nnl: internal error at %s:%d: %s\n", file, line, msg);
	abort();
}

void diag_init(Diag *d) { memset(d, 0, sizeof *d); }

void diag_clear(Diag *d)
{
	for (int i = 0; i < d->n; i++)
		free(d->msgs[i]);
	d->n = 0;
	d->oom = 0;
}

void diag_free(Diag *d)
{
	diag_clear(d);
	free(d->msgs);
	memset(d, 0, sizeof *d);
}

void diag_vadd(Diag *d, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int len = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (len < 0) {
		d->oom = 1;
		return;
	}
	if (d->n == d->cap) {
		int cap = d->cap ? d->cap * 2 : 8;
		char **m = realloc(d->msgs, (size_t)cap * sizeof *m);
		if (!m || should_fail()) {
			if (m)
				d->msgs = m;
			d->oom = 1;
			return;
		}
		d->msgs = m;
		d->cap = cap;
	}
	char *s = nnl_malloc((size_t)len + 1);
	if (!s) {
		d->oom = 1;
		return;
	}
	vsnprintf(s, (size_t)len + 1, fmt, ap);
	d->msgs[d->n++] = s;
}

void diag_add(Diag *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_vadd(d, fmt, ap);
	va_end(ap);
}

void diag_print(const Diag *d, const char *prog)
{
	for (int i = 0; i < d->n; i++)
		fprintf(stderr, "%s: error: %s\n", prog, d->msgs[i]);
	if (d->oom)
		fprintf(stderr, "%s: error: out of memory while reporting errors (some messages are missing)\n", prog);
}
