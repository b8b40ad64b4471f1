/* lopt_util.h — helpers shared by the cleanup and fusion loop passes (fuse,
 * dce, fold, cse, licm): structural walks over expressions and statements,
 * affine forms of i32 index expressions, cloning with substitution, and
 * statement-list surgery. Nothing here changes a program by itself.
 */
#ifndef NNL_LOPT_UTIL_H
#define NNL_LOPT_UTIL_H

#include "loop.h"

/* An affine i32 form Σ k[i]·var[i] + c, terms in the order first met. */
#define LAFF_MAX 32
typedef struct LAff {
	int n;
	int var[LAFF_MAX];
	int64_t k[LAFF_MAX];
	int64_t c;
} LAff;

/* e as an affine form over variables (add, sub, mul by a constant, neg,
 * constants and variables of type i32); 0, or -1 when e is not affine. */
int laff_of(const LExpr *e, LAff *a);
void laff_add_term(LAff *a, int var, int64_t k); /* -1 if full: caller checks n */
int64_t laff_coef(const LAff *a, int var);
/* The canonical expression of a: terms in order (var·k, or var when k = 1),
 * then the constant. NULL on out of memory. */
LExpr *laff_expr(LProgram *p, const LAff *a);

/* Structural equality of two expression trees. */
int lx_equal(const LExpr *a, const LExpr *b);
/* Does e (or the statement tree) read variable v / load buffer b? */
int lx_uses_var(const LExpr *e, int v);
int lx_loads_buf(const LExpr *e, int b);
/* Number of loads of buffer b in e. */
int lx_count_loads(const LExpr *e, int b);
/* May evaluating e fault in loop_eval (loads, integer div/rem, shifts,
 * non-saturating float->int casts)? Pure non-faulting expressions can be
 * evaluated more often, earlier or never without changing results. */
int lx_may_fault(const LExpr *e);
int lx_has_load(const LExpr *e);

/* Do two buffers share memory (same buffer, or arena buffers whose planned
 * byte ranges overlap)? */
int lopt_alias(const LProgram *p, int a, int b);
/* Does statement s (recursively) load from / store to a buffer aliasing b? */
int ls_reads_buf(const LProgram *p, const LStmt *s, int b);
int ls_writes_buf(const LProgram *p, const LStmt *s, int b);
/* Does statement s (recursively) read variable v (in any expression)? */
int ls_uses_var(const LStmt *s, int v);
/* Is v assigned by a set anywhere in s? */
int ls_sets_var(const LStmt *s, int v);

/* Clone e, replacing variables by vsub[v] (cloned again at each use) when
 * vsub[v] is set, else renaming by vmap[v] when vmap[v] >= 0, and loads of
 * buffer lbuf (when lbuf >= 0) by lval (used once, not cloned: the caller
 * guarantees one occurrence) or by a clone of lval if lval_clone. Either
 * array may be NULL. Index expressions of loads that become affine are
 * rewritten to canonical form. */
typedef struct LSubst {
	LExpr **vsub;
	const int *vmap;
	int lbuf;
	LExpr *lval;
	int lval_clone;
} LSubst;
LExpr *lx_clone(LProgram *p, const LExpr *e, const LSubst *s);
/* Canonical affine form of an i32 expression when it is affine, else e. */
LExpr *lx_canon_index(LProgram *p, LExpr *e);

/* Statement-list surgery (lists are pool arrays; the old array stays in the
 * pool). Replace element k of l by the n statements in v (n may be 0);
 * 0 or -1 on out of memory. */
int lopt_list_replace(LProgram *p, LStmtList *l, int k, LStmt *const *v, int n);
/* Append an existing statement to a list; 0 or -1. */
int lopt_list_push(LProgram *p, LStmtList *l, LStmt *s);
/* Remove element k of l. */
void lopt_list_remove(LStmtList *l, int k);

/* Remove buffer b from the program (no statement may use it any more):
 * later buffers move down one index, every load/store is renumbered. */
void lopt_remove_buf(LProgram *p, int b);
/* Recompute LBuf.first/last (top-level statements using each arena buffer),
 * as lowering does. */
void lopt_liveness(LProgram *p);

#endif
