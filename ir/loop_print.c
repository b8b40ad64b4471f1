/* loop_print.c — the loop IR's text form (grammar: docs/loop-ir.md).
 *
 * The output is canonical, so print(parse(print(p))) == print(p):
 *   - names that are not plain identifiers, and variables spelled like an
 *     expression word (load, cast, add, ...), are printed as quoted strings
 *     ("features.0/w" stays a name, never a token);
 *   - labels and origins are printed as comments, with control characters
 *     replaced by spaces and surrounding blanks trimmed (the parser trims too);
 *   - constants carry their type unless it is i32; floats are printed with
 *     %.9g (f32) / %.17g (f64), which read back to the same value; inf and
 *     nan are spelled out;
 *   - the step of a for is printed only when it is not 1, align always.
 * A malformed tree (NULL operand, index out of range) prints as "?" so that
 * the printer never crashes; such text does not parse.
 */
#include "loop.h"
#include "loop_text.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Out {
	char *s;
	size_t n, cap;
	int oom;
} Out;

static void out_raw(Out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->n + n + 1 > o->cap) {
		size_t nc = o->cap ? o->cap : 1024;
		while (o->n + n + 1 > nc)
			nc *= 2;
		char *ns = nnl_malloc(nc);
		if (!ns) {
			o->oom = 1;
			return;
		}
		if (o->n)
			memcpy(ns, o->s, o->n);
		free(o->s);
		o->s = ns;
		o->cap = nc;
	}
	memcpy(o->s + o->n, s, n);
	o->n += n;
	o->s[o->n] = 0;
}

