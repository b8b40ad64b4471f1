/* loop_verify.c — the loop IR's static rules (docs/loop-ir.md, "Verifier").
 *
 * One walk over the statement tree with an explicit scope: a stack of the
 * variables declared so far; leaving a statement list pops what it declared,
 * leaving a for pops its variable. A variable is usable only while it is on
 * the stack, and each variable is declared exactly once in the program.
 * Expressions are checked bottom-up; a subexpression that failed yields
 * LT_VOID, which suppresses follow-on messages about its parents.
 * Messages say where: "<label>: body[3].body[0]: ..." (the label of the
 * nearest enclosing labelled statement, then the path from the top).
 */
#include "loop.h"
#include "loop_text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGES 50

typedef struct V {
	const LProgram *p;
	Diag *d;
	int nerr;
	char path[1024];
	size_t plen;
	const char *label;
	char *in_scope, *declared, *is_for;
	int *stack, sp;
} V;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void err(V *v, const char *fmt, ...)
{
	if (++v->nerr > MAX_MESSAGES) {
		if (v->nerr == MAX_MESSAGES + 1)
			diag_add(v->d, "loop program '%s': more errors not shown", v->p->name);
		return;
	}
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (v->plen == 0)
		diag_add(v->d, "loop program '%s': %s", v->p->name, msg);
	else if (v->label)
		diag_add(v->d, "%s: %s: %s", v->label, v->path, msg);
	else
		diag_add(v->d, "%s: %s", v->path, msg);
}

static const char *tn(LType t) { return ltype_name(t); }

static const char *vname(const V *v, int var) { return v->p->vars[var].name; }

static int bin_is_cmp(int op) { return op >= LO_LT && op <= LO_NE; }

static int int_fits(LType t, int64_t x)
{
	switch (t) {
	case LT_I1: return x == 0 || x == 1;
	case LT_I8: return x >= INT8_MIN && x <= INT8_MAX;
	case LT_I16: return x >= INT16_MIN && x <= INT16_MAX;
	case LT_I32: return x >= INT32_MIN && x <= INT32_MAX;
	case LT_U8: return x >= 0 && x <= UINT8_MAX;
	case LT_U16: return x >= 0 && x <= UINT16_MAX;
	default: return 1;
	}
}

static LType expr(V *v, const LExpr *e);

static LType want(V *v, const LExpr *e, LType t, const char *what)
{
	LType got = expr(v, e);
	if (got != LT_VOID && got != t) {
		err(v, "%s is %s, expected %s", what, tn(got), tn(t));
		return LT_VOID;
	}
	return got;
}

