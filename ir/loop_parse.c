/* loop_parse.c — reads the loop IR's text form (grammar: docs/loop-ir.md)
 * back into an LProgram. Hand-written recursive descent over a one-token
 * lookahead lexer.
 *
 * Invariants:
 *   - any input, however broken, gives either a program or NULL with one
 *     "file:line:col: expected X, found Y" message (the parser is fuzzed);
 *   - errors unwind with longjmp to loop_parse, which frees the partial
 *     program: everything allocated is reachable from it or from P;
 *   - nesting (statements and expressions together) is capped at MAX_DEPTH
 *     so that hostile input cannot exhaust the stack;
 *   - names resolve through hash maps (programs have thousands of
 *     variables); a variable must be declared (let/for) earlier in the text.
 *     Scoping beyond that is loop_verify's job.
 * Comments: a full-line comment is remembered as the "lead" of the next
 * token and becomes the label of the statement that token starts; a comment
 * after a buffer declaration on the same line is that buffer's origin. Other
 * comments are ignored.
 */
#include "loop.h"
#include "loop_text.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 256

typedef enum TokKind { TK_EOF, TK_IDENT, TK_STRING, TK_INT, TK_FLOAT, TK_PUNCT, TK_DOTDOT, TK_BAD } TokKind;

typedef struct Tok {
	TokKind kind;
	const char *s; /* source text of the token */
	size_t len;
	int line, col;
	const char *bad;           /* TK_BAD: what is wrong */
	const char *lead, *trail;  /* comment texts (after '#'), NULL if none */
	size_t lead_len, trail_len;
} Tok;

typedef struct Map {
	int *slot; /* index into vars/bufs, -1 empty */
	uint32_t cap, n;
} Map;

typedef struct P {
	const char *src, *pos;
	int line, col;
	const char *file;
	Tok tok;
	LProgram *prog;
	Diag *d;
	jmp_buf jb;
	int depth;
	char *str;         /* decoded name (quoted or plain), grown as needed */
	size_t str_cap;
	char *decl;        /* see hold_name */
	size_t decl_cap;
	Tok decl_tok;
	char bad[32];      /* TK_BAD text of the current token */
	Map vars, bufs;
} P;

/* ---- errors ------------------------------------------------------------- */

static void describe(const Tok *t, char *buf, size_t n)
{
	switch (t->kind) {
	case TK_EOF: snprintf(buf, n, "end of input"); return;
	case TK_BAD: snprintf(buf, n, "%s", t->bad); return;
	default: break;
	}
	size_t k = 0;
	buf[k++] = t->kind == TK_STRING ? '"' : '\'';
	size_t len = t->kind == TK_STRING && t->len >= 2 ? t->len - 2 : t->len;
	const char *s = t->kind == TK_STRING && t->len >= 2 ? t->s + 1 : t->s;
	for (size_t i = 0; i < len && k + 8 < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i >= 40) {
			k += (size_t)snprintf(buf + k, n - k, "...");
			break;
		}
		if (c < 0x20 || c >= 0x7f)
			k += (size_t)snprintf(buf + k, n - k, "\\x%02x", c);
		else
			buf[k++] = (char)c;
	}
	buf[k++] = t->kind == TK_STRING ? '"' : '\'';
	buf[k] = 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5), noreturn))
#endif
static void fail_at(P *p, int line, int col, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	diag_add(p->d, "%s:%d:%d: %s", p->file, line, col, msg);
	longjmp(p->jb, 1);
}

#if defined(__GNUC__)
__attribute__((noreturn))
#endif
static void expected(P *p, const char *what)
{
	char found[160];
	describe(&p->tok, found, sizeof found);
	fail_at(p, p->tok.line, p->tok.col, "expected %s, found %s", what, found);
}

static void *check(P *p, void *x)
{
	if (!x)
		fail_at(p, p->tok.line, p->tok.col, "out of memory");
	return x;
}

/* ---- lexer -------------------------------------------------------------- */

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alnum(int c) { return is_alpha(c) || is_digit(c); }

static void adv(P *p, size_t n)
{
	for (size_t i = 0; i < n && *p->pos; i++) {
		if (*p->pos == '\n') {
			p->line++;
			p->col = 1;
		} else {
			p->col++;
		}
		p->pos++;
	}
}

