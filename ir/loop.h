/* loop.h — the loop IR (plan §3): typed buffers and a statement tree of loop
 * nests over typed scalar expressions. Both backends (LLVM and C) read only
 * this IR, so native code and C compute the same thing.
 *
 * Buffers
 *   const   weights, placed in flash; data owned by the program
 *   arena   activations, at a byte offset in one static arena (planned)
 *   input   the model input (read-only), output the model output
 * Every buffer is a flat array of one element type; multi-dimensional
 * indexing is explicit arithmetic in the index expression, so passes see all
 * address computation. Indices are i32: a buffer holds < 2^31 elements.
 *
 * Statements
 *   for v in lo..hi step s { body }    lo, hi: i32 expressions, s > 0 constant
 *   let v: T = e                        declare a scalar variable (mutable, scoped
 *                                       to the enclosing statement list)
 *   set v = e                           assign a declared scalar variable
 *   store buf[idx] = e                  idx: i32, e: the buffer's element type
 *   if c { then } else { else }         c: i1
 * Expressions are typed; operands of a binary op share one type, so every
 * conversion is an explicit cast (saturating or not).
 *
 * Text form (printed by loop_print, read back by loop_parse; grammar and
 * rules in docs/loop-ir.md):
 *   program fashioncnn
 *   arena 172032
 *   buffer features.0.weight: const f32[144] align 16  # weights/features.0.weight.bin
 *   buffer features_0: arena f32[12544] @ 0 align 16
 *   buffer input: input f32[784] align 16
 *   buffer output: output f32[10] align 16
 *   # features.0 (Conv2d)
 *   for i0 in 0..16 {
 *     let acc: f32 = 0:f32
 *     set acc = add(acc, mul(load w0[add(mul(i0, 9), i1)], load input[i1]))
 *     store features_0[i0] = max(acc, 0:f32)
 *   }
 * Constant data is not part of the text; a parsed program's const buffers
 * are zero-filled unless data is bound separately.
 *
 * Memory: a program owns a pool from which all its statements and
 * expressions are allocated; loop_free releases everything at once.
 */
#ifndef NNL_LOOP_H
#define NNL_LOOP_H

#include "ir.h"

typedef enum LType {
	LT_VOID = 0,
	LT_I1,  /* conditions */
	LT_I8,
	LT_I16,
	LT_I32,
	LT_I64,
	LT_U8,
	LT_U16,
	LT_F32,
	LT_F64,
	LT_COUNT
} LType;

const char *ltype_name(LType t);           /* "f32" */
LType ltype_from_name(const char *s);      /* LT_VOID if unknown */
int ltype_bits(LType t);
int ltype_is_float(LType t);
int ltype_is_signed(LType t);
/* The loop type that holds a graph datatype, LT_VOID for packed/half types. */
LType ltype_of_dtype(DType t);

/* x reduced to integer type t by two's-complement wrap-around (the value kept
 * sign- or zero-extended in 64 bits); i64 and non-integer types unchanged.
 * Shared by the loop interpreter and constant folding so both wrap alike. */
static inline int64_t ltype_wrap(LType t, int64_t x)
{
	uint64_t u = (uint64_t)x;
	switch (t) {
	case LT_I1: return (int64_t)(u & 1);
	case LT_I8: u &= 0xff; return u >= 0x80 ? (int64_t)u - 0x100 : (int64_t)u;
	case LT_I16: u &= 0xffff; return u >= 0x8000 ? (int64_t)u - 0x10000 : (int64_t)u;
	case LT_I32: u &= 0xffffffffu; return u >= 0x80000000u ? (int64_t)u - INT64_C(0x100000000) : (int64_t)u;
	case LT_U8: return (int64_t)(u & 0xff);
	case LT_U16: return (int64_t)(u & 0xffff);
	default: return x;
	}
}

/* The packed-halves ops on i32 (loop IR dot2, sxtb16, sxtb16h): the
 * interpreter, constant folding and the C backend's portable helpers all mean
 * exactly this. Halves are two's-complement 16-bit; dot2 wraps to 32 bits. */