static LType expr(V *v, const LExpr *e)
{
	const LProgram *p = v->p;
	if (!e) {
		err(v, "missing expression");
		return LT_VOID;
	}
	if (e->type <= LT_VOID || e->type >= LT_COUNT) {
		err(v, "expression of type void or unknown type %d", (int)e->type);
		return LT_VOID;
	}
	switch (e->kind) {
	case LE_CONST:
		if (!ltype_is_float(e->type) && !int_fits(e->type, e->ival)) {
			err(v, "constant %" PRId64 " out of range for %s", e->ival, tn(e->type));
			return LT_VOID;
		}
		return e->type;
	case LE_VAR:
		if (e->var < 0 || e->var >= p->n_vars) {
			err(v, "variable index %d out of range", e->var);
			return LT_VOID;
		}
		if (!v->in_scope[e->var]) {
			err(v, "variable '%s' used out of scope (expected a use after its let or inside its for, "
			       "within the statement list that declares it)", vname(v, e->var));
			return LT_VOID;
		}
		if (e->type != p->vars[e->var].type) {
			err(v, "use of '%s' typed %s, expected %s (the variable's type)", vname(v, e->var), tn(e->type),
			    tn(p->vars[e->var].type));
			return LT_VOID;
		}
		return e->type;
	case LE_LOAD: {
		if (e->buf < 0 || e->buf >= p->n_bufs) {
			err(v, "load from buffer index %d out of range", e->buf);
			return LT_VOID;
		}
		const LBuf *b = &p->bufs[e->buf];
		char what[300];
		snprintf(what, sizeof what, "index of load from '%s'", b->name);
		LType ti = want(v, e->a, LT_I32, what);
		if (ti != LT_VOID && e->a->kind == LE_CONST && (e->a->ival < 0 || e->a->ival >= b->numel))
			err(v, "load from '%s' at constant index %" PRId64 ", expected 0..%" PRId64, b->name, e->a->ival,
			    b->numel - 1);
		if (e->type != b->type) {
			err(v, "load from '%s' typed %s, expected %s (the buffer's element type)", b->name, tn(e->type),
			    tn(b->type));
			return LT_VOID;
		}
		return ti == LT_VOID ? LT_VOID : e->type;
	}
	case LE_BIN: {
		const char *on = loop_bin_name(e->op);
		if (!on) {
			err(v, "binary op %d out of range", e->op);
			return LT_VOID;
		}
		LType ta = expr(v, e->a), tb = expr(v, e->b);
		if (ta == LT_VOID || tb == LT_VOID)
			return LT_VOID;
		if (ta != tb) {
			err(v, "%s operands are %s and %s, expected equal types (insert a cast)", on, tn(ta), tn(tb));
			return LT_VOID;
		}
		int ok = 1;
		const char *need = "";
		switch (e->op) {
		case LO_AND: case LO_OR: case LO_XOR:
			ok = !ltype_is_float(ta), need = "integer or i1";
			break;
		case LO_SHL: case LO_SHR:
			ok = !ltype_is_float(ta) && ta != LT_I1, need = "integer";
			break;
		case LO_POW:
			ok = ltype_is_float(ta), need = "float";
			break;
		case LO_DOT2:
			ok = ta == LT_I32, need = "i32";
			break;
		case LO_LT: case LO_LE: case LO_GT: case LO_GE: case LO_EQ: case LO_NE:
			break;
		default:
			ok = ta != LT_I1, need = "numeric (not i1)";
		}
		if (!ok) {
			err(v, "%s of %s operands, expected %s operands", on, tn(ta), need);
			return LT_VOID;
		}
		LType r = bin_is_cmp(e->op) ? LT_I1 : ta;
		if (e->type != r) {
			err(v, "%s typed %s, expected %s", on, tn(e->type), tn(r));
			return LT_VOID;
		}
		return r;
	}
	case LE_UN: {
		const char *on = loop_un_name(e->op);
		if (!on) {
			err(v, "unary op %d out of range", e->op);
			return LT_VOID;
		}
		LType ta = expr(v, e->a);
		if (ta == LT_VOID)
			return LT_VOID;
		int ok;
		const char *need;
		if (e->op == LU_NEG || e->op == LU_ABS)
			ok = ta != LT_I1, need = "a numeric (not i1)";
		else if (e->op == LU_NOT)
			ok = !ltype_is_float(ta), need = "an integer or i1";
		else if (e->op == LU_SXTB16 || e->op == LU_SXTB16H)
			ok = ta == LT_I32, need = "an i32";
		else
			ok = ltype_is_float(ta), need = "a float";
		if (!ok) {
			err(v, "%s of a %s operand, expected %s operand", on, tn(ta), need);
			return LT_VOID;
		}
		if (e->type != ta) {
			err(v, "%s typed %s, expected %s (its operand's type)", on, tn(e->type), tn(ta));
			return LT_VOID;
		}
		return ta;
	}
	case LE_CAST:
		return expr(v, e->a) == LT_VOID ? LT_VOID : e->type;
	case LE_SELECT: {
		if (want(v, e->a, LT_I1, "select condition") == LT_VOID)
			return LT_VOID;
		LType ta = expr(v, e->b), tb = expr(v, e->c);
		if (ta == LT_VOID || tb == LT_VOID)
			return LT_VOID;
		if (ta != tb) {
			err(v, "select arms are %s and %s, expected equal types", tn(ta), tn(tb));
			return LT_VOID;
		}
		if (e->type != ta) {
			err(v, "select typed %s, expected %s (its arms' type)", tn(e->type), tn(ta));
			return LT_VOID;
		}
		return ta;
	}
	}
	err(v, "unknown expression kind %d", (int)e->kind);
	return LT_VOID;
}

static void push_path(V *v, const char *seg, int i, size_t *saved)
{
	*saved = v->plen;
	int n = snprintf(v->path + v->plen, sizeof v->path - v->plen, "%s%s[%d]", v->plen ? "." : "", seg, i);
	if (n > 0)
		v->plen += (size_t)n < sizeof v->path - v->plen ? (size_t)n : sizeof v->path - v->plen - 1;
}