static void out_s(Out *o, const char *s) { out_raw(o, s, strlen(s)); }

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void out_f(Out *o, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	out_raw(o, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void indent(Out *o, int depth)
{
	for (int i = 0; i < depth; i++)
		out_raw(o, "  ", 2);
}

static const char *const bin_names[LO_COUNT_BIN] = {
	"add", "sub", "mul", "div", "rem", "min", "max", "and", "or", "xor",
	"shl", "shr", "lt", "le", "gt", "ge", "eq", "ne", "pow", "dot2",
};
static const char *const un_names[LO_COUNT_UN] = {
	"neg", "abs", "not", "exp", "log", "sqrt", "tanh", "erf", "floor", "ceil", "round",
	"sxtb16", "sxtb16h",
};

const char *loop_bin_name(int op) { return op >= 0 && op < LO_COUNT_BIN ? bin_names[op] : NULL; }
const char *loop_un_name(int op) { return op >= 0 && op < LO_COUNT_UN ? un_names[op] : NULL; }

/* Words that start an expression: a variable spelled like one is quoted.
 * Everywhere else (statement keywords, types, buffer and program names) the
 * position alone tells a name from a keyword. */
int loop_is_reserved(const char *s)
{
	static const char *const words[] = {"load", "cast", "cast_sat", "select", "inf", "nan"};
	for (size_t i = 0; i < sizeof words / sizeof *words; i++)
		if (strcmp(s, words[i]) == 0)
			return 1;
	for (int i = 0; i < LO_COUNT_BIN; i++)
		if (strcmp(s, bin_names[i]) == 0)
			return 1;
	for (int i = 0; i < LO_COUNT_UN; i++)
		if (strcmp(s, un_names[i]) == 0)
			return 1;
	return 0;
}

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_alnum(int c) { return is_alpha(c) || (c >= '0' && c <= '9'); }

/* identifier: [A-Za-z_][A-Za-z0-9_]* ('.' [A-Za-z0-9_]+)* */
static int is_plain_name(const char *s)
{
	if (!is_alpha((unsigned char)s[0]))
		return 0;
	for (const char *c = s + 1; *c; c++) {
		if (*c == '.') {
			if (!is_alnum((unsigned char)c[1]))
				return 0;
		} else if (!is_alnum((unsigned char)*c)) {
			return 0;
		}
	}
	return 1;
}

/* A name; is_var: a variable, which must not look like an expression word. */
static void out_name(Out *o, const char *s, int is_var)
{
	if (!s) {
		out_s(o, "?");
		return;
	}
	if (is_plain_name(s) && !(is_var && loop_is_reserved(s))) {
		out_s(o, s);
		return;
	}
	out_raw(o, "\"", 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			out_f(o, "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			out_f(o, "\\x%02x", *c);
		else
			out_raw(o, (const char *)c, 1);
	}
	out_raw(o, "\"", 1);
}

/* A comment's text: control characters become spaces, blanks trimmed. */
static void out_comment_text(Out *o, const char *s)
{
	const char *b = s, *e = s + strlen(s);
	while (b < e && ((unsigned char)*b <= ' ' || *b == 0x7f))
		b++;
	while (e > b && ((unsigned char)e[-1] <= ' ' || e[-1] == 0x7f))
		e--;
	for (; b < e; b++)
		out_raw(o, ((unsigned char)*b < ' ' || *b == 0x7f) ? " " : b, 1);
}

static int has_comment_text(const char *s)
{
	if (!s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s > ' ' && *s != 0x7f)
			return 1;
	return 0;
}

static void out_type(Out *o, LType t) { out_s(o, ltype_name(t)); }

static void out_const(Out *o, const LExpr *e)
{
	if (e->type == LT_F32 || e->type == LT_F64) {
		double v = e->type == LT_F32 ? (double)(float)e->fval : e->fval;
		if (isnan(v))
			out_s(o, "nan");
		else if (isinf(v))
			out_s(o, v < 0 ? "-inf" : "inf");
		else
			out_f(o, e->type == LT_F32 ? "%.9g" : "%.17g", v);
		out_raw(o, ":", 1);
		out_type(o, e->type);
		return;
	}
	out_f(o, "%" PRId64, e->ival);
	if (e->type != LT_I32) {
		out_raw(o, ":", 1);
		out_type(o, e->type);
	}
}

static void out_expr(Out *o, const LProgram *p, const LExpr *e)
{
	if (!e) {
		out_s(o, "?");
		return;
	}
	switch (e->kind) {
	case LE_CONST:
		out_const(o, e);
		return;
	case LE_VAR:
		out_name(o, e->var >= 0 && e->var < p->n_vars ? p->vars[e->var].name : NULL, 1);
		return;
	case LE_LOAD:
		out_s(o, "load ");
		out_name(o, e->buf >= 0 && e->buf < p->n_bufs ? p->bufs[e->buf].name : NULL, 0);
		out_raw(o, "[", 1);
		out_expr(o, p, e->a);
		out_raw(o, "]", 1);
		return;
	case LE_BIN: {
		const char *n = loop_bin_name(e->op);
		out_s(o, n ? n : "?");
		out_raw(o, "(", 1);
		out_expr(o, p, e->a);
		out_s(o, ", ");
		out_expr(o, p, e->b);
		out_raw(o, ")", 1);
		return;
	}
	case LE_UN: {
		const char *n = loop_un_name(e->op);
		out_s(o, n ? n : "?");
		out_raw(o, "(", 1);
		out_expr(o, p, e->a);
		out_raw(o, ")", 1);
		return;
	}
	case LE_CAST:
		out_s(o, e->sat ? "cast_sat<" : "cast<");
		out_type(o, e->type);
		out_s(o, ">(");
		out_expr(o, p, e->a);
		out_raw(o, ")", 1);
		return;
	case LE_SELECT:
		out_s(o, "select(");
		out_expr(o, p, e->a);
		out_s(o, ", ");
		out_expr(o, p, e->b);
		out_s(o, ", ");
		out_expr(o, p, e->c);
		out_raw(o, ")", 1);
		return;
	}
	out_s(o, "?");
}

static const char *var_name(const LProgram *p, int v) { return v >= 0 && v < p->n_vars ? p->vars[v].name : NULL; }

static void out_list(Out *o, const LProgram *p, const LStmtList *l, int depth);

static void out_stmt(Out *o, const LProgram *p, const LStmt *s, int depth)
{
	if (has_comment_text(s->label)) {
		indent(o, depth);
		out_s(o, "# ");
		out_comment_text(o, s->label);
		out_raw(o, "\n", 1);
	}
	indent(o, depth);
	switch (s->kind) {
	case LS_FOR:
		out_s(o, "for ");
		out_name(o, var_name(p, s->var), 1);
		out_s(o, " in ");
		out_expr(o, p, s->lo);
		out_s(o, "..");
		out_expr(o, p, s->hi);
		if (s->step != 1)
			out_f(o, " step %" PRId64, s->step);
		out_s(o, " {\n");
		out_list(o, p, &s->body, depth + 1);
		indent(o, depth);
		out_s(o, "}\n");
		return;
	case LS_LET:
		out_s(o, "let ");
		out_name(o, var_name(p, s->var), 1);
		out_s(o, ": ");
		out_type(o, s->var >= 0 && s->var < p->n_vars ? p->vars[s->var].type : LT_VOID);
		out_s(o, " = ");
		out_expr(o, p, s->val);
		out_raw(o, "\n", 1);
		return;
	case LS_SET:
		out_s(o, "set ");
		out_name(o, var_name(p, s->var), 1);
		out_s(o, " = ");
		out_expr(o, p, s->val);
		out_raw(o, "\n", 1);
		return;
	case LS_STORE:
		out_s(o, "store ");
		out_name(o, s->buf >= 0 && s->buf < p->n_bufs ? p->bufs[s->buf].name : NULL, 0);
		out_raw(o, "[", 1);
		out_expr(o, p, s->idx);
		out_s(o, "] = ");
		out_expr(o, p, s->val);
		out_raw(o, "\n", 1);
		return;
	case LS_IF:
		out_s(o, "if ");
		out_expr(o, p, s->cond);
		out_s(o, " {\n");
		out_list(o, p, &s->body, depth + 1);
		indent(o, depth);
		if (s->els.n > 0) {
			out_s(o, "} else {\n");
			out_list(o, p, &s->els, depth + 1);
			indent(o, depth);
		}
		out_s(o, "}\n");
		return;
	}
	out_s(o, "?\n");
}

static void out_list(Out *o, const LProgram *p, const LStmtList *l, int depth)
{
	for (int i = 0; i < l->n; i++)
		if (l->v[i])
			out_stmt(o, p, l->v[i], depth);
}

static const char *const kind_names[] = {"const", "arena", "input", "output"};

char *loop_print(const LProgram *p)
{
	Out o = {0};
	out_s(&o, "program ");
	out_name(&o, p->name, 0);
	out_raw(&o, "\n", 1);
	if (p->arena_bytes > 0)
		out_f(&o, "arena %" PRId64 "\n", p->arena_bytes);
	for (int i = 0; i < p->n_bufs; i++) {
		const LBuf *b = &p->bufs[i];
		out_s(&o, "buffer ");
		out_name(&o, b->name, 0);
		out_s(&o, ": ");
		out_s(&o, (unsigned)b->kind < 4 ? kind_names[b->kind] : "?");
		out_raw(&o, " ", 1);
		out_type(&o, b->type);
		out_f(&o, "[%" PRId64 "]", b->numel);
		if (b->offset >= 0)
			out_f(&o, " @ %" PRId64, b->offset);
		out_f(&o, " align %d", b->align);
		if (has_comment_text(b->origin)) {
			out_s(&o, "  # ");
			out_comment_text(&o, b->origin);
		}
		out_raw(&o, "\n", 1);
	}
	out_list(&o, p, &p->body, 0);
	if (o.oom) {
		free(o.s);
		return NULL;
	}
	return o.s;
}