static inline int32_t loop_dot2(int32_t a, int32_t b)
{
	int64_t s = (int64_t)(int16_t)(uint16_t)(uint32_t)a * (int16_t)(uint16_t)(uint32_t)b +
	            (int64_t)(int16_t)(uint16_t)((uint32_t)a >> 16) * (int16_t)(uint16_t)((uint32_t)b >> 16);
	return (int32_t)(uint32_t)(uint64_t)s;
}
static inline int32_t loop_sxtb16(int32_t x, int high)
{
	uint32_t u = (uint32_t)x >> (high ? 8 : 0);
	uint32_t lo = (uint16_t)(int16_t)(int8_t)(uint8_t)u, hi = (uint16_t)(int16_t)(int8_t)(uint8_t)(u >> 16);
	return (int32_t)(lo | hi << 16);
}

/* The range [lo, hi] of integer type t (i64's for anything else). */
static inline void ltype_int_range(LType t, int64_t *lo, int64_t *hi)
{
	switch (t) {
	case LT_I1: *lo = 0, *hi = 1; return;
	case LT_I8: *lo = INT8_MIN, *hi = INT8_MAX; return;
	case LT_I16: *lo = INT16_MIN, *hi = INT16_MAX; return;
	case LT_I32: *lo = INT32_MIN, *hi = INT32_MAX; return;
	case LT_U8: *lo = 0, *hi = UINT8_MAX; return;
	case LT_U16: *lo = 0, *hi = UINT16_MAX; return;
	default: *lo = INT64_MIN, *hi = INT64_MAX; return;
	}
}

typedef enum LBufKind { LB_CONST, LB_ARENA, LB_INPUT, LB_OUTPUT } LBufKind;

typedef struct LBuf {
	char *name;
	LBufKind kind;
	LType type;
	int64_t numel;
	int64_t offset;     /* arena: byte offset, -1 until planned */
	int align;          /* bytes */
	void *data;         /* const: numel elements of type, owned; NULL if unbound */
	char *origin;       /* const: the weight file or tensor it came from (printed as a comment), may be NULL */
	int first, last;    /* arena: first and last top-level statement using it (liveness), -1 if unknown */
} LBuf;

typedef enum LExprKind {
	LE_CONST,   /* ival (integers, i1) or fval (floats) of type t */
	LE_VAR,     /* variable var */
	LE_LOAD,    /* buf[a] */
	LE_BIN,     /* op(a, b) */
	LE_UN,      /* op(a) */
	LE_CAST,    /* (t) a; sat: saturate integer results, round floats to nearest */
	LE_SELECT,  /* a ? b : c */
} LExprKind;

typedef enum LBinOp {
	LO_ADD, LO_SUB, LO_MUL, LO_DIV, LO_REM, /* integer DIV/REM truncate toward zero (C) */
	LO_MIN, LO_MAX,
	LO_AND, LO_OR, LO_XOR, LO_SHL, LO_SHR,  /* SHR: arithmetic for signed types */
	LO_LT, LO_LE, LO_GT, LO_GE, LO_EQ, LO_NE, /* result i1 */
	LO_POW,     /* floats only */
	LO_DOT2,    /* i32 only: the dot product of the two signed 16-bit halves (ARM smuad), wraps */
	LO_COUNT_BIN
} LBinOp;

typedef enum LUnOp {
	LU_NEG, LU_ABS, LU_NOT,
	LU_EXP, LU_LOG, LU_SQRT, LU_TANH, LU_ERF, LU_FLOOR, LU_CEIL, LU_ROUND, LU_TRUNC, /* floats */
	LU_SXTB16, LU_SXTB16H, /* i32 only: bytes 0 and 2 (1 and 3) sign-extended to 16-bit halves (ARM sxtb16, ror #8) */
	LO_COUNT_UN
} LUnOp;

typedef struct LExpr LExpr;
struct LExpr {
	LExprKind kind;
	LType type;
	int op;         /* LBinOp or LUnOp */
	int sat;        /* LE_CAST */
	int64_t ival;
	double fval;
	int var;        /* LE_VAR: index in program vars */
	int buf;        /* LE_LOAD: index in program bufs */
	LExpr *a, *b, *c;
};

typedef enum LStmtKind { LS_FOR, LS_LET, LS_SET, LS_STORE, LS_IF } LStmtKind;

typedef struct LStmt LStmt;
typedef struct LStmtList {
	LStmt **v;
	int n, cap;
} LStmtList;

