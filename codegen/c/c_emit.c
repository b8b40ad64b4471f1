/* c_emit.c — the C backend's file: loop IR → one C99 translation unit.
 *
 * Layout of the file (docs/codegen-c.md):
 *   comment (model, producer, how to build and call it)
 *   #include <math.h>, <stdint.h>; FP_CONTRACT off (no fused multiply-add,
 *   as nnllc's objects); NNL_ALIGNED / NNL_MAY_ALIAS for GCC-compatible
 *   compilers (empty elsewhere)
 *   the helpers the program uses (c_expr.c), each once
 *   const buffers: static const arrays, floats as IEEE bit patterns
 *   (uint32_t / uint64_t, read through nnl_f32/nnl_f64) so values are exact
 *   and large models compile quickly; integers as decimal
 *   int PREFIX_run(const IN_T *input, OUT_T *output, void *arena):
 *     NULL and alignment checks (NNL_ERR_NULL, NNL_ERR_ALIGN), one pointer
 *     per arena buffer at its byte offset (a may_alias type: the planner
 *     reuses bytes across element types), the statements, return NNL_OK.
 * Statements map one to one: for → a C for over int32_t (an increment that
 * could pass INT32_MAX ends the loop before it happens; a bound that the
 * body could change is computed once before the loop), let → a declaration,
 * set → an assignment, store → buf[i] = v, if → if/else; labels become
 * comments. Only referenced buffers and used helpers are emitted and a let
 * that is never read gets (void)x, so -Wall -Wextra stays quiet.
 */
#include "c_out.h"
#include "codegen.h"
#include "frontend.h"
#include "nnl_runtime.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- usage scan ------------------------------------------------------------- */

static void scan_expr(CCtx *c, const LExpr *e)
{
	if (!e)
		return;
	if (e->kind == LE_VAR)
		c->vread[e->var] = 1;
	if (e->kind == LE_LOAD)
		c->bused[e->buf] = 1;
	scan_expr(c, e->a);
	scan_expr(c, e->b);
	scan_expr(c, e->c);
}

static void scan_list(CCtx *c, const LStmtList *l)
{
	for (int i = 0; i < l->n; i++) {
		const LStmt *s = l->v[i];
		if (s->kind == LS_STORE)
			c->bused[s->buf] = 1;
		if (s->kind == LS_FOR)
			c->vread[s->var] = 1;
		scan_expr(c, s->lo);
		scan_expr(c, s->hi);
		scan_expr(c, s->idx);
		scan_expr(c, s->val);
		scan_expr(c, s->cond);
		scan_list(c, &s->body);
		scan_list(c, &s->els);
	}
}

/* ---- comments ---------------------------------------------------------------- */

/* text inside a comment: no comment end, no trigraph, no control characters */
static void comment_text(StrBuf *o, const char *s)
{
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch < 32 || ch == 127)
			sb_str(o, " ");
		else if (ch == '*' && s[1] == '/')
			sb_str(o, "* ");
		else if (ch == '?' && s[1] == '?')
			sb_str(o, "? ");
		else if (ch == '/' && s[1] == '*')
			sb_str(o, "/ ");
		else
			sb_mem(o, s, 1);
	}
}

/* ---- statements -------------------------------------------------------------- */

/* A for bound that no statement of the body can change: constants, loop
 * variables (read-only), loads from const or input buffers. */
static int stable(const CCtx *c, const LExpr *e)
{
	if (!e)
		return 1;
	switch (e->kind) {
	case LE_CONST: return 1;
	case LE_VAR: return c->p->vars[e->var].is_loop;
	case LE_LOAD:
		if (c->p->bufs[e->buf].kind != LB_CONST && c->p->bufs[e->buf].kind != LB_INPUT)
			return 0;
		break;
	default: break;
	}
	return stable(c, e->a) && stable(c, e->b) && stable(c, e->c);
}

static void stmts(CCtx *c, StrBuf *o, const LStmtList *l, int depth);

