/* c_out.h — private to codegen/c: the per-file state of the C backend
 * (names, helpers on demand, used buffers); text goes to StrBufs (strbuf.h). */
#ifndef NNL_C_OUT_H
#define NNL_C_OUT_H

#include "c_backend.h"
#include "strbuf.h"

#include <stdarg.h>
#include <stddef.h>

/* depth tabs */
void co_indent(StrBuf *o, int depth);

/* A set of strings (open addressing); the set owns its copies. */
typedef struct CNameSet {
	char **v;
	size_t cap, n;
	int oom;
} CNameSet;

int cns_has(const CNameSet *s, const char *name);
/* Add name (copied); 0, or -1 on out of memory. */
int cns_add(CNameSet *s, const char *name);
void cns_free(CNameSet *s);

typedef struct CCtx {
	const LProgram *p;
	const CgCOptions *o;
	Diag *d;
	char **bname;          /* C identifier of each buffer */
	char **vname;          /* C identifier of each variable */
	unsigned char *bused;  /* buffer referenced by the program */
	unsigned char *vread;  /* variable read somewhere */
	CNameSet names;        /* every identifier of the file */
	CNameSet helpers;      /* helpers emitted so far */
	StrBuf help;             /* their definitions, in dependency order */
	int alias[LT_COUNT];   /* an arena buffer of this type is used: NNL_MAY_ALIAS typedef */
	int error;
} CCtx;

/* c_names.c: C identifiers for the program's buffers and variables (unique,
 * not a keyword, not a name of <math.h>/<stdint.h>, not nnl_*). */
int cc_assign_names(CCtx *c);
/* A fresh identifier derived from base, registered; NULL on out of memory. */
char *cc_fresh_name(CCtx *c, const char *base);

/* c_expr.c: helpers and expressions. */
const char *cc_ctype(LType t);
/* Emit e into o. in_index: inside a load/store index or a for bound (i32
 * add/sub/mul are then plain C operators, as LLVM's nsw ones); ctx: the
 * lowest C precedence that needs no parentheses (0: a whole expression). */
void cc_expr(CCtx *c, StrBuf *o, const LExpr *e, int in_index, int ctx);
/* Append a float constant's exact C spelling. */
void cc_float_const(StrBuf *o, LType t, double v);
/* The helper that reads a float from its IEEE bit pattern (nnl_f32/nnl_f64). */
const char *cc_bits_helper(CCtx *c, LType t);

#endif