struct LStmt {
	LStmtKind kind;
	const char *label;  /* optional: the graph node this nest computes (pool string), printed as "# label" */
	int var;            /* FOR: loop variable; LET/SET: the variable */
	int buf;            /* STORE */
	int64_t step;       /* FOR */
	int nounroll;       /* FOR: keep it a loop, not unrolled (printed "nounroll"; LLVM:
	                     * llvm.loop.unroll.disable): code size over the loop's overhead */
	LExpr *lo, *hi;     /* FOR bounds [lo, hi) */
	LExpr *idx, *val;   /* STORE: buf[idx] = val; LET/SET: val */
	LExpr *cond;        /* IF */
	LStmtList body;     /* FOR body, IF then */
	LStmtList els;      /* IF else */
};

typedef struct LVar {
	char *name;
	LType type;
	int is_loop;        /* a for variable (i32, read-only in its body) */
} LVar;

typedef struct LPool LPool; /* bump allocator, private to loop.c */

typedef struct LProgram {
	char *name;
	LBuf *bufs;
	int n_bufs, cap_bufs;
	LVar *vars;
	int n_vars, cap_vars;
	LStmtList body;
	int64_t arena_bytes;  /* size of the planned arena; 0 until planned */
	LPool *pool;
} LProgram;

/* ---- loop.c: construction ------------------------------------------------ */

LProgram *loop_new(const char *name);
void loop_free(LProgram *p);
/* Add a buffer (name copied); index or -1 on allocation failure. */
int loop_add_buf(LProgram *p, const char *name, LBufKind kind, LType type, int64_t numel);
int loop_find_buf(const LProgram *p, const char *name);
/* Add a variable; index or -1. Names must be unique in the program. */
int loop_add_var(LProgram *p, const char *name, LType type, int is_loop);
int loop_find_var(const LProgram *p, const char *name);
/* A fresh variable named prefix<N>. */
int loop_new_var(LProgram *p, const char *prefix, LType type, int is_loop);
const char *loop_strdup(LProgram *p, const char *s); /* pool string */

/* Expressions (allocated from the pool; NULL only on out of memory, and
 * every constructor passes a NULL operand through as NULL, so a chain of
 * calls needs one check at the end). Binary constructors do not insert casts. */
LExpr *le_int(LProgram *p, LType t, int64_t v);
LExpr *le_i32(LProgram *p, int64_t v);
LExpr *le_float(LProgram *p, LType t, double v);
LExpr *le_var(LProgram *p, int var);
LExpr *le_load(LProgram *p, int buf, LExpr *idx);
LExpr *le_bin(LProgram *p, LBinOp op, LExpr *a, LExpr *b);
LExpr *le_un(LProgram *p, LUnOp op, LExpr *a);
LExpr *le_cast(LProgram *p, LType t, LExpr *a, int sat);
LExpr *le_select(LProgram *p, LExpr *c, LExpr *a, LExpr *b);
/* Index helpers: a + b and a * k with constant folding of zeros and ones. */
LExpr *le_add(LProgram *p, LExpr *a, LExpr *b);
LExpr *le_mul_k(LProgram *p, LExpr *a, int64_t k);

/* Statements, appended to a list; NULL on out of memory. */
LStmt *ls_for(LProgram *p, LStmtList *to, int var, LExpr *lo, LExpr *hi, int64_t step);
LStmt *ls_let(LProgram *p, LStmtList *to, int var, LExpr *val);
LStmt *ls_set(LProgram *p, LStmtList *to, int var, LExpr *val);
LStmt *ls_store(LProgram *p, LStmtList *to, int buf, LExpr *idx, LExpr *val);
LStmt *ls_if(LProgram *p, LStmtList *to, LExpr *cond);

/* ---- loop_print.c / loop_parse.c: the text form --------------------------- */

/* The text form as a malloc'd string (NULL on out of memory). */
char *loop_print(const LProgram *p);
/* Parse the text form; NULL with "file:line:col: message" in d. */
LProgram *loop_parse(const char *text, const char *filename, Diag *d);

/* ---- loop_verify.c ------------------------------------------------------- */

/* Check types, scopes (variables declared before use, loop variables not
 * assigned), buffer kinds (no store to const or input), constant index
 * bounds where they can be proven out of range, arena placement inside
 * arena_bytes. 0 or -1 with messages. */
int loop_verify(const LProgram *p, Diag *d);

/* ---- loop_eval.c: a direct interpreter of the loop IR (for tests) -------- */

/* Run p: input and output as described by the input/output buffers, arena of
 * arena_bytes (allocated here). Bounds-checks every access: an out-of-range
 * index is an error naming the buffer and the statement. */
int loop_eval(const LProgram *p, const void *input, void *output, Diag *d);

#endif