static void for_stmt(CCtx *c, StrBuf *o, const LStmt *s, int depth)
{
	const char *v = c->vname[s->var];
	const char *end = NULL;
	char *end_alloc = NULL;
	if (!stable(c, s->hi)) {
		/* hi is evaluated once, before the loop (the body may change what it reads) */
		char base[80];
		snprintf(base, sizeof base, "%s_end", v);
		end = end_alloc = cc_fresh_name(c, base);
		if (!end) {
			c->error = 1;
			return;
		}
		co_indent(o, depth);
		sb_str(o, "{\n");
		depth++;
		co_indent(o, depth);
		sb_fmt(o, "const int32_t %s = ", end);
		cc_expr(c, o, s->hi, 1, 0);
		sb_str(o, ";\n");
	}
	co_indent(o, depth);
	sb_fmt(o, "for (int32_t %s = ", v);
	cc_expr(c, o, s->lo, 1, 0);
	sb_fmt(o, "; %s < ", v);
	if (end)
		sb_str(o, end);
	else
		cc_expr(c, o, s->hi, 1, 11 /* above relational */);
	/* the increment cannot overflow when v < hi <= INT32_MAX - step */
	int safe = s->step == 1 || (s->hi->kind == LE_CONST && s->hi->ival <= INT32_MAX - s->step);
	if (s->step == 1)
		sb_fmt(o, "; %s++) {\n", v);
	else
		sb_fmt(o, "; %s += %" PRId64 ") {\n", v, s->step);
	stmts(c, o, &s->body, depth + 1);
	if (!safe) {
		co_indent(o, depth + 1);
		sb_fmt(o, "if (%s > %" PRId64 ")\n", v, (int64_t)INT32_MAX - s->step);
		co_indent(o, depth + 2);
		sb_fmt(o, "break; /* %s + %" PRId64 " would pass INT32_MAX: the loop ends */\n", v, s->step);
	}
	co_indent(o, depth);
	sb_str(o, "}\n");
	if (end) {
		depth--;
		co_indent(o, depth);
		sb_str(o, "}\n");
	}
	free(end_alloc);
}

static void stmt(CCtx *c, StrBuf *o, const LStmt *s, int depth)
{
	if (s->label) {
		co_indent(o, depth);
		sb_str(o, "/* ");
		comment_text(o, s->label);
		sb_str(o, " */\n");
	}
	switch (s->kind) {
	case LS_FOR: for_stmt(c, o, s, depth); return;
	case LS_LET:
	case LS_SET:
		co_indent(o, depth);
		if (s->kind == LS_LET)
			sb_fmt(o, "%s ", cc_ctype(c->p->vars[s->var].type));
		sb_fmt(o, "%s = ", c->vname[s->var]);
		cc_expr(c, o, s->val, 0, 0);
		sb_str(o, ";\n");
		if (s->kind == LS_LET && !c->vread[s->var]) {
			co_indent(o, depth);
			sb_fmt(o, "(void)%s;\n", c->vname[s->var]);
		}
		return;
	case LS_STORE:
		co_indent(o, depth);
		sb_fmt(o, "%s[", c->bname[s->buf]);
		cc_expr(c, o, s->idx, 1, 0);
		sb_str(o, "] = ");
		cc_expr(c, o, s->val, 0, 0);
		sb_str(o, ";\n");
		return;
	case LS_IF:
		co_indent(o, depth);
		sb_str(o, "if (");
		cc_expr(c, o, s->cond, 0, 0);
		sb_str(o, ") {\n");
		stmts(c, o, &s->body, depth + 1);
		co_indent(o, depth);
		if (s->els.n) {
			sb_str(o, "} else {\n");
			stmts(c, o, &s->els, depth + 1);
			co_indent(o, depth);
		}
		sb_str(o, "}\n");
		return;
	}
	diag_add(c->d, "C backend: unknown statement kind %d", s->kind);
	c->error = 1;
}

static void stmts(CCtx *c, StrBuf *o, const LStmtList *l, int depth)
{
	for (int i = 0; i < l->n && !c->error; i++)
		stmt(c, o, l->v[i], depth);
}

/* ---- const data ---------------------------------------------------------------- */

static int64_t elem_bytes(LType t) { return ltype_bits(t) < 8 ? 1 : ltype_bits(t) / 8; }

