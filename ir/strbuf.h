/* strbuf.h — a growable NUL-terminated text buffer, shared by the text
 * writers (the loop IR printer, the JSON writer, the C backend, the LLVM
 * backend's inline assembly).
 *
 * A zero-initialized StrBuf is empty. Appends grow it by doubling through
 * nnl_malloc (so the allocation-failure tests reach it); a failure sets oom,
 * which sticks: later appends do nothing and the owner checks oom once at
 * the end. s is NUL-terminated whenever it is non-NULL.
 */
#ifndef NNL_STRBUF_H
#define NNL_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct StrBuf {
	char *s;
	size_t n, cap;
	int oom;
} StrBuf;

void sb_mem(StrBuf *b, const char *s, size_t n);
void sb_str(StrBuf *b, const char *s);
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
void sb_fmt(StrBuf *b, const char *fmt, ...);
void sb_vfmt(StrBuf *b, const char *fmt, va_list ap);
/* Free the text and reset b to empty. */
void sb_free(StrBuf *b);

#endif
