/* strbuf.c — see strbuf.h. */
#include "strbuf.h"

#include "ir.h" /* nnl_malloc */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sb_reserve(StrBuf *b, size_t more)
{
	if (b->oom)
		return -1;
	if (b->n + more + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < b->n + more + 1)
		cap *= 2;
	char *s = nnl_malloc(cap);
	if (!s) {
		b->oom = 1;
		return -1;
	}
	if (b->n)
		memcpy(s, b->s, b->n);
	free(b->s);
	b->s = s;
	b->cap = cap;
	return 0;
}

void sb_mem(StrBuf *b, const char *s, size_t n)
{
	if (sb_reserve(b, n) < 0)
		return;
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = 0;
}

void sb_str(StrBuf *b, const char *s) { sb_mem(b, s, strlen(s)); }

void sb_vfmt(StrBuf *b, const char *fmt, va_list ap)
{
	char small[256]; /* most pieces: one vsnprintf */
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(small, sizeof small, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if ((size_t)n < sizeof small) {
		sb_mem(b, small, (size_t)n);
		return;
	}
	if (sb_reserve(b, (size_t)n) < 0)
		return;
	vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
	b->n += (size_t)n;
}

void sb_fmt(StrBuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vfmt(b, fmt, ap);
	va_end(ap);
}

void sb_free(StrBuf *b)
{
	free(b->s);
	b->s = NULL;
	b->n = b->cap = 0;
	b->oom = 0;
}