static void next(P *p)
{
	int first = p->pos == p->src;
	int line_blank = first;    /* nothing but blanks before pos on this line */
	int newline_seen = 0;      /* since the previous token */
	Tok t = {0};
	for (;;) {
		char c = *p->pos;
		if (c == '\n') {
			adv(p, 1);
			line_blank = 1;
			newline_seen = 1;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			adv(p, 1);
		} else if (c == '#') {
			const char *b = p->pos + 1, *e = b;
			while (*e && *e != '\n')
				e++;
			if (line_blank) {
				t.lead = b;
				t.lead_len = (size_t)(e - b);
			} else if (!newline_seen && !first) {
				t.trail = b;
				t.trail_len = (size_t)(e - b);
			}
			adv(p, (size_t)(e - p->pos));
		} else {
			break;
		}
	}
	t.s = p->pos;
	t.line = p->line;
	t.col = p->col;
	const char *s = p->pos;
	unsigned char c = (unsigned char)*s;
	size_t n = 1;
	if (c == 0) {
		t.kind = TK_EOF;
		n = 0;
	} else if (is_alpha(c)) {
		t.kind = TK_IDENT;
		for (;;) {
			while (is_alnum((unsigned char)s[n]))
				n++;
			if (s[n] == '.' && is_alnum((unsigned char)s[n + 1]))
				n++;
			else
				break;
		}
	} else if (is_digit(c) || (c == '-' && is_digit((unsigned char)s[1]))) {
		t.kind = TK_INT;
		n = c == '-' ? 1 : 0;
		while (is_digit((unsigned char)s[n]))
			n++;
		if (s[n] == '.' && is_digit((unsigned char)s[n + 1])) {
			t.kind = TK_FLOAT;
			n++;
			while (is_digit((unsigned char)s[n]))
				n++;
		}
		if ((s[n] == 'e' || s[n] == 'E') &&
		    (is_digit((unsigned char)s[n + 1]) ||
		     ((s[n + 1] == '+' || s[n + 1] == '-') && is_digit((unsigned char)s[n + 2])))) {
			t.kind = TK_FLOAT;
			n += 2;
			while (is_digit((unsigned char)s[n]))
				n++;
		}
	} else if (c == '-' && strncmp(s + 1, "inf", 3) == 0 && !is_alnum((unsigned char)s[4])) {
		t.kind = TK_FLOAT;
		n = 4;
	} else if (c == '"') {
		t.kind = TK_STRING;
		while (s[n] && s[n] != '"' && s[n] != '\n') {
			if (s[n] == '\\' && s[n + 1] && s[n + 1] != '\n')
				n++;
			n++;
		}
		if (s[n] != '"') {
			t.kind = TK_BAD;
			t.bad = "an unterminated string";
		} else {
			n++;
		}
	} else if (c == '.' && s[1] == '.') {
		t.kind = TK_DOTDOT;
		n = 2;
	} else if (strchr(":[](){},=<>@", c)) {
		t.kind = TK_PUNCT;
	} else {
		t.kind = TK_BAD;
		if (c >= 0x20 && c < 0x7f)
			snprintf(p->bad, sizeof p->bad, "character '%c'", c);
		else
			snprintf(p->bad, sizeof p->bad, "character '\\x%02x'", c);
		t.bad = p->bad;
	}
	t.len = n;
	p->tok = t;
	if (t.kind != TK_BAD)
		adv(p, n);
}

static int is_punct(const P *p, char c) { return p->tok.kind == TK_PUNCT && *p->tok.s == c; }

static int is_kw(const P *p, const char *w)
{
	size_t n = strlen(w);
	return p->tok.kind == TK_IDENT && p->tok.len == n && memcmp(p->tok.s, w, n) == 0;
}

static void expect_punct(P *p, char c, const char *what)
{
	if (!is_punct(p, c))
		expected(p, what);
	next(p);
}

static void expect_kw(P *p, const char *w, const char *what)
{
	if (!is_kw(p, w))
		expected(p, what);
	next(p);
}

/* ---- names -------------------------------------------------------------- */

static void str_reserve(P *p, size_t n)
{
	if (n <= p->str_cap)
		return;
	size_t nc = p->str_cap ? p->str_cap : 64;
	while (nc < n)
		nc *= 2;
	char *s = check(p, nnl_malloc(nc));
	free(p->str);
	p->str = s;
	p->str_cap = nc;
}