static void pop_path(V *v, size_t saved)
{
	v->plen = saved;
	v->path[saved] = 0;
}

static void declare(V *v, int var, int by_for)
{
	if (v->declared[var]) {
		err(v, "variable '%s' declared twice (expected exactly one let or for per variable)", vname(v, var));
		return;
	}
	v->declared[var] = 1;
	v->is_for[var] = (char)by_for;
	v->in_scope[var] = 1;
	v->stack[v->sp++] = var;
}

static void pop_scope(V *v, int mark)
{
	while (v->sp > mark)
		v->in_scope[v->stack[--v->sp]] = 0;
}

static void list(V *v, const LStmtList *l, const char *seg);

static int var_ok(V *v, int var, const char *stmt)
{
	if (var < 0 || var >= v->p->n_vars) {
		err(v, "%s of variable index %d out of range", stmt, var);
		return 0;
	}
	return 1;
}

static void stmt(V *v, const LStmt *s)
{
	const LProgram *p = v->p;
	switch (s->kind) {
	case LS_FOR: {
		want(v, s->lo, LT_I32, "for lower bound");
		want(v, s->hi, LT_I32, "for upper bound");
		if (s->step < 1)
			err(v, "for step %" PRId64 ", expected a positive constant", s->step);
		if (!var_ok(v, s->var, "for"))
			return;
		const LVar *x = &p->vars[s->var];
		if (x->type != LT_I32)
			err(v, "loop variable '%s' is %s, expected i32", x->name, tn(x->type));
		if (!x->is_loop)
			err(v, "loop variable '%s' is not marked is_loop", x->name);
		int mark = v->sp;
		declare(v, s->var, 1);
		list(v, &s->body, "body");
		pop_scope(v, mark);
		return;
	}
	case LS_LET: {
		if (!var_ok(v, s->var, "let"))
			return;
		const LVar *x = &p->vars[s->var];
		want(v, s->val, x->type, "value of let");
		if (x->is_loop)
			err(v, "let of loop variable '%s' (expected a variable with is_loop = 0)", x->name);
		declare(v, s->var, 0);
		return;
	}
	case LS_SET: {
		if (!var_ok(v, s->var, "set"))
			return;
		const LVar *x = &p->vars[s->var];
		if (!v->in_scope[s->var])
			err(v, "set of variable '%s' out of scope (expected it after its let, within its statement list)",
			    x->name);
		else if (v->is_for[s->var] || x->is_loop)
			err(v, "set of loop variable '%s' (loop variables are read-only)", x->name);
		want(v, s->val, x->type, "value of set");
		return;
	}
	case LS_STORE: {
		if (s->buf < 0 || s->buf >= p->n_bufs) {
			err(v, "store to buffer index %d out of range", s->buf);
			return;
		}
		const LBuf *b = &p->bufs[s->buf];
		if (b->kind == LB_CONST || b->kind == LB_INPUT)
			err(v, "store to %s buffer '%s' (expected an arena or output buffer)",
			    b->kind == LB_CONST ? "const" : "input", b->name);
		char what[300];
		snprintf(what, sizeof what, "index of store to '%s'", b->name);
		if (want(v, s->idx, LT_I32, what) != LT_VOID && s->idx->kind == LE_CONST &&
		    (s->idx->ival < 0 || s->idx->ival >= b->numel))
			err(v, "store to '%s' at constant index %" PRId64 ", expected 0..%" PRId64, b->name, s->idx->ival,
			    b->numel - 1);
		snprintf(what, sizeof what, "value stored to '%s'", b->name);
		want(v, s->val, b->type, what);
		return;
	}
	case LS_IF:
		want(v, s->cond, LT_I1, "if condition");
		list(v, &s->body, "then");
		list(v, &s->els, "else");
		return;
	}
	err(v, "unknown statement kind %d", (int)s->kind);
}

