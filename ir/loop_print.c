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
#include "strbuf.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void indent(StrBuf *o, int depth)
{
	for (int i = 0; i < depth; i++)
		sb_mem(o, "  ", 2);
}

static const char *const bin_names[LO_COUNT_BIN] = {
	"add", "sub", "mul", "div", "rem", "min", "max", "and", "or", "xor",
	"shl", "shr", "lt", "le", "gt", "ge", "eq", "ne", "pow", "dot2",
};
static const char *const un_names[LO_COUNT_UN] = {
	"neg", "abs", "not", "exp", "log", "sqrt", "tanh", "erf", "floor", "ceil", "round", "trunc",
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
static void out_name(StrBuf *o, const char *s, int is_var)
{
	if (!s) {
		sb_str(o, "?");
		return;
	}
	if (is_plain_name(s) && !(is_var && loop_is_reserved(s))) {
		sb_str(o, s);
		return;
	}
	sb_mem(o, "\"", 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			sb_fmt(o, "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			sb_fmt(o, "\\x%02x", *c);
		else
			sb_mem(o, (const char *)c, 1);
	}
	sb_mem(o, "\"", 1);
}

/* A comment's text: control characters become spaces, blanks trimmed. */
static void out_comment_text(StrBuf *o, const char *s)
{
	const char *b = s, *e = s + strlen(s);
	while (b < e && ((unsigned char)*b <= ' ' || *b == 0x7f))
		b++;
	while (e > b && ((unsigned char)e[-1] <= ' ' || e[-1] == 0x7f))
		e--;
	for (; b < e; b++)
		sb_mem(o, ((unsigned char)*b < ' ' || *b == 0x7f) ? " " : b, 1);
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

static void out_type(StrBuf *o, LType t) { sb_str(o, ltype_name(t)); }

static void out_const(StrBuf *o, const LExpr *e)
{
	if (e->type == LT_F32 || e->type == LT_F64) {
		double v = e->type == LT_F32 ? (double)(float)e->fval : e->fval;
		if (isnan(v))
			sb_str(o, "nan");
		else if (isinf(v))
			sb_str(o, v < 0 ? "-inf" : "inf");
		else
			sb_fmt(o, e->type == LT_F32 ? "%.9g" : "%.17g", v);
		sb_mem(o, ":", 1);
		out_type(o, e->type);
		return;
	}
	sb_fmt(o, "%" PRId64, e->ival);
	if (e->type != LT_I32) {
		sb_mem(o, ":", 1);
		out_type(o, e->type);
	}
}

static void out_expr(StrBuf *o, const LProgram *p, const LExpr *e)
{
	if (!e) {
		sb_str(o, "?");
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
		sb_str(o, "load ");
		out_name(o, e->buf >= 0 && e->buf < p->n_bufs ? p->bufs[e->buf].name : NULL, 0);
		sb_mem(o, "[", 1);
		out_expr(o, p, e->a);
		sb_mem(o, "]", 1);
		return;
	case LE_BIN: {
		const char *n = loop_bin_name(e->op);
		sb_str(o, n ? n : "?");
		sb_mem(o, "(", 1);
		out_expr(o, p, e->a);
		sb_str(o, ", ");
		out_expr(o, p, e->b);
		sb_mem(o, ")", 1);
		return;
	}
	case LE_UN: {
		const char *n = loop_un_name(e->op);
		sb_str(o, n ? n : "?");
		sb_mem(o, "(", 1);
		out_expr(o, p, e->a);
		sb_mem(o, ")", 1);
		return;
	}
	case LE_CAST:
		sb_str(o, e->sat ? "cast_sat<" : "cast<");
		out_type(o, e->type);
		sb_str(o, ">(");
		out_expr(o, p, e->a);
		sb_mem(o, ")", 1);
		return;
	case LE_SELECT:
		sb_str(o, "select(");
		out_expr(o, p, e->a);
		sb_str(o, ", ");
		out_expr(o, p, e->b);
		sb_str(o, ", ");
		out_expr(o, p, e->c);
		sb_mem(o, ")", 1);
		return;
	}
	sb_str(o, "?");
}

static const char *var_name(const LProgram *p, int v) { return v >= 0 && v < p->n_vars ? p->vars[v].name : NULL; }

static void out_list(StrBuf *o, const LProgram *p, const LStmtList *l, int depth);

static void out_stmt(StrBuf *o, const LProgram *p, const LStmt *s, int depth)
{
	if (has_comment_text(s->label)) {
		indent(o, depth);
		sb_str(o, "# ");
		out_comment_text(o, s->label);
		sb_mem(o, "\n", 1);
	}
	indent(o, depth);
	switch (s->kind) {
	case LS_FOR:
		sb_str(o, "for ");
		out_name(o, var_name(p, s->var), 1);
		sb_str(o, " in ");
		out_expr(o, p, s->lo);
		sb_str(o, "..");
		out_expr(o, p, s->hi);
		if (s->step != 1)
			sb_fmt(o, " step %" PRId64, s->step);
		if (s->nounroll)
			sb_str(o, " nounroll");
		sb_str(o, " {\n");
		out_list(o, p, &s->body, depth + 1);
		indent(o, depth);
		sb_str(o, "}\n");
		return;
	case LS_LET:
		sb_str(o, "let ");
		out_name(o, var_name(p, s->var), 1);
		sb_str(o, ": ");
		out_type(o, s->var >= 0 && s->var < p->n_vars ? p->vars[s->var].type : LT_VOID);
		sb_str(o, " = ");
		out_expr(o, p, s->val);
		sb_mem(o, "\n", 1);
		return;
	case LS_SET:
		sb_str(o, "set ");
		out_name(o, var_name(p, s->var), 1);
		sb_str(o, " = ");
		out_expr(o, p, s->val);
		sb_mem(o, "\n", 1);
		return;
	case LS_STORE:
		sb_str(o, "store ");
		out_name(o, s->buf >= 0 && s->buf < p->n_bufs ? p->bufs[s->buf].name : NULL, 0);
		sb_mem(o, "[", 1);
		out_expr(o, p, s->idx);
		sb_str(o, "] = ");
		out_expr(o, p, s->val);
		sb_mem(o, "\n", 1);
		return;
	case LS_IF:
		sb_str(o, "if ");
		out_expr(o, p, s->cond);
		sb_str(o, " {\n");
		out_list(o, p, &s->body, depth + 1);
		indent(o, depth);
		if (s->els.n > 0) {
			sb_str(o, "} else {\n");
			out_list(o, p, &s->els, depth + 1);
			indent(o, depth);
		}
		sb_str(o, "}\n");
		return;
	}
	sb_str(o, "?\n");
}

static void out_list(StrBuf *o, const LProgram *p, const LStmtList *l, int depth)
{
	for (int i = 0; i < l->n; i++)
		if (l->v[i])
			out_stmt(o, p, l->v[i], depth);
}

static const char *const kind_names[] = {"const", "arena", "input", "output"};

char *loop_print(const LProgram *p)
{
	StrBuf o = {0};
	sb_str(&o, "program ");
	out_name(&o, p->name, 0);
	sb_mem(&o, "\n", 1);
	if (p->arena_bytes > 0)
		sb_fmt(&o, "arena %" PRId64 "\n", p->arena_bytes);
	for (int i = 0; i < p->n_bufs; i++) {
		const LBuf *b = &p->bufs[i];
		sb_str(&o, "buffer ");
		out_name(&o, b->name, 0);
		sb_str(&o, ": ");
		sb_str(&o, (unsigned)b->kind < 4 ? kind_names[b->kind] : "?");
		sb_mem(&o, " ", 1);
		out_type(&o, b->type);
		sb_fmt(&o, "[%" PRId64 "]", b->numel);
		if (b->offset >= 0)
			sb_fmt(&o, " @ %" PRId64, b->offset);
		sb_fmt(&o, " align %d", b->align);
		if (has_comment_text(b->origin)) {
			sb_str(&o, "  # ");
			out_comment_text(&o, b->origin);
		}
		sb_mem(&o, "\n", 1);
	}
	out_list(&o, p, &p->body, 0);
	if (o.oom) {
		free(o.s);
		return NULL;
	}
	return o.s;
}