static int hexval(int c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A name: a plain identifier or a quoted string; a variable's plain name
 * must not be an expression word (is_var). The decoded text is in p->str
 * until the next call. */
static const char *name(P *p, const char *what, int is_var)
{
	Tok t = p->tok;
	if (t.kind == TK_IDENT) {
		str_reserve(p, t.len + 1);
		memcpy(p->str, t.s, t.len);
		p->str[t.len] = 0;
		if (is_var && loop_is_reserved(p->str))
			expected(p, what);
	} else if (t.kind == TK_STRING) {
		str_reserve(p, t.len + 1);
		size_t k = 0;
		for (size_t i = 1; i + 1 < t.len; i++) {
			char c = t.s[i];
			if (c == '\\') {
				char e = t.s[++i];
				if (e == '\\' || e == '"') {
					c = e;
				} else if (e == 'x' && i + 2 < t.len && hexval((unsigned char)t.s[i + 1]) >= 0 &&
				           hexval((unsigned char)t.s[i + 2]) >= 0) {
					c = (char)(hexval((unsigned char)t.s[i + 1]) * 16 + hexval((unsigned char)t.s[i + 2]));
					i += 2;
					if (c == 0)
						fail_at(p, t.line, t.col, "a name cannot contain \\x00");
				} else {
					fail_at(p, t.line, t.col, "unknown escape in string (expected \\\\, \\\" or \\xHH)");
				}
			}
			p->str[k++] = c;
		}
		p->str[k] = 0;
	} else {
		expected(p, what);
	}
	next(p);
	return p->str;
}

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static const char *entry_name(const P *p, const Map *m, int i)
{
	return m == &p->vars ? p->prog->vars[i].name : p->prog->bufs[i].name;
}

static int map_find(const P *p, const Map *m, const char *s)
{
	if (!m->cap)
		return -1;
	for (uint32_t h = hash(s) & (m->cap - 1);; h = (h + 1) & (m->cap - 1)) {
		int i = m->slot[h];
		if (i < 0)
			return -1;
		if (strcmp(entry_name(p, m, i), s) == 0)
			return i;
	}
}

static void map_put(P *p, Map *m, int idx)
{
	if ((m->n + 1) * 2 > m->cap) {
		uint32_t nc = m->cap ? m->cap * 2 : 64;
		int *ns = check(p, nnl_malloc(nc * sizeof *ns));
		for (uint32_t i = 0; i < nc; i++)
			ns[i] = -1;
		for (uint32_t i = 0; i < m->cap; i++) {
			if (m->slot[i] < 0)
				continue;
			uint32_t h = hash(entry_name(p, m, m->slot[i])) & (nc - 1);
			while (ns[h] >= 0)
				h = (h + 1) & (nc - 1);
			ns[h] = m->slot[i];
		}
		free(m->slot);
		m->slot = ns;
		m->cap = nc;
	}
	uint32_t h = hash(entry_name(p, m, idx)) & (m->cap - 1);
	while (m->slot[h] >= 0)
		h = (h + 1) & (m->cap - 1);
	m->slot[h] = idx;
	m->n++;
}

static int use_var(P *p)
{
	Tok at = p->tok;
	const char *s = name(p, "a variable name", 1);
	int v = map_find(p, &p->vars, s);
	if (v < 0)
		fail_at(p, at.line, at.col, "undeclared variable '%s'", s);
	return v;
}

static int use_buf(P *p)
{
	Tok at = p->tok;
	const char *s = name(p, "a buffer name", 0);
	int b = map_find(p, &p->bufs, s);
	if (b < 0)
		fail_at(p, at.line, at.col, "unknown buffer '%s'", s);
	return b;
}

static LType type(P *p)
{
	if (p->tok.kind == TK_IDENT && p->tok.len < 8) {
		char w[8];
		memcpy(w, p->tok.s, p->tok.len);
		w[p->tok.len] = 0;
		LType t = ltype_from_name(w);
		if (t != LT_VOID) {
			next(p);
			return t;
		}
	}
	expected(p, "a type (i1, i8, i16, i32, i64, u8, u16, f32, f64)");
}

/* A non-negative integer literal. */
static int64_t count(P *p, const char *what)
{
	if (p->tok.kind != TK_INT || *p->tok.s == '-')
		expected(p, what);
	char buf[32];
	if (p->tok.len >= sizeof buf)
		fail_at(p, p->tok.line, p->tok.col, "integer out of range (at most 2^63-1)");
	memcpy(buf, p->tok.s, p->tok.len);
	buf[p->tok.len] = 0;
	errno = 0;
	long long v = strtoll(buf, NULL, 10);
	if (errno == ERANGE)
		fail_at(p, p->tok.line, p->tok.col, "integer out of range (at most 2^63-1)");
	next(p);
	return (int64_t)v;
}

/* ---- expressions -------------------------------------------------------- */

static void enter(P *p)
{
	if (++p->depth > MAX_DEPTH)
		fail_at(p, p->tok.line, p->tok.col, "nesting deeper than %d levels", MAX_DEPTH);
}

static LExpr *expr(P *p);

static LExpr *number(P *p)
{
	Tok t = p->tok;
	char buf[512];
	if (t.len >= sizeof buf)
		fail_at(p, t.line, t.col, "number too long");
	memcpy(buf, t.s, t.len);
	buf[t.len] = 0;
	next(p);
	LType ty = t.kind == TK_INT ? LT_I32 : LT_F32;
	int suffixed = 0;
	if (is_punct(p, ':')) {
		next(p);
		ty = type(p);
		suffixed = 1;
	}
	if (t.kind == TK_IDENT || t.kind == TK_FLOAT) { /* inf, nan, -inf, 1.5, 1e3 */
		if (!ltype_is_float(ty))
			fail_at(p, t.line, t.col, "expected a float type (f32, f64) for the float constant %s", buf);
		if (t.kind == TK_IDENT && !suffixed)
			expected(p, "':' and a float type after inf or nan");
	}
	if (ltype_is_float(ty)) {
		double v;
		if (strcmp(buf, "nan") == 0)
			v = NAN;
		else if (strcmp(buf, "inf") == 0)
			v = INFINITY;
		else if (strcmp(buf, "-inf") == 0)
			v = -INFINITY;
		else
			v = ty == LT_F32 ? (double)strtof(buf, NULL) : strtod(buf, NULL);
		return check(p, le_float(p->prog, ty, v));
	}
	errno = 0;
	long long v = strtoll(buf, NULL, 10);
	if (errno == ERANGE)
		fail_at(p, t.line, t.col, "integer constant %s out of range (64 bits)", buf);
	return check(p, le_int(p->prog, ty, (int64_t)v));
}

static int find_op(const Tok *t, const char *(*nm)(int), int count_ops)
{
	for (int i = 0; i < count_ops; i++) {
		const char *s = nm(i);
		if (strlen(s) == t->len && memcmp(s, t->s, t->len) == 0)
			return i;
	}
	return -1;
}

static LExpr *expr(P *p)
{
	enter(p);
	LExpr *e = NULL;
	LProgram *g = p->prog;
	int op;
	if (p->tok.kind == TK_INT || p->tok.kind == TK_FLOAT || is_kw(p, "inf") || is_kw(p, "nan")) {
		e = number(p);
	} else if (p->tok.kind == TK_STRING) {
		e = check(p, le_var(g, use_var(p)));
	} else if (p->tok.kind != TK_IDENT) {
		expected(p, "an expression");
	} else if (is_kw(p, "load")) {
		next(p);
		int b = use_buf(p);
		expect_punct(p, '[', "'['");
		LExpr *i = expr(p);
		expect_punct(p, ']', "']'");
		e = check(p, le_load(g, b, i));
	} else if (is_kw(p, "cast") || is_kw(p, "cast_sat")) {
		int sat = p->tok.len == 8;
		next(p);
		expect_punct(p, '<', "'<'");
		LType t = type(p);
		expect_punct(p, '>', "'>'");
		expect_punct(p, '(', "'('");
		LExpr *a = expr(p);
		expect_punct(p, ')', "')'");
		e = check(p, le_cast(g, t, a, sat));
	} else if (is_kw(p, "select")) {
		next(p);
		expect_punct(p, '(', "'('");
		LExpr *c = expr(p);
		expect_punct(p, ',', "','");
		LExpr *a = expr(p);
		expect_punct(p, ',', "','");
		LExpr *b = expr(p);
		expect_punct(p, ')', "')'");
		e = check(p, le_select(g, c, a, b));
	} else if ((op = find_op(&p->tok, loop_bin_name, LO_COUNT_BIN)) >= 0) {
		next(p);
		expect_punct(p, '(', "'('");
		LExpr *a = expr(p);
		expect_punct(p, ',', "','");
		LExpr *b = expr(p);
		expect_punct(p, ')', "')'");
		e = check(p, le_bin(g, (LBinOp)op, a, b));
	} else if ((op = find_op(&p->tok, loop_un_name, LO_COUNT_UN)) >= 0) {
		next(p);
		expect_punct(p, '(', "'('");
		LExpr *a = expr(p);
		expect_punct(p, ')', "')'");
		e = check(p, le_un(g, (LUnOp)op, a));
	} else {
		e = check(p, le_var(g, use_var(p)));
	}
	p->depth--;
	return e;
}

/* ---- statements --------------------------------------------------------- */

static const char *label_of(P *p, const Tok *t)
{
	if (!t->lead)
		return NULL;
	const char *b = t->lead, *e = t->lead + t->lead_len;
	while (b < e && ((unsigned char)*b <= ' ' || *b == 0x7f))
		b++;
	while (e > b && ((unsigned char)e[-1] <= ' ' || e[-1] == 0x7f))
		e--;
	if (b == e)
		return NULL;
	str_reserve(p, (size_t)(e - b) + 1);
	size_t k = 0;
	for (; b < e; b++)
		p->str[k++] = ((unsigned char)*b < ' ' || *b == 0x7f) ? ' ' : *b;
	p->str[k] = 0;
	return check(p, (void *)loop_strdup(p->prog, p->str));
}

static void stmts(P *p, LStmtList *to, int top);

static void block(P *p, LStmtList *to)
{
	expect_punct(p, '{', "'{'");
	stmts(p, to, 0);
	expect_punct(p, '}', "'}'");
}

/* The name being declared by a for or let, kept while its bounds or value
 * are parsed (they may not refer to it: it is declared afterwards). */
static void hold_name(P *p, const char *what)
{
	p->decl_tok = p->tok;
	const char *s = name(p, what, 1);
	size_t n = strlen(s) + 1;
	if (n > p->decl_cap) {
		char *d = check(p, nnl_malloc(n));
		free(p->decl);
		p->decl = d;
		p->decl_cap = n;
	}
	memcpy(p->decl, s, n);
}

static int declare_held(P *p, LType t, int is_loop)
{
	const Tok *at = &p->decl_tok;
	if (map_find(p, &p->vars, p->decl) >= 0)
		fail_at(p, at->line, at->col, "variable '%s' is already declared (names are unique in a program)", p->decl);
	int v = loop_add_var(p->prog, p->decl, t, is_loop);
	if (v < 0)
		fail_at(p, at->line, at->col, "out of memory");
	map_put(p, &p->vars, v);
	return v;
}

static void stmt(P *p, LStmtList *to)
{
	enter(p);
	Tok first = p->tok;
	LProgram *g = p->prog;
	LStmt *s = NULL;
	if (is_kw(p, "for")) {
		next(p);
		hold_name(p, "a loop variable name");
		expect_kw(p, "in", "'in'");
		LExpr *lo = expr(p);
		if (p->tok.kind != TK_DOTDOT)
			expected(p, "'..'");
		next(p);
		LExpr *hi = expr(p);
		int64_t step = 1;
		if (is_kw(p, "step")) {
			next(p);
			Tok st = p->tok;
			step = count(p, "a positive integer step");
			if (step < 1)
				fail_at(p, st.line, st.col, "the step of a for must be positive");
		}
		int nounroll = 0;
		if (is_kw(p, "nounroll")) {
			next(p);
			nounroll = 1;
		}
		int v = declare_held(p, LT_I32, 1);
		s = check(p, ls_for(g, to, v, lo, hi, step));
		s->nounroll = nounroll;
		block(p, &s->body);
	} else if (is_kw(p, "let")) {
		next(p);
		hold_name(p, "a variable name");
		expect_punct(p, ':', "':'");
		LType t = type(p);
		expect_punct(p, '=', "'='");
		LExpr *val = expr(p);
		int v = declare_held(p, t, 0);
		s = check(p, ls_let(g, to, v, val));
	} else if (is_kw(p, "set")) {
		next(p);
		int v = use_var(p);
		expect_punct(p, '=', "'='");
		LExpr *val = expr(p);
		s = check(p, ls_set(g, to, v, val));
	} else if (is_kw(p, "store")) {
		next(p);
		int b = use_buf(p);
		expect_punct(p, '[', "'['");
		LExpr *i = expr(p);
		expect_punct(p, ']', "']'");
		expect_punct(p, '=', "'='");
		LExpr *val = expr(p);
		s = check(p, ls_store(g, to, b, i, val));
	} else if (is_kw(p, "if")) {
		next(p);
		LExpr *c = expr(p);
		s = check(p, ls_if(g, to, c));
		block(p, &s->body);
		if (is_kw(p, "else")) {
			next(p);
			block(p, &s->els);
		}
	} else {
		expected(p, "a statement (for, let, set, store, if)");
	}
	s->label = label_of(p, &first);
	p->depth--;
}

static void stmts(P *p, LStmtList *to, int top)
{
	while (top ? p->tok.kind != TK_EOF : !is_punct(p, '}')) {
		if (p->tok.kind == TK_EOF)
			expected(p, "a statement or '}'");
		stmt(p, to);
	}
}

/* ---- declarations ------------------------------------------------------- */

static void buffer(P *p)
{
	static const char *const kinds[] = {"const", "arena", "input", "output"};
	next(p);
	Tok at = p->tok;
	const char *s = name(p, "a buffer name", 0);
	if (map_find(p, &p->bufs, s) >= 0)
		fail_at(p, at.line, at.col, "buffer '%s' is already declared", s);
	int b = loop_add_buf(p->prog, s, LB_CONST, LT_F32, 0);
	if (b < 0)
		fail_at(p, at.line, at.col, "out of memory");
	map_put(p, &p->bufs, b);
	LBuf *buf = &p->prog->bufs[b];
	expect_punct(p, ':', "':'");
	int k = 0;
	while (k < 4 && !is_kw(p, kinds[k]))
		k++;
	if (k == 4)
		expected(p, "a buffer kind (const, arena, input, output)");
	next(p);
	buf->kind = (LBufKind)k;
	buf->type = type(p);
	expect_punct(p, '[', "'['");
	buf->numel = count(p, "a number of elements");
	expect_punct(p, ']', "']'");
	if (is_punct(p, '@')) {
		next(p);
		buf->offset = count(p, "a byte offset");
	}
	if (is_kw(p, "align")) {
		next(p);
		Tok t = p->tok;
		int64_t a = count(p, "an alignment in bytes");
		if (a < 1 || a > (1 << 30))
			fail_at(p, t.line, t.col, "expected an alignment between 1 and 2^30, found %" PRId64, a);
		buf->align = (int)a;
	}
	/* The lexer has read the next token: a comment on the declaration's line
	 * came with it. */
	if (p->tok.trail) {
		const char *c = p->tok.trail, *e = c + p->tok.trail_len;
		while (c < e && ((unsigned char)*c <= ' ' || *c == 0x7f))
			c++;
		while (e > c && ((unsigned char)e[-1] <= ' ' || e[-1] == 0x7f))
			e--;
		if (c < e) {
			buf->origin = check(p, nnl_malloc((size_t)(e - c) + 1));
			size_t n = 0;
			for (; c < e; c++)
				buf->origin[n++] = ((unsigned char)*c < ' ' || *c == 0x7f) ? ' ' : *c;
			buf->origin[n] = 0;
		}
	}
}

LProgram *loop_parse(const char *text, const char *filename, Diag *d)
{
	LProgram *const prog = loop_new("");
	if (!prog) {
		diag_add(d, "%s: out of memory", filename ? filename : "<loop>");
		return NULL;
	}
	P *const p = nnl_calloc(1, sizeof *p);
	if (!p) {
		loop_free(prog);
		diag_add(d, "%s: out of memory", filename ? filename : "<loop>");
		return NULL;
	}
	p->src = p->pos = text ? text : "";
	p->line = p->col = 1;
	p->file = filename ? filename : "<loop>";
	p->prog = prog;
	p->d = d;
	LProgram *result = NULL;
	if (setjmp(p->jb) == 0) {
		next(p);
		expect_kw(p, "program", "'program'");
		Tok at = p->tok;
		const char *s = name(p, "a program name", 0);
		char *pn = nnl_strdup(s);
		if (!pn)
			fail_at(p, at.line, at.col, "out of memory");
		free(prog->name);
		prog->name = pn;
		int have_arena = 0;
		for (;;) {
			if (is_kw(p, "arena")) {
				if (have_arena)
					fail_at(p, p->tok.line, p->tok.col, "a second arena declaration");
				have_arena = 1;
				next(p);
				prog->arena_bytes = count(p, "the arena size in bytes");
			} else if (is_kw(p, "buffer")) {
				buffer(p);
			} else {
				break;
			}
		}
		stmts(p, &prog->body, 1);
		result = prog;
	}
	free(p->str);
	free(p->decl);
	free(p->vars.slot);
	free(p->bufs.slot);
	free(p);
	if (!result)
		loop_free(prog);
	return result;
}