static void const_array(CCtx *c, StrBuf *o, int i)
{
	const LBuf *b = &c->p->bufs[i];
	int fl = ltype_is_float(b->type);
	const char *et = b->type == LT_F32 ? "uint32_t" : b->type == LT_F64 ? "uint64_t" : cc_ctype(b->type);
	sb_str(o, "/* ");
	comment_text(o, b->name);
	sb_fmt(o, ": %s[%" PRId64 "]", ltype_name(b->type), b->numel);
	if (b->origin) {
		sb_str(o, ", ");
		comment_text(o, b->origin);
	}
	if (fl)
		sb_str(o, "; IEEE-754 bit patterns");
	sb_str(o, " */\n");
	sb_fmt(o, "static const %s %s[%" PRId64 "] NNL_ALIGNED(%d) = {", et, c->bname[i], b->numel,
	       b->align > 0 ? b->align : 1);
	if (!b->data) {
		sb_str(o, "0}; /* unbound: zeros */\n\n");
		return;
	}
	static const char hex[] = "0123456789abcdef";
	const unsigned char *d = b->data;
	int per = fl ? 8 : 16;
	char tmp[48];
	for (int64_t k = 0; k < b->numel && !o->oom; k++) {
		sb_str(o, k % per ? " " : "\n\t");
		size_t n = 0;
		if (b->type == LT_F32 || b->type == LT_F64) {
			int nb = b->type == LT_F32 ? 4 : 8;
			tmp[n++] = '0';
			tmp[n++] = 'x';
			for (int j = nb - 1; j >= 0; j--) { /* little-endian data, as every target */
				unsigned char by = d[k * nb + j];
				tmp[n++] = hex[by >> 4];
				tmp[n++] = hex[by & 15];
			}
			tmp[n++] = 'u';
			if (nb == 8) {
				tmp[n++] = 'l';
				tmp[n++] = 'l';
			}
			tmp[n++] = ',';
			sb_mem(o, tmp, n);
			continue;
		}
		int64_t v = 0;
		switch (b->type) {
		case LT_I1: v = d[k] & 1; break;
		case LT_I8: v = (int8_t)d[k]; break;
		case LT_U8: v = d[k]; break;
		case LT_I16: { int16_t x; memcpy(&x, d + k * 2, 2); v = x; break; }
		case LT_U16: { uint16_t x; memcpy(&x, d + k * 2, 2); v = x; break; }
		case LT_I32: { int32_t x; memcpy(&x, d + k * 4, 4); v = x; break; }
		case LT_I64: memcpy(&v, d + k * 8, 8); break;
		default: break;
		}
		if (b->type == LT_I64 && v == INT64_MIN)
			sb_str(o, "INT64_MIN,");
		else if (b->type == LT_I32 && v == INT32_MIN)
			sb_str(o, "INT32_MIN,");
		else if (b->type == LT_I64)
			sb_fmt(o, "INT64_C(%" PRId64 "),", v);
		else
			sb_fmt(o, "%" PRId64 ",", v);
	}
	sb_str(o, "\n};\n\n");
}

/* ---- the file ------------------------------------------------------------------- */

static int find_io(const LProgram *p, LBufKind k)
{
	int found = -1;
	for (int i = 0; i < p->n_bufs; i++)
		if (p->bufs[i].kind == k) {
			if (found >= 0)
				return -2;
			found = i;
		}
	return found;
}

static void file_comment(CCtx *c, StrBuf *o, int in, int out)
{
	const LProgram *p = c->p;
	const char *pre = c->o->prefix;
	int64_t weights = 0;
	for (int i = 0; i < p->n_bufs; i++)
		if (p->bufs[i].kind == LB_CONST)
			weights += p->bufs[i].numel * elem_bytes(p->bufs[i].type);
	sb_str(o, "/* ");
	if (c->o->filename)
		comment_text(o, c->o->filename);
	else
		sb_fmt(o, "%s.c", pre);
	sb_str(o, " — generated by ");
	comment_text(o, c->o->producer ? c->o->producer : "nnllc");
	sb_str(o, " from model '");
	comment_text(o, p->name);
	sb_str(o, "'; do not edit.\n *\n");
	sb_fmt(o,
	       " * Portable C99, target-independent: the loop IR nnllc compiles to native code,\n"
	       " * with the same semantics (docs/codegen-c.md), so outputs equal the native\n"
	       " * object's bit for bit. Any C99 compiler on a target with IEEE-754 float and\n"
	       " * FLT_EVAL_METHOD 0 (x86-64 SSE, Arm, RISC-V); link with -lm. Keep the\n"
	       " * default rounding mode and do not use -ffast-math.\n"
	       " *\n"
	       " *   int %s_run(const %s *input, %s *output, void *arena);\n"
	       " *\n"
	       " * %s.h has the sizes (%s_ARENA_BYTES = %" PRId64 ", aligned to %d), shapes and\n"
	       " * status codes. No heap, no global state: re-entrant with one arena per call.\n"
	       " * Weights: %" PRId64 " bytes of static const data (.rodata, flash).\n"
	       " */\n",
	       pre, cc_ctype(p->bufs[in].type), cc_ctype(p->bufs[out].type), pre, pre, p->arena_bytes,
	       cg_arena_align(p), weights);
}