static void list(V *v, const LStmtList *l, const char *seg)
{
	int mark = v->sp;
	for (int i = 0; i < l->n; i++) {
		size_t saved;
		push_path(v, seg, i, &saved);
		const LStmt *s = l->v[i];
		if (!s) {
			err(v, "missing statement");
		} else {
			const char *outer = v->label;
			if (s->label && *s->label)
				v->label = s->label;
			stmt(v, s);
			v->label = outer;
		}
		pop_path(v, saved);
	}
	pop_scope(v, mark);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Names must be unique: sort a copy of the pointers and compare neighbours. */
static void check_unique(V *v, const char **names, int n, const char *what)
{
	qsort(names, (size_t)n, sizeof *names, cmp_str);
	for (int i = 1; i < n; i++)
		if (strcmp(names[i - 1], names[i]) == 0 && (i < 2 || strcmp(names[i - 2], names[i]) != 0))
			err(v, "two %ss named '%s' (expected unique names)", what, names[i]);
}

static void buffers(V *v)
{
	const LProgram *p = v->p;
	if (p->arena_bytes < 0)
		err(v, "arena_bytes %" PRId64 ", expected >= 0", p->arena_bytes);
	int planned = p->arena_bytes > 0;
	for (int i = 0; i < p->n_bufs; i++)
		if (p->bufs[i].kind == LB_ARENA && p->bufs[i].offset >= 0)
			planned = 1;
	for (int i = 0; i < p->n_bufs; i++) {
		const LBuf *b = &p->bufs[i];
		const char *n = b->name ? b->name : "?";
		if ((unsigned)b->kind > LB_OUTPUT)
			err(v, "buffer '%s': unknown kind %d", n, (int)b->kind);
		if (b->type <= LT_VOID || b->type >= LT_COUNT)
			err(v, "buffer '%s': element type void or unknown", n);
		if (b->numel < 1 || b->numel > INT32_MAX)
			err(v, "buffer '%s': %" PRId64 " elements, expected 1..2^31-1 (indices are i32)", n, b->numel);
		if (b->align < 1 || (b->align & (b->align - 1)))
			err(v, "buffer '%s': align %d, expected a power of two", n, b->align);
		if (b->kind != LB_ARENA || !planned || b->numel < 1 || b->numel > INT32_MAX || b->align < 1)
			continue;
		int64_t bytes = b->numel * ((ltype_bits(b->type) + 7) / 8);
		if (b->offset < 0)
			err(v, "arena buffer '%s' has no offset, expected one (the arena is planned)", n);
		else if (b->offset % b->align)
			err(v, "arena buffer '%s' at offset %" PRId64 ", expected a multiple of its align %d", n, b->offset,
			    b->align);
		else if (b->offset > p->arena_bytes || bytes > p->arena_bytes - b->offset)
			err(v, "arena buffer '%s' at %" PRId64 "..%" PRId64 " overflows the arena of %" PRId64
			       " bytes (expected offset + bytes <= arena)", n, b->offset, b->offset + bytes, p->arena_bytes);
	}
}

int loop_verify(const LProgram *p, Diag *d)
{
	V v = {.p = p, .d = d};
	int n = p->n_vars;
	v.in_scope = nnl_calloc((size_t)n + 1, 3);
	v.stack = nnl_malloc(((size_t)n + 1) * sizeof *v.stack);
	const char **names = nnl_malloc(((size_t)(n > p->n_bufs ? n : p->n_bufs) + 1) * sizeof *names);
	if (!v.in_scope || !v.stack || !names) {
		free(v.in_scope);
		free(v.stack);
		free(names);
		diag_add(d, "loop program '%s': out of memory while verifying", p->name);
		return -1;
	}
	v.declared = v.in_scope + n + 1;
	v.is_for = v.declared + n + 1;

	buffers(&v);
	int k = 0;
	for (int i = 0; i < p->n_bufs; i++)
		if (p->bufs[i].name)
			names[k++] = p->bufs[i].name;
	check_unique(&v, names, k, "buffer");
	k = 0;
	for (int i = 0; i < n; i++) {
		if (p->vars[i].name)
			names[k++] = p->vars[i].name;
		if (p->vars[i].type <= LT_VOID || p->vars[i].type >= LT_COUNT)
			err(&v, "variable '%s': type void or unknown", p->vars[i].name ? p->vars[i].name : "?");
	}
	check_unique(&v, names, k, "variable");
	list(&v, &p->body, "body");

	free(v.in_scope);
	free(v.stack);
	free(names);
	return v.nerr ? -1 : 0;
}