static void prelude(CCtx *c, StrBuf *o)
{
	sb_str(o, "#include <math.h>\n"
	          "#include <stdint.h>\n\n"
	          "/* Each float operation rounds on its own, as in nnllc's native code: no\n"
	          " * contraction of a * b + c into a fused multiply-add. */\n"
	          "#if defined(__clang__)\n"
	          "#pragma STDC FP_CONTRACT OFF\n"
	          "#elif defined(__GNUC__)\n"
	          "#pragma GCC optimize(\"fp-contract=off\")\n"
	          "#endif\n\n"
	          "#if defined(__GNUC__)\n"
	          "#define NNL_ALIGNED(n) __attribute__((__aligned__(n)))\n"
	          "#define NNL_MAY_ALIAS __attribute__((__may_alias__))\n"
	          "#else\n"
	          "#define NNL_ALIGNED(n)\n"
	          "#define NNL_MAY_ALIAS\n"
	          "#endif\n\n");
	int any = 0;
	for (int t = 1; t < LT_COUNT; t++)
		if (c->alias[t]) {
			if (!any)
				sb_str(o, "/* Element types of arena buffers: planned buffers of different types share\n"
				          " * bytes, so their accesses must not be assumed apart (strict aliasing). */\n");
			any = 1;
			sb_fmt(o, "typedef %s nnl_arena_%s NNL_MAY_ALIAS;\n", cc_ctype((LType)t), ltype_name((LType)t));
		}
	if (any)
		sb_str(o, "\n");
}

/* The function: prototype, checks, buffer pointers, statements. */
static void function(CCtx *c, StrBuf *o, int in, int out)
{
	const LProgram *p = c->p;
	const char *pre = c->o->prefix;
	const char *it = cc_ctype(p->bufs[in].type), *ot = cc_ctype(p->bufs[out].type);
	sb_fmt(o, "int %s_run(const %s *input, %s *output, void *arena);\n\n", pre, it, ot);
	sb_fmt(o, "int %s_run(const %s *restrict input, %s *restrict output, void *restrict arena)\n{\n", pre, it, ot);
	if (p->arena_bytes > 0) {
		sb_fmt(o, "\tif (!input || !output || !arena)\n\t\treturn %d; /* NNL_ERR_NULL */\n", NNL_ERR_NULL);
		int align = cg_arena_align(p);
		if (align > 1)
			sb_fmt(o, "\tif ((uintptr_t)arena %% %du != 0)\n\t\treturn %d; /* NNL_ERR_ALIGN */\n", align,
			       NNL_ERR_ALIGN);
	} else {
		sb_fmt(o, "\tif (!input || !output)\n\t\treturn %d; /* NNL_ERR_NULL */\n", NNL_ERR_NULL);
	}
	int arena_used = 0;
	for (int i = 0; i < p->n_bufs; i++) {
		const LBuf *b = &p->bufs[i];
		if (b->kind != LB_ARENA || !c->bused[i])
			continue;
		if (!arena_used)
			sb_str(o, "\n\t/* activations, at their planned offsets in the arena */\n");
		arena_used = 1;
		sb_fmt(o, "\tnnl_arena_%s *const %s = (nnl_arena_%s *)(void *)((unsigned char *)arena + %" PRId64
		          "); /* %s[%" PRId64 "] */\n",
		       ltype_name(b->type), c->bname[i], ltype_name(b->type), b->offset, ltype_name(b->type), b->numel);
	}
	if (!arena_used)
		sb_str(o, "\t(void)arena;\n");
	sb_str(o, "\n");
}

char *cg_c_text(const LProgram *p, const CgCOptions *o, size_t *len, Diag *d)
{
	if (len)
		*len = 0;
	const char *pre = o ? o->prefix : NULL;
	int ok = pre && *pre && !(*pre >= '0' && *pre <= '9');
	for (const char *q = pre; ok && *q; q++)
		ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '_';
	if (!ok) {
		diag_add(d, "-name=%s: the prefix must be a C identifier (letters, digits, _; not starting with a digit)",
		         pre ? pre : "");
		return NULL;
	}
	if (loop_verify(p, d) < 0)
		return NULL;
	int in = find_io(p, LB_INPUT), out = find_io(p, LB_OUTPUT);
	if (in < 0 || out < 0) {
		diag_add(d, "C backend: program '%s' needs exactly one input and one output buffer", p->name);
		return NULL;
	}
	for (int i = 0; i < p->n_bufs; i++)
		if (p->bufs[i].kind == LB_ARENA && (p->bufs[i].offset < 0 || p->arena_bytes <= 0)) {
			diag_add(d, "C backend: arena buffer '%s' has no planned offset (run the memory planner first)",
			         p->bufs[i].name);
			return NULL;
		}
	CCtx c = {.p = p, .o = o, .d = d};
	StrBuf body = {0}, file = {0};
	char *result = NULL;
	c.bname = nnl_calloc((size_t)p->n_bufs + 1, sizeof *c.bname);
	c.vname = nnl_calloc((size_t)p->n_vars + 1, sizeof *c.vname);
	c.bused = nnl_calloc((size_t)p->n_bufs + 1, 1);
	c.vread = nnl_calloc((size_t)p->n_vars + 1, 1);
	if (!c.bname || !c.vname || !c.bused || !c.vread || cc_assign_names(&c) < 0)
		goto oom;
	scan_list(&c, &p->body);
	for (int i = 0; i < p->n_bufs; i++)
		if (p->bufs[i].kind == LB_ARENA && c.bused[i])
			c.alias[p->bufs[i].type] = 1;

	/* the statements first: they decide which helpers exist */
	stmts(&c, &body, &p->body, 1);
	if (c.error)
		goto fail;
	sb_fmt(&body, "\treturn %d; /* NNL_OK */\n}\n", NNL_OK);

	file_comment(&c, &file, in, out);
	sb_str(&file, "\n");
	prelude(&c, &file);
	for (int i = 0; i < p->n_bufs; i++)
		if (p->bufs[i].kind == LB_CONST && c.bused[i] && ltype_is_float(p->bufs[i].type))
			cc_bits_helper(&c, p->bufs[i].type);
	if (c.help.n)
		sb_mem(&file, c.help.s, c.help.n);
	for (int i = 0; i < p->n_bufs; i++)
		if (p->bufs[i].kind == LB_CONST && c.bused[i])
			const_array(&c, &file, i);
	function(&c, &file, in, out);
	sb_mem(&file, body.s ? body.s : "", body.n);
	if (c.error)
		goto fail;
	if (file.oom || body.oom || c.help.oom || c.names.oom || c.helpers.oom)
		goto oom;
	result = file.s;
	file.s = NULL;
	if (len)
		*len = file.n;
	goto done;
oom:
	diag_add(d, "C backend: out of memory (program '%s')", p->name);
fail:
	free(file.s);
done:
	free(body.s);
	free(c.help.s);
	for (int i = 0; c.bname && i < p->n_bufs; i++)
		free(c.bname[i]);
	for (int i = 0; c.vname && i < p->n_vars; i++)
		free(c.vname[i]);
	free(c.bname);
	free(c.vname);
	free(c.bused);
	free(c.vread);
	cns_free(&c.names);
	cns_free(&c.helpers);
	return result;
}

int cg_c_write(const LProgram *p, const CgCOptions *o, const char *path, Diag *d)
{
	size_t len;
	char *s = cg_c_text(p, o, &len, d);
	if (!s)
		return -1;
	int rc = 0;
	if (!strcmp(path, "-")) {
		if (fwrite(s, 1, len, stdout) != len || fflush(stdout) != 0) {
			diag_add(d, "<stdout>: write error");
			rc = -1;
		}
	} else {
		rc = write_file_atomic(path, s, len, d);
	}
	free(s);
	return rc;
}
