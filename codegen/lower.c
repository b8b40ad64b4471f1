/* lower.c — graph IR → loop IR: one loop nest (or a few) per node, over typed
 * buffers, computing what the reference interpreter (ir/ops_*.c) computes
 * with the same formulas and, where it defines one, the same order of float
 * operations.
 *
 * requires: a model on which model_infer succeeded (shapes, dtypes and
 *           attribute values are checked; nothing is re-validated here beyond
 *           what the loop IR itself needs: every buffer < 2^31 elements).
 * provides: an LProgram with buffers "input" (LB_INPUT), "output" (LB_OUTPUT),
 *           one const buffer per constant tensor used (named after the tensor,
 *           sanitized to [A-Za-z0-9_] and made unique; origin = its data path
 *           or name; float16/bfloat16/float64 constants of float32 ops
 *           converted to f32 here), one arena buffer per computed activation
 *           (offsets: running sum aligned to 16, arena_bytes set; first/last =
 *           liveness over top-level statements), and top-level statements
 *           labelled "<id or output tensor> (<Op>)".
 *
 * Per op family (all float math in f32 unless the interpreter uses double):
 *   Conv1d/2d   per image (one top-level loop n), register blocks of 4
 *               output channels × 4 columns of a row (8 columns when a group
 *               has one output channel: depthwise): 16 f32 accumulators from
 *               0, taps in (ic, kh, kw) order, bias added last (as
 *               eval_conv). Padding is folded into the tap bounds, with no
 *               padded copy: border rows clamp the kh loop, the column
 *               blocks at the left/right border take each column's clamped
 *               kw taps (unrolled), interior blocks keep constant bounds;
 *               taps in the padding are never visited, as in eval_conv.
 *               Weights are re-laid out ("<w>_blk")
 *               so a block's 4 weights of one tap are contiguous. A 1×1
 *               stride-1 unpadded conv is a matmul over the flattened plane.
 *               Remainder channels/columns are static blocks after the loops.
 *   Linear      blocks of 16 outputs (per row): acc_j = 0; acc_j += x[k]·W[o_j][k]
 *               for k ascending, one x load per k; y = acc + b. The weight
 *               is re-laid out per block ("<w>_blk": k-major, 16 wide).
 *   Pools       the output plane split into border rows/columns, which clamp
 *               the tap bounds, and the interior, whose tap bounds are
 *               constant (no padded copy: max must skip, not see, padding);
 *               max keeps the first NaN
 *               (select(v > m || v != v)), avg divides once by the window size
 *               (count_include_pad or taps inside), adaptive avg over static
 *               windows (/ kh / kw), global adaptive avg sums in f64.
 *   BatchNorm   alpha/beta per channel precomputed into const buffers exactly
 *               as eval_batchnorm (invstd·w, fmaf(-mean, alpha, bias)); the
 *               loop computes x·alpha + beta (unfused: within 1 ulp of the
 *               interpreter's fmaf; LLVM contracts it where the target has FMA).
 *   Softmax     max, exp(x - max) summed in f64, divide in f64 (LogSoftmax:
 *               (x - max) - (f32)log(sum)) — the interpreter's order.
 *   Mean/Sum    f64 accumulator per output, reduced axes in C order.
 *   MatMul      batched; float32 accumulates in f64 and rounds once (as
 *               eval_matmul), float64 in f64, integers in their own type
 *               (two's-complement wrap, same low bits as the interpreter).
 *   Direct ops  broadcasting by static strides (0 along broadcast axes), adjacent
 *               axes merged; integer ./ and % guard the divisor with selects.
 *               Integer division or modulo by zero yields 0 in compiled code
 *               where the interpreter reports an error (and x / -1 is computed
 *               as 0 - x, so INT_MIN / -1 wraps like the interpreter).
 *               ^x with a scalar exponent follows torch's special cases
 *               (0.5, -0.5, -1, 2, 3, -2) exactly as eval_binary.
 *   Data moves  Permute/Transpose/Concat/Pad by index arithmetic (Pad: the
 *               border filled, the inside copied, each element once;
 *               reflect/replicate map indices with abs/min/max; a zero Pad
 *               whose one reader is a conv or a counting avg pool is folded
 *               into that reader's padding and emits nothing);
 *               float16/bfloat16 tensors are moved as i16 bits.
 *   Views       Reshape, Flatten, Identity, Dropout, "=" alias their input's
 *               buffer. The model output is computed straight into "output"
 *               (through any chain of views); only when it is the input or a
 *               constant is a copy emitted.
 */
#include "codegen.h"
#include "lower_quant.h"
#include "lower_sparse.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NNL_SQRT1_2 0.70710678118654752440
#define NNL_SQRT2 1.41421356237309504880
#define NNL_2_SQRTPI 1.12837916709551257390

typedef struct Lower {
	LProgram *p;
	const Model *m;
	Diag *d;
	const char *file;
	int bi;
	const Block *b;
	const Node *node; /* the node being lowered (messages) */
	int *tb;          /* tensor → buffer in its own type; -1 */
	int *tbf;         /* constant tensor → f32 buffer; -1 */
	int x_buf, in_buf, out_buf;
	int out_root;     /* tensor of the last block computed straight into "output"; -1 */
	int err, oom;
	LStmtList sink;   /* statements of empty loops go here and are dropped */
	LowerOptions opt; /* target properties (lower_model_opts) */
} Lower;

/* ---- small constructors ---------------------------------------------------- */

static void lerr(Lower *L, const char *fmt, const char *a)
{
	if (L->node) {
		OpCtx c = {L->d, L->file, L->bi, L->node};
		op_error(&c, fmt, a);
	} else {
		char msg[512];
		snprintf(msg, sizeof msg, fmt, a);
		diag_add(L->d, "%s: %s", L->file, msg);
	}
	L->err = 1;
}

static LExpr *I(Lower *L, int64_t v) { return le_i32(L->p, v); }
static LExpr *F(Lower *L, LType t, double v) { return le_float(L->p, t, v); }
static LExpr *V(Lower *L, int v) { return v < 0 ? NULL : le_var(L->p, v); }
static LExpr *BIN(Lower *L, LBinOp op, LExpr *a, LExpr *b) { return le_bin(L->p, op, a, b); }
static LExpr *UN(Lower *L, LUnOp op, LExpr *a) { return le_un(L->p, op, a); }
static LExpr *SEL(Lower *L, LExpr *c, LExpr *a, LExpr *b) { return le_select(L->p, c, a, b); }
static LExpr *LD(Lower *L, int buf, LExpr *idx) { return le_load(L->p, buf, idx); }
static LExpr *CAST(Lower *L, LType t, LExpr *a) { return le_cast(L->p, t, a, 0); }
static LExpr *K(Lower *L, LType t, double v) /* a constant of type t */
{
	return ltype_is_float(t) ? le_float(L->p, t, v) : le_int(L->p, t, (int64_t)v);
}

static void chk(Lower *L, const void *s)
{
	if (!s)
		L->oom = 1;
}

static int newvar(Lower *L, const char *prefix, LType t, int is_loop)
{
	int v = loop_new_var(L->p, prefix, t, is_loop);
	if (v < 0)
		L->oom = 1;
	return v;
}

/* let tmp: type(e) = e; returns the variable. */
static int let(Lower *L, LStmtList *to, const char *prefix, LExpr *e)
{
	if (!e) {
		L->oom = 1;
		return 0;
	}
	int v = newvar(L, prefix, e->type, 0);
	if (v >= 0)
		chk(L, ls_let(L->p, to, v, e));
	return v;
}

static void set(Lower *L, LStmtList *to, int v, LExpr *e) { chk(L, v < 0 ? NULL : ls_set(L->p, to, v, e)); }
static void store(Lower *L, LStmtList *to, int buf, LExpr *idx, LExpr *val) { chk(L, ls_store(L->p, to, buf, idx, val)); }

/* An index: a loop variable, or a constant where a loop of one iteration was
 * left out. Each use makes a fresh expression (trees are never shared). */
typedef struct Ix {
	int var; /* -1: constant c */
	int64_t c;
} Ix;

static LExpr *IX(Lower *L, Ix x) { return x.var < 0 ? I(L, x.c) : V(L, x.var); }

/* for iv in lo..hi with constant bounds; no loop for one iteration, the
 * sink for none. */
static LStmtList *FOR(Lower *L, LStmtList *to, const char *name, int64_t lo, int64_t hi, Ix *iv)
{
	iv->var = -1;
	iv->c = lo;
	if (hi <= lo)
		return &L->sink;
	if (hi - lo == 1)
		return to;
	int v = newvar(L, name, LT_I32, 1);
	LStmt *s = v < 0 ? NULL : ls_for(L->p, to, v, I(L, lo), I(L, hi), 1);
	if (!s) {
		L->oom = 1;
		return &L->sink;
	}
	iv->var = v;
	iv->c = 0;
	return &s->body;
}

/* for iv in lo..hi with expression bounds. */
static LStmtList *FORE(Lower *L, LStmtList *to, const char *name, LExpr *lo, LExpr *hi, Ix *iv)
{
	int v = newvar(L, name, LT_I32, 1);
	LStmt *s = v < 0 ? NULL : ls_for(L->p, to, v, lo, hi, 1);
	iv->var = v;
	iv->c = 0;
	if (!s) {
		L->oom = 1;
		iv->var = -1;
		return &L->sink;
	}
	return &s->body;
}

/* ---- affine index expressions: Σ ix·k + c ----------------------------------- */

#define AFF_MAX 24
typedef struct Aff {
	int n;
	Ix x[AFF_MAX];
	int64_t k[AFF_MAX];
	int64_t c;
} Aff;

static Aff aff(int64_t c)
{
	Aff a;
	a.n = 0;
	a.c = c;
	return a;
}

static void aff_add(Aff *a, Ix x, int64_t k)
{
	if (k == 0)
		return;
	if (x.var < 0) {
		a->c += x.c * k;
		return;
	}
	for (int i = 0; i < a->n; i++)
		if (a->x[i].var == x.var) {
			a->k[i] += k;
			return;
		}
	if (a->n == AFF_MAX)
		NNL_BUG("aff_add: too many terms");
	a->x[a->n] = x;
	a->k[a->n++] = k;
}

static LExpr *AFF(Lower *L, const Aff *a)
{
	LExpr *e = NULL;
	for (int i = 0; i < a->n; i++) {
		if (a->k[i] == 0)
			continue;
		LExpr *t = le_mul_k(L->p, IX(L, a->x[i]), a->k[i]);
		if (!t || (e && !(t = le_add(L->p, e, t)))) { /* out of memory: never drop a term silently */
			L->oom = 1;
			return NULL;
		}
		e = t;
	}
	if (!e)
		return I(L, a->c);
	return a->c ? le_add(L->p, e, I(L, a->c)) : e;
}

/* ---- buffers ---------------------------------------------------------------- */

static LType carrier(DType t)
{
	LType lt = ltype_of_dtype(t);
	if (lt != LT_VOID)
		return lt;
	switch (dtype_bits(t)) {
	case 16: return LT_I16; /* float16/bfloat16 moved as bits */
	default: return LT_VOID;
	}
}

static int add_buf(Lower *L, const char *tname, const char *suffix, LBufKind kind, LType t, int64_t numel)
{
	char base[96], name[112];
	size_t j = 0;
	if (!tname[0] || (tname[0] >= '0' && tname[0] <= '9'))
		base[j++] = 't';
	for (const char *s = tname; *s && j < 64; s++) {
		char ch = *s;
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
		base[j++] = ok ? ch : '_';
	}
	base[j] = 0;
	snprintf(name, sizeof name, "%s%s", base, suffix);
	for (int k = 2; loop_find_buf(L->p, name) >= 0; k++)
		snprintf(name, sizeof name, "%s%s_%d", base, suffix, k);
	if (numel > INT32_MAX) {
		lerr(L, "tensor '%s' has 2^31 elements or more; the loop IR indexes buffers with i32", tname);
		return -1;
	}
	int bi = loop_add_buf(L->p, name, kind, t, numel);
	if (bi < 0)
		L->oom = 1;
	return bi;
}

/* The buffer holding tensor t of the current block (a const buffer made on
 * first use); f32: a float32 op's input, constants converted to f32. */
static int buf_of(Lower *L, int t, int f32)
{
	const Block *b = L->b;
	const Tensor *T = &b->tensors[t];
	if (t == b->x)
		return L->x_buf;
	if (!T->data) {
		if (L->tb[t] < 0)
			NNL_BUG("lower: activation used before it is computed");
		return L->tb[t];
	}
	int conv = f32 && T->dtype != DT_FLOAT32;
	int *slot = conv ? &L->tbf[t] : &L->tb[t];
	if (*slot >= 0)
		return *slot;
	LType lt = conv ? LT_F32 : carrier(T->dtype);
	if (lt == LT_VOID) {
		lerr(L, "constant '%s' has a datatype the loop IR cannot hold", T->name);
		return -1;
	}
	int64_t ne = tensor_numel(T);
	int bi = add_buf(L, T->name, conv ? "_f32" : "", LB_CONST, lt, ne);
	if (bi < 0)
		return -1;
	LBuf *B = &L->p->bufs[bi];
	int64_t nb = (int64_t)ltype_bits(lt) / 8 * ne;
	B->data = nnl_malloc((size_t)nb);
	B->origin = nnl_strdup(T->data_path ? T->data_path : T->name);
	if (!B->data || !B->origin) {
		L->oom = 1;
		return -1;
	}
	if (conv) {
		float *w = B->data;
		for (int64_t k = 0; k < ne; k++)
			w[k] = (float)dtype_get(T->dtype, T->data, k);
	} else if (nb > 0) {
		memcpy(B->data, T->data, (size_t)nb);
	}
	*slot = bi;
	return bi;
}

/* A const f32 buffer made here (batch norm's alpha/beta). Takes v. */
static int const_f32(Lower *L, const char *tname, const char *suffix, float *v, int64_t n)
{
	int bi = add_buf(L, tname, suffix, LB_CONST, LT_F32, n);
	if (bi < 0) {
		free(v);
		return -1;
	}
	L->p->bufs[bi].data = v;
	L->p->bufs[bi].origin = nnl_strdup(tname);
	chk(L, L->p->bufs[bi].origin);
	return bi;
}

/* The buffer node n writes. */
static int out_of(Lower *L, const Node *n)
{
	const Tensor *T = &L->b->tensors[n->out];
	if (L->bi == L->m->n_blocks - 1 && n->out == L->out_root)
		return L->tb[n->out] = L->out_buf;
	LType lt = carrier(T->dtype);
	if (lt == LT_VOID) {
		lerr(L, "output '%s' has a datatype the loop IR cannot hold", T->name);
		return -1;
	}
	int bi = add_buf(L, T->name, "", LB_ARENA, lt, tensor_numel(T));
	if (bi >= 0)
		L->tb[n->out] = bi;
	return bi;
}

/* ---- nests over shapes with strided operands -------------------------------- */

#define NOPS 4

static void cstrides(int r, const int64_t *dims, int64_t *st)
{
	int64_t s = 1;
	for (int i = r - 1; i >= 0; i--) {
		st[i] = s;
		s *= dims[i];
	}
}

/* Loops over dims[0..r) (axes of size 1 dropped, adjacent axes merged where
 * every operand's strides allow); idx[k] gets Σ iv·st[k]. Returns the body. */
static LStmtList *nest(Lower *L, LStmtList *to, int r, const int64_t *dims, int nops,
                       int64_t st[][NNL_MAX_RANK], Aff *idx)
{
	int64_t d2[NNL_MAX_RANK], s2[NOPS][NNL_MAX_RANK];
	int r2 = 0;
	for (int i = 0; i < r; i++) {
		if (dims[i] == 0)
			return &L->sink;
		if (dims[i] == 1)
			continue;
		int merge = r2 > 0;
		for (int k = 0; merge && k < nops; k++)
			if (s2[k][r2 - 1] != st[k][i] * dims[i])
				merge = 0;
		if (merge) {
			d2[r2 - 1] *= dims[i];
			for (int k = 0; k < nops; k++)
				s2[k][r2 - 1] = st[k][i];
		} else {
			d2[r2] = dims[i];
			for (int k = 0; k < nops; k++)
				s2[k][r2] = st[k][i];
			r2++;
		}
	}
	for (int i = 0; i < r2; i++) {
		Ix iv;
		to = FOR(L, to, "ix", 0, d2[i], &iv);
		for (int k = 0; k < nops; k++)
			aff_add(&idx[k], iv, s2[k][i]);
	}
	return to;
}

/* ---- windows: border / interior split --------------------------------------- */

typedef struct WAx {
	int64_t in, out, k, s, d, p, pe; /* p: begin padding, pe: end padding */
} WAx;

static int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b != 0 && a > 0); }

/* Outputs [lo, hi) whose every tap is inside the input. */
static void wax_interior(const WAx *a, int64_t *lo, int64_t *hi)
{
	int64_t l = ceil_div(a->p, a->s);
	int64_t num = a->in - 1 + a->p - (a->k - 1) * a->d;
	int64_t h = num < 0 ? 0 : num / a->s + 1;
	if (l > a->out)
		l = a->out;
	if (h > a->out)
		h = a->out;
	if (h < l)
		h = l;
	*lo = l;
	*hi = h;
}

/* Tap bounds [lo, hi) of an output position (or range of positions), each a
 * constant or a variable; psz: the window clipped to the padded input (avg
 * pool with count_include_pad). */
typedef struct Bnd {
	int vlo, vhi, vpsz; /* -1: constant */
	int64_t lo, hi, psz;
} Bnd;

static Bnd bnd_make(Lower *L, LStmtList *to, const WAx *a, Ix o, int64_t o0, int64_t o1, int want_psz)
{
	Bnd r = {-1, -1, -1, 0, a->k, a->k};
	if (o.var < 0) { /* one position: everything static */
		int64_t st = o.c * a->s - a->p;
		int64_t lo = st >= 0 ? 0 : ceil_div(-st, a->d);
		int64_t hi = ceil_div(a->in - st, a->d);
		if (hi > a->k)
			hi = a->k;
		if (hi < lo)
			hi = lo;
		r.lo = lo;
		r.hi = hi;
		int64_t ps = a->in + a->pe - st;
		r.psz = ps < a->k ? ps : a->k;
		return r;
	}
	/* lo = max(0, ceil((p - o·s) / d)): truncating (x + d - 1) / d is exact for
	 * x > 0 and <= 0 otherwise, which the max clamps. */
	if (o0 * a->s < a->p) {
		LExpr *num = le_add(L->p, le_mul_k(L->p, IX(L, o), -a->s), I(L, a->p + a->d - 1));
		if (a->d != 1)
			num = BIN(L, LO_DIV, num, I(L, a->d));
		r.vlo = let(L, to, "klo", BIN(L, LO_MAX, num, I(L, 0)));
	}
	/* hi = min(K, ceil((in + p - o·s) / d)) */
	if ((o1 - 1) * a->s - a->p + (a->k - 1) * a->d > a->in - 1) {
		LExpr *num = le_add(L->p, le_mul_k(L->p, IX(L, o), -a->s), I(L, a->in + a->p + a->d - 1));
		if (a->d != 1)
			num = BIN(L, LO_DIV, num, I(L, a->d));
		r.vhi = let(L, to, "khi", BIN(L, LO_MIN, num, I(L, a->k)));
	}
	if (want_psz && (o1 - 1) * a->s - a->p + a->k > a->in + a->pe) {
		LExpr *num = le_add(L->p, le_mul_k(L->p, IX(L, o), -a->s), I(L, a->in + a->p + a->pe));
		r.vpsz = let(L, to, "psz", BIN(L, LO_MIN, num, I(L, a->k)));
	}
	return r;
}

static LExpr *bnd_lo(Lower *L, const Bnd *b) { return b->vlo >= 0 ? V(L, b->vlo) : I(L, b->lo); }
static LExpr *bnd_hi(Lower *L, const Bnd *b) { return b->vhi >= 0 ? V(L, b->vhi) : I(L, b->hi); }
static LExpr *bnd_psz(Lower *L, const Bnd *b) { return b->vpsz >= 0 ? V(L, b->vpsz) : I(L, b->psz); }
static int bnd_static(const Bnd *b) { return b->vlo < 0 && b->vhi < 0; }
/* hi - lo, folded where one side is constant 0 */
static LExpr *bnd_len(Lower *L, const Bnd *b)
{
	if (bnd_static(b))
		return I(L, b->hi - b->lo);
	if (b->vlo < 0 && b->lo == 0)
		return bnd_hi(L, b);
	return BIN(L, LO_SUB, bnd_hi(L, b), bnd_lo(L, b));
}

static LStmtList *tap_loop(Lower *L, LStmtList *to, const char *name, const Bnd *b, Ix *k)
{
	if (bnd_static(b))
		return FOR(L, to, name, b->lo, b->hi, k);
	return FORE(L, to, name, bnd_lo(L, b), bnd_hi(L, b), k);
}

/* The rows of one region of the output plane: oh (a loop variable, or a
 * constant for one row) with its tap-row bounds bh, and the output columns
 * split into cols[0] (left border), cols[1] (interior: every tap column
 * inside the input) and cols[2] (right border); in a border row without
 * split_border_rows all columns are in cols[0]. */
typedef void (*RowFn)(Lower *L, LStmtList *to, const void *c, Ix oh, const Bnd *bh, const int64_t cols[3][2]);

/* Rows: top border, interior, bottom border (each a loop, or a constant
 * row), each handed to fn with its clamped tap-row bounds (constant in the
 * interior rows) and its column regions. Pools and convs share it: a tap
 * outside the input is never visited, its bounds are loop bounds, never a
 * test per tap. */
static void window_rows(Lower *L, LStmtList *to, const WAx *ah, const WAx *aw, int psz, int split_border_rows,
                        RowFn fn, const void *c)
{
	int64_t hl, hh, wl, wh;
	wax_interior(ah, &hl, &hh);
	wax_interior(aw, &wl, &wh);
	int64_t rows[3][2] = {{0, hl}, {hl, hh}, {hh, ah->out}};
	for (int r = 0; r < 3; r++) {
		Ix oh;
		LStmtList *l1 = FOR(L, to, "oh", rows[r][0], rows[r][1], &oh);
		if (l1 == &L->sink)
			continue;
		Bnd bh = bnd_make(L, l1, ah, oh, rows[r][0], rows[r][1], psz);
		int64_t cols[3][2] = {{0, wl}, {wl, wh}, {wh, aw->out}};
		if (r != 1 && !split_border_rows) { /* border rows: one column loop, clamped as needed */
			cols[0][1] = aw->out;
			cols[1][0] = cols[1][1] = cols[2][0] = cols[2][1] = 0;
		}
		fn(L, l1, c, oh, &bh, (const int64_t(*)[2])cols);
	}
}

/* ---- conv ------------------------------------------------------------------- */

static void block_rows(const Tensor *T, int64_t rows, int64_t cols, int64_t ob, int64_t base, float *v);

typedef struct Pix {
	int x, y;
	int64_t H, W, OH, OW, KH, KW;
	const WAx *ah, *aw;
	Aff xb, yb; /* bases of the plane */
	int max, include_pad;
} Pix;

static int get_padding(Lower *L, const Node *n, int nd, const int64_t *in, const int64_t *k, const int64_t *s,
                       const int64_t *d, int64_t *pb, int64_t *pe)
{
	OpCtx c = {L->d, L->file, L->bi, n};
	int pr = attr_padding(&c, "padding", nd, pb, pe);
	if (pr < 0)
		return -1;
	if (pr == 1) {
		int same = strcmp(node_attr(n, "padding")->s, "same") == 0;
		for (int i = 0; i < nd; i++) {
			pb[i] = pe[i] = 0;
			if (!same)
				continue;
			int64_t eff = d[i] * (k[i] - 1) + 1;
			int64_t total = (ceil_div(in[i], s[i]) - 1) * s[i] + eff - in[i];
			if (in[i] < 1 || total < 0)
				total = 0;
			pb[i] = total / 2;
			pe[i] = total - total / 2;
		}
	}
	return 0;
}

static void lift(int nd, const int64_t *a, int64_t *dst, int64_t f)
{
	dst[0] = nd == 1 ? f : a[0];
	dst[1] = nd == 1 ? a[0] : a[1];
}

/* ---- an explicit Pad folded into its reader's padding ---------------------- */

/* The one node of the block reading tensor t, as its input 0 and nowhere
 * else; NULL when t is the block's output or is read by none or several. */
static const Node *sole_reader(const Block *b, int t)
{
	if (t == b->y)
		return NULL;
	const Node *r = NULL;
	for (int i = 0; i < b->n_nodes; i++)
		for (int j = 0; j < b->nodes[i].n_in; j++)
			if (b->nodes[i].in[j] == t) {
				if (r || j != 0)
					return NULL;
				r = &b->nodes[i];
			}
	return r;
}

/* The reader a constant-mode Pad node is folded into, or NULL. The Pad
 * emits nothing then, and the reader (a conv or pool, see lower_conv,
 * lower_pool) reads the Pad's input with the pads added to its own
 * padding, whose taps it never visits. Exact where the padded taps could
 * not change a result: avg pool counting the padding with a +0 fill (adding
 * +0 to a sum that starts at +0 changes no bit); a conv with a 0 fill is
 * folded as its own padding is, the w·0 terms leaving the sums unchanged
 * but for the sign of an exact zero (and NaN for an inf weight). Only
 * float32, non-negative pads on the spatial axes. (A max pool would need a
 * −inf fill, which the model format cannot write: a finite fill differs
 * from skipping in windows lying wholly in the padding.) */
static const Node *pad_fold_reader(Lower *L, const Node *pad)
{
	const Block *b = L->b;
	if (pad->op != OP_PAD || strncmp(node_attr(pad, "mode")->s, "constant", 16) != 0)
		return NULL;
	const Tensor *x = &b->tensors[pad->in[0]];
	if (x->dtype != DT_FLOAT32 || b->tensors[pad->out].dtype != DT_FLOAT32 || x->data)
		return NULL;
	const Node *c = sole_reader(b, pad->out);
	if (!c || lower_quant_wanted(b, c))
		return NULL;
	uint8_t fb[8] = {0};
	dtype_set(DT_FLOAT32, fb, 0, node_attr(pad, "value")->f);
	double v = dtype_get(DT_FLOAT32, fb, 0);
	int nd;
	switch (c->op) {
	case OP_CONV1D: case OP_CONV2D:
		nd = c->op == OP_CONV1D ? 1 : 2;
		if (v != 0.0)
			return NULL;
		break;
	case OP_AVGPOOL1D: case OP_AVGPOOL2D:
		nd = c->op == OP_AVGPOOL1D ? 1 : 2;
		if (!(v == 0.0 && !signbit(v)) || !node_attr(c, "count_include_pad")->i[0])
			return NULL;
		break;
	default:
		return NULL;
	}
	const AttrValue *p = node_attr(pad, "pads");
	if (x->rank != nd + 2)
		return NULL;
	for (int k = 0; k < p->n; k++)
		if (p->i[k] < 0 || (k / 2 >= nd && p->i[k] != 0))
			return NULL;
	return c;
}

/* The tensor node c reads: its input, or, when a Pad is folded into c
 * (pad_fold_reader), the Pad's input, with the Pad's pads on the nd spatial
 * axes added to c's pb (begin) and pe (end). */
static int absorb_pad(Lower *L, const Node *c, int nd, int64_t *pb, int64_t *pe)
{
	const Block *b = L->b;
	for (int i = 0; i < b->n_nodes; i++) {
		const Node *p = &b->nodes[i];
		if (p->out != c->in[0] || pad_fold_reader(L, p) != c)
			continue;
		const AttrValue *a = node_attr(p, "pads");
		for (int k = 0; k < nd; k++) { /* pads run from the last axis */
			int j = nd - 1 - k;
			pb[j] += 2 * k < a->n ? a->i[2 * k] : 0;
			pe[j] += 2 * k + 1 < a->n ? a->i[2 * k + 1] : 0;
		}
		return p->in[0];
	}
	return c->in[0];
}

/* The conv kernel (see lower_conv). */
#define CONV_OB 4          /* output channels per register block */
#define CONV_PB 4          /* output columns per register block */
#define CONV_PB_DW 8       /* output columns per block when a group has one output channel */
#define CONV_EDGE_TAPS 32  /* at most this many unrolled kw steps for the border column blocks of a row */

typedef struct ConvK {
	int x, w, b, y;
	int blk;         /* w is re-laid out by block_rows (else the original [O][Cg][KH][KW]) */
	int64_t C, Cg, O, Og, H, W, OH, OW, KH, KW, sh, sw, dh, dw, OB, PB;
	int64_t xsn, xsg, xsc; /* strides of x (elements) per image, group, channel of the group */
	int64_t pt, pl;        /* begin padding: tap (kh, kw) of output (oh, ow) reads x row
	                        * oh·sh + kh·dh − pt, column ow·sw + kw·dw − pl */
	const WAx *ah, *aw;
} ConvK;

/* One register block: output channels oc0 + b (b < bw) of group g, where
 * oc0 = ocb·OB + oc_c, output row oh, columns ow0 + j (j < pw), ow0 =
 * owb·owm + ow_c. The tap rows kh run over th, the tap columns kw over tw
 * (all KW when NULL), or, when kwlo is given (a block of constant columns
 * at the left or right border), column j takes kwlo[j] <= kw < kwhi[j]:
 * the kw loop is unrolled and each kw step loads and accumulates only the
 * columns it reaches. So only taps inside the input are visited, and no tap
 * is tested. bw·pw accumulators from 0 get w·x for ic, kh, kw in order,
 * then the bias: each output's float operations are the interpreter's
 * (eval_conv, which skips the taps in the padding), in its order. */
static void conv_block(Lower *L, LStmtList *to, const ConvK *k, Ix in, Ix g, Ix ocb, int64_t oc_c, int64_t bw,
                       Ix oh, Ix owb, int64_t owm, int64_t ow_c, int64_t pw, const Bnd *th, const Bnd *tw,
                       const int64_t *kwlo, const int64_t *kwhi)
{
	int acc[CONV_OB * CONV_PB_DW];
	for (int64_t i = 0; i < bw * pw; i++)
		acc[i] = let(L, to, "acc", F(L, LT_F32, 0.0));
	int unroll = kwlo != NULL;
	Bnd full = {-1, -1, -1, 0, k->KW, k->KW};
	if (unroll) { /* every column the same taps: a plain kw loop */
		int same = 1;
		for (int64_t j = 1; j < pw; j++)
			same &= kwlo[j] == kwlo[0] && kwhi[j] == kwhi[0];
		if (same) {
			full.lo = kwlo[0];
			full.hi = kwhi[0] > kwlo[0] ? kwhi[0] : kwlo[0];
			unroll = 0;
		}
	}
	if (!tw)
		tw = &full;
	Ix ic, kh, kw = {-1, 0};
	LStmtList *l = FOR(L, to, "ic", 0, k->Cg, &ic);
	l = th ? tap_loop(L, l, "kh", th, &kh) : FOR(L, l, "kh", 0, k->KH, &kh);
	if (!unroll)
		l = tap_loop(L, l, "kw", tw, &kw);
	int64_t taps = k->Cg * k->KH * k->KW;
	for (int64_t kc = 0; l != &L->sink && kc < (unroll ? k->KW : 1); kc++) {
		int on[CONV_PB_DW], any = 0;
		for (int64_t j = 0; j < pw; j++) {
			on[j] = !unroll || (kwlo[j] <= kc && kc < kwhi[j]);
			any |= on[j];
		}
		if (!any)
			continue;
		if (unroll)
			kw = (Ix){-1, kc};
		int xv[CONV_PB_DW];
		for (int64_t j = 0; j < pw; j++) {
			if (!on[j])
				continue;
			Aff xi = aff((ow_c + j) * k->sw - k->pt * k->W - k->pl);
			aff_add(&xi, in, k->xsn);
			aff_add(&xi, g, k->xsg);
			aff_add(&xi, ic, k->xsc);
			aff_add(&xi, oh, k->sh * k->W);
			aff_add(&xi, kh, k->dh * k->W);
			aff_add(&xi, owb, owm * k->sw);
			aff_add(&xi, kw, k->dw);
			xv[j] = let(L, l, "x", LD(L, k->x, AFF(L, &xi)));
		}
		for (int64_t bi = 0; bi < bw; bi++) {
			Aff wi = aff(0);
			aff_add(&wi, g, k->Og * taps);
			aff_add(&wi, ocb, k->OB * taps);
			if (k->blk) { /* block base (oc0·taps), then (ic, kh, kw)·bw + b */
				wi.c += oc_c * taps + bi;
				aff_add(&wi, ic, k->KH * k->KW * bw);
				aff_add(&wi, kh, k->KW * bw);
				aff_add(&wi, kw, bw);
			} else {
				wi.c += (oc_c + bi) * taps;
				aff_add(&wi, ic, k->KH * k->KW);
				aff_add(&wi, kh, k->KW);
				aff_add(&wi, kw, 1);
			}
			int wv = let(L, l, "w", LD(L, k->w, AFF(L, &wi)));
			for (int64_t j = 0; j < pw; j++)
				if (on[j])
					set(L, l, acc[bi * pw + j],
					    BIN(L, LO_ADD, V(L, acc[bi * pw + j]), BIN(L, LO_MUL, V(L, wv), V(L, xv[j]))));
		}
	}
	for (int64_t bi = 0; bi < bw; bi++)
		for (int64_t j = 0; j < pw; j++) {
			Aff ch = aff(oc_c + bi);
			aff_add(&ch, g, k->Og);
			aff_add(&ch, ocb, k->OB);
			Aff yi = aff((oc_c + bi) * k->OH * k->OW + ow_c + j), bix = ch;
			aff_add(&yi, in, k->O * k->OH * k->OW);
			aff_add(&yi, g, k->Og * k->OH * k->OW);
			aff_add(&yi, ocb, k->OB * k->OH * k->OW);
			aff_add(&yi, oh, k->OW);
			aff_add(&yi, owb, owm);
			LExpr *v = V(L, acc[bi * pw + j]);
			if (k->b >= 0)
				v = BIN(L, LO_ADD, v, LD(L, k->b, AFF(L, &bix)));
			store(L, to, k->y, AFF(L, &yi), v);
		}
}

/* One channel block (output channels ocb·OB + oc_c .., bw of them, of group
 * g, image in) of a conv: the RowFn of window_rows. */
typedef struct ConvRow {
	const ConvK *k;
	Ix in, g, ocb;
	int64_t oc_c, bw;
} ConvRow;

/* The column blocks of one output row (or loop of rows) oh with tap rows bh.
 * Blocks of PB columns at multiples of PB whose columns all lie in the
 * interior cols[1] are a loop with every tap column; the others (at most a
 * few at each side, and the remainder block) are constant blocks whose
 * columns each get their clamped tap columns, unrolled (conv_block). When
 * that would unroll more than CONV_EDGE_TAPS kw steps (wide kernels, large
 * padding), the border columns are loops of one-column blocks whose kw
 * bounds are computed per column instead, and the interior blocks start at
 * cols[1][0]. */
static void conv_row(Lower *L, LStmtList *to, const void *cv, Ix oh, const Bnd *bh, const int64_t cols[3][2])
{
	const ConvRow *r = cv;
	const ConvK *k = r->k;
	int64_t wl = cols[1][0], wh = cols[1][1], OW = k->OW, PB = k->PB;
	int64_t nb = (OW + PB - 1) / PB, bl = (wl + PB - 1) / PB, bu = wh / PB, nclip = 0;
	if (bu < bl)
		bu = bl;
	for (int64_t b = 0; b < nb; b++)
		if ((b < bl || b >= bu) && (b * PB < wl || (b + 1) * PB > wh))
			nclip++;
	Ix none = {-1, 0};
	if (nclip * k->KW <= CONV_EDGE_TAPS) {
		for (int part = 0; part < 3; part++) {
			if (part == 1) {
				Ix owb;
				LStmtList *l = FOR(L, to, "owb", bl, bu, &owb);
				if (l != &L->sink)
					conv_block(L, l, k, r->in, r->g, r->ocb, r->oc_c, r->bw, oh, owb, PB, 0, PB, bh, NULL,
					           NULL, NULL);
				continue;
			}
			for (int64_t b = part == 0 ? 0 : bu; b < (part == 0 ? bl : nb); b++) {
				int64_t c0 = b * PB, pw = OW - c0 < PB ? OW - c0 : PB, lo[CONV_PB_DW], hi[CONV_PB_DW];
				for (int64_t j = 0; j < pw; j++) {
					Bnd t = bnd_make(L, to, k->aw, (Ix){-1, c0 + j}, c0 + j, c0 + j + 1, 0);
					lo[j] = t.lo;
					hi[j] = t.hi;
				}
				conv_block(L, to, k, r->in, r->g, r->ocb, r->oc_c, r->bw, oh, none, 0, c0, pw, bh, NULL, lo, hi);
			}
		}
		return;
	}
	for (int part = 0; part < 3; part++) {
		if (part == 1) {
			int64_t n = (wh - wl) / PB, rem = (wh - wl) % PB;
			Ix owb;
			LStmtList *l = FOR(L, to, "owb", 0, n, &owb);
			if (l != &L->sink)
				conv_block(L, l, k, r->in, r->g, r->ocb, r->oc_c, r->bw, oh, owb, PB, wl, PB, bh, NULL, NULL,
				           NULL);
			if (rem)
				conv_block(L, to, k, r->in, r->g, r->ocb, r->oc_c, r->bw, oh, none, 0, wl + n * PB, rem, bh,
				           NULL, NULL, NULL);
			continue;
		}
		Ix ow;
		LStmtList *l = FOR(L, to, "ow", cols[part][0], cols[part][1], &ow);
		if (l == &L->sink)
			continue;
		Bnd tw = bnd_make(L, l, k->aw, ow, cols[part][0], cols[part][1], 0);
		conv_block(L, l, k, r->in, r->g, r->ocb, r->oc_c, r->bw, oh, ow, 1, 0, 1, bh, &tw, NULL, NULL);
	}
}

/* Conv1d/2d. The outputs are computed in register blocks of OB output
 * channels × PB columns of a row (conv_block): the weights of a block are
 * re-laid out so the OB weights of one tap are contiguous, each x load
 * serves OB outputs and each weight load PB outputs. Full blocks are loops,
 * the remainders (O % OB channels, OW % PB columns) static blocks after
 * them. Padding is folded into the tap bounds, with no padded copy: the
 * output plane is split (window_rows, as for pools) into border rows, whose
 * kh bounds are clamped to the input, and interior rows, whose are
 * constant; in each row the column blocks whose every tap is inside run
 * with constant kw bounds (the unpadded kernel, unchanged), the few border
 * blocks with their columns' taps clamped (conv_row). A tap in the padding
 * is never visited, as in eval_conv, so the sums are the interpreter's.
 * A 1×1 stride-1 unpadded conv is a matmul over the flattened plane (the
 * PB columns run across rows), pixel blocks outermost: the output pixels
 * of a column block depend only on the input pixels of that block (the
 * inplace pass relies on that order). */
static int lower_conv(Lower *L, const Node *n, LStmtList *to)
{
	const Block *b = L->b;
	const Tensor *x = &b->tensors[n->in[0]], *w = &b->tensors[n->in[1]], *y = &b->tensors[n->out];
	int nd = n->op == OP_CONV1D ? 1 : 2;
	OpCtx oc = {L->d, L->file, L->bi, n};
	int64_t s[2], d[2], pb[2], pe[2];
	if (attr_spatial(&oc, "stride", nd, 1, s) < 0 || attr_spatial(&oc, "dilation", nd, 1, d) < 0 ||
	    get_padding(L, n, nd, x->shape + 2, w->shape + 2, s, d, pb, pe) < 0)
		return -1;
	int xt = absorb_pad(L, n, nd, pb, pe); /* a folded Pad: read its input */
	x = &b->tensors[xt];
	int64_t G = node_attr(n, "groups")->i[0];
	ConvK k;
	memset(&k, 0, sizeof k);
	int64_t N = x->shape[0];
	k.C = x->shape[1];
	k.O = w->shape[0];
	k.Cg = k.C / G;
	k.Og = k.O / G;
	int64_t in2[2], k2[2], s2[2], d2[2], pb2[2], pe2[2], o2[2];
	lift(nd, x->shape + 2, in2, 1);
	lift(nd, w->shape + 2, k2, 1);
	lift(nd, s, s2, 1);
	lift(nd, d, d2, 1);
	lift(nd, pb, pb2, 0);
	lift(nd, pe, pe2, 0);
	lift(nd, y->shape + 2, o2, 1);
	int64_t HW = in2[0] * in2[1], OHW = o2[0] * o2[1];
	int padded = pb2[0] || pb2[1] || pe2[0] || pe2[1];
	int pointwise = k2[0] == 1 && k2[1] == 1 && s2[0] == 1 && s2[1] == 1 && !padded;
	if (pointwise) { /* a matmul over the flattened plane */
		in2[0] = o2[0] = 1;
		in2[1] = o2[1] = HW;
	}
	int64_t taps = k.Cg * k2[0] * k2[1];
	k.OB = k.Og < CONV_OB ? k.Og : CONV_OB;
	k.PB = k.Og == 1 ? CONV_PB_DW : CONV_PB;
	k.blk = w->data != NULL && k.OB > 1 && taps > 0;
	k.x = buf_of(L, xt, 1);
	if (k.blk) {
		float *v = nnl_malloc((size_t)(k.O * taps) * sizeof *v);
		if (!v) {
			L->oom = 1;
			return -1;
		}
		for (int64_t gi = 0; gi < G; gi++)
			block_rows(w, k.Og, taps, k.OB, gi * k.Og * taps, v + gi * k.Og * taps);
		k.w = const_f32(L, w->name, "_blk", v, k.O * taps);
	} else {
		k.w = buf_of(L, n->in[1], 1);
	}
	k.b = n->n_in > 2 ? buf_of(L, n->in[2], 1) : -1;
	k.y = out_of(L, n);
	if (k.x < 0 || k.w < 0 || k.y < 0 || (n->n_in > 2 && k.b < 0))
		return -1;
	if (N == 0 || k.O == 0 || OHW == 0)
		return 0;
	k.OH = o2[0];
	k.OW = o2[1];
	k.KH = k2[0];
	k.KW = k2[1];
	k.sh = s2[0];
	k.sw = s2[1];
	k.dh = d2[0];
	k.dw = d2[1];
	k.H = in2[0];
	k.W = in2[1];
	k.pt = pb2[0];
	k.pl = pb2[1];
	k.xsc = k.H * k.W;
	k.xsg = k.Cg * k.xsc;
	k.xsn = k.C * k.xsc;
	WAx ah = {in2[0], o2[0], k2[0], s2[0], d2[0], pb2[0], pe2[0]};
	WAx aw = {in2[1], o2[1], k2[1], s2[1], d2[1], pb2[1], pe2[1]};
	k.ah = &ah;
	k.aw = &aw;
	Ix in, g;
	/* always a loop, even of one image: the node stays one top-level statement */
	LStmtList *l = FORE(L, to, "n", I(L, 0), I(L, N), &in);
	if (N == 1) { /* indices without the variable of a one-iteration loop (as FOR) */
		in.var = -1;
		in.c = 0;
	}
	l = FOR(L, l, "g", 0, G, &g);
	Ix none = {-1, 0};
	int64_t onf = k.Og / k.OB, orem = k.Og % k.OB;
	if (pointwise) { /* pixel blocks outermost */
		int64_t wnf = k.OW / k.PB, wrem = k.OW % k.PB;
		for (int pw = 0; pw < 2; pw++) {
			Ix owb = {-1, 0};
			LStmtList *l1 = pw == 0 ? FOR(L, l, "owb", 0, wnf, &owb) : wrem ? l : &L->sink;
			if (l1 == &L->sink)
				continue;
			for (int po = 0; po < 2; po++) {
				Ix ocb = {-1, 0};
				LStmtList *l2 = po == 0 ? FOR(L, l1, "ocb", 0, onf, &ocb) : orem ? l1 : &L->sink;
				if (l2 == &L->sink)
					continue;
				conv_block(L, l2, &k, in, g, ocb, po == 0 ? 0 : onf * k.OB, po == 0 ? k.OB : orem, none,
				           owb, k.PB, pw == 0 ? 0 : wnf * k.PB, pw == 0 ? k.PB : wrem, NULL, NULL, NULL, NULL);
			}
		}
		return 0;
	}
	for (int po = 0; po < 2; po++) {
		ConvRow cr = {&k, in, g, {-1, 0}, po == 0 ? 0 : onf * k.OB, po == 0 ? k.OB : orem};
		LStmtList *l1 = po == 0 ? FOR(L, l, "ocb", 0, onf, &cr.ocb) : orem ? l : &L->sink;
		if (l1 != &L->sink)
			window_rows(L, l1, &ah, &aw, 0, 1, conv_row, &cr);
	}
	return 0;
}

/* ---- pools ------------------------------------------------------------------ */

static void pool_pix(Lower *L, LStmtList *to, const Pix *c, Ix oh, Ix ow, const Bnd *bh, const Bnd *bw)
{
	int acc = let(L, to, c->max ? "m" : "s", F(L, LT_F32, c->max ? -INFINITY : 0.0));
	Ix kh, kw;
	LStmtList *l = tap_loop(L, to, "kh", bh, &kh);
	l = tap_loop(L, l, "kw", bw, &kw);
	Aff xi = c->xb;
	aff_add(&xi, oh, c->ah->s * c->W);
	aff_add(&xi, kh, c->ah->d * c->W);
	aff_add(&xi, ow, c->aw->s);
	aff_add(&xi, kw, c->aw->d);
	xi.c -= c->ah->p * c->W + c->aw->p;
	if (l != &L->sink) {
		if (c->max) {
			int v = let(L, l, "v", LD(L, c->x, AFF(L, &xi)));
			LExpr *take = BIN(L, LO_OR, BIN(L, LO_GT, V(L, v), V(L, acc)), BIN(L, LO_NE, V(L, v), V(L, v)));
			set(L, l, acc, SEL(L, take, V(L, v), V(L, acc)));
		} else {
			set(L, l, acc, BIN(L, LO_ADD, V(L, acc), LD(L, c->x, AFF(L, &xi))));
		}
	}
	Aff yi = c->yb;
	aff_add(&yi, oh, c->OW);
	aff_add(&yi, ow, 1);
	LExpr *val = V(L, acc);
	if (!c->max) {
		int interior = bnd_static(bh) && bnd_static(bw) && bh->lo == 0 && bh->hi == c->KH && bw->lo == 0 &&
		               bw->hi == c->KW;
		if (interior) {
			val = BIN(L, LO_DIV, val, F(L, LT_F32, (double)(c->KH * c->KW)));
		} else if (c->include_pad) {
			if (bh->vpsz < 0 && bw->vpsz < 0)
				val = BIN(L, LO_DIV, val, F(L, LT_F32, (double)(bh->psz * bw->psz)));
			else
				val = BIN(L, LO_DIV, val, CAST(L, LT_F32, BIN(L, LO_MUL, bnd_psz(L, bh), bnd_psz(L, bw))));
		} else if (bnd_static(bh) && bnd_static(bw)) {
			int64_t cnt = (bh->hi - bh->lo) * (bw->hi - bw->lo);
			val = cnt > 0 ? BIN(L, LO_DIV, val, F(L, LT_F32, (double)cnt)) : F(L, LT_F32, 0.0);
		} else {
			LExpr *cnt = BIN(L, LO_MUL, bnd_len(L, bh), bnd_len(L, bw));
			int cv = let(L, to, "cnt", cnt);
			/* a window with no tap inside gives 0 (as eval_pool) */
			val = SEL(L, BIN(L, LO_LE, V(L, cv), I(L, 0)), F(L, LT_F32, 0.0),
			          BIN(L, LO_DIV, val, CAST(L, LT_F32, V(L, cv))));
		}
	}
	store(L, to, c->y, AFF(L, &yi), val);
}

/* The RowFn of a pool: per column region a loop over its columns (or one
 * column) with the clamped tap-column bounds, one pixel each. */
static void pool_row(Lower *L, LStmtList *to, const void *cv, Ix oh, const Bnd *bh, const int64_t cols[3][2])
{
	const Pix *c = cv;
	for (int k = 0; k < 3; k++) {
		Ix ow;
		LStmtList *l2 = FOR(L, to, "ow", cols[k][0], cols[k][1], &ow);
		if (l2 == &L->sink)
			continue;
		Bnd bw = bnd_make(L, l2, c->aw, ow, cols[k][0], cols[k][1], c->include_pad);
		pool_pix(L, l2, c, oh, ow, bh, &bw);
	}
}

static int lower_pool(Lower *L, const Node *n, LStmtList *to)
{
	const Block *b = L->b;
	const Tensor *x = &b->tensors[n->in[0]], *y = &b->tensors[n->out];
	OpKind op = n->op;
	int nd = (op == OP_MAXPOOL1D || op == OP_AVGPOOL1D) ? 1 : 2;
	int max = op == OP_MAXPOOL1D || op == OP_MAXPOOL2D;
	OpCtx oc = {L->d, L->file, L->bi, n};
	int64_t k[2], s[2], d[2] = {1, 1}, pb[2], pe[2];
	if (attr_spatial(&oc, "kernel_size", nd, 1, k) < 0)
		return -1;
	if (node_attr(n, "stride")->set) {
		if (attr_spatial(&oc, "stride", nd, 1, s) < 0)
			return -1;
	} else {
		memcpy(s, k, sizeof s);
	}
	if (max && attr_spatial(&oc, "dilation", nd, 1, d) < 0)
		return -1;
	if (attr_padding(&oc, "padding", nd, pb, pe) != 0)
		return -1;
	int xt = absorb_pad(L, n, nd, pb, pe); /* a folded Pad: read its input */
	x = &b->tensors[xt];
	Pix c;
	memset(&c, 0, sizeof c);
	c.max = max;
	c.include_pad = max ? 0 : node_attr(n, "count_include_pad")->i[0] != 0;
	c.x = buf_of(L, xt, 1);
	c.y = out_of(L, n);
	if (c.x < 0 || c.y < 0)
		return -1;
	int64_t in2[2], k2[2], s2[2], d2[2], pb2[2], pe2[2], o2[2];
	lift(nd, x->shape + 2, in2, 1);
	lift(nd, k, k2, 1);
	lift(nd, s, s2, 1);
	lift(nd, d, d2, 1);
	lift(nd, pb, pb2, 0);
	lift(nd, pe, pe2, 0);
	lift(nd, y->shape + 2, o2, 1);
	WAx ah = {in2[0], o2[0], k2[0], s2[0], d2[0], pb2[0], pe2[0]};
	WAx aw = {in2[1], o2[1], k2[1], s2[1], d2[1], pb2[1], pe2[1]};
	c.H = in2[0];
	c.W = in2[1];
	c.OH = o2[0];
	c.OW = o2[1];
	c.KH = k2[0];
	c.KW = k2[1];
	c.ah = &ah;
	c.aw = &aw;
	Ix pl;
	LStmtList *l = FOR(L, to, "c", 0, x->shape[0] * x->shape[1], &pl);
	c.xb = aff(0);
	aff_add(&c.xb, pl, c.H * c.W);
	c.yb = aff(0);
	aff_add(&c.yb, pl, c.OH * c.OW);
	window_rows(L, l, &ah, &aw, !max && c.include_pad, 0, pool_row, &c);
	return 0;
}

/* Adaptive average pooling: PyTorch's windows [floor(i·L/n), ceil((i+1)·L/n)). */
static void ad_bounds(Lower *L, LStmtList *to, Ix o, int64_t in, int64_t out, Bnd *r)
{
	r->vlo = r->vhi = r->vpsz = -1;
	if (o.var < 0 || in % out == 0) {
		int64_t q = in / out;
		if (o.var < 0) {
			r->lo = (o.c * in) / out;
			r->hi = ((o.c + 1) * in + out - 1) / out;
		} else { /* lo = o·q, hi = lo + q: kept as variables for the tap loop */
			r->vlo = let(L, to, "alo", le_mul_k(L->p, IX(L, o), q));
			r->vhi = let(L, to, "ahi", le_add(L->p, le_mul_k(L->p, IX(L, o), q), I(L, q)));
		}
		return;
	}
	r->vlo = let(L, to, "alo", BIN(L, LO_DIV, le_mul_k(L->p, IX(L, o), in), I(L, out)));
	r->vhi = let(L, to, "ahi", BIN(L, LO_DIV, le_add(L->p, le_mul_k(L->p, IX(L, o), in), I(L, in + out - 1)),
	                              I(L, out)));
}

static int lower_adaptive(Lower *L, const Node *n, LStmtList *to)
{
	const Block *b = L->b;
	const Tensor *x = &b->tensors[n->in[0]], *y = &b->tensors[n->out];
	int nd = x->rank - 2;
	int64_t is[2], os[2];
	lift(nd, x->shape + 2, is, 1);
	lift(nd, y->shape + 2, os, 1);
	int xb = buf_of(L, n->in[0], 1), yb = out_of(L, n);
	if (xb < 0 || yb < 0)
		return -1;
	const int64_t H = is[0], W = is[1], OH = os[0], OW = os[1];
	Ix pl;
	LStmtList *l = FOR(L, to, "c", 0, x->shape[0] * x->shape[1], &pl);
	if (OH == 1 && OW == 1) { /* global: f64 sum over the plane, divided once */
		int acc = let(L, l, "s", F(L, LT_F64, 0.0));
		Ix j;
		LStmtList *l2 = FOR(L, l, "j", 0, H * W, &j);
		Aff xi = aff(0);
		aff_add(&xi, pl, H * W);
		aff_add(&xi, j, 1);
		set(L, l2, acc, BIN(L, LO_ADD, V(L, acc), CAST(L, LT_F64, LD(L, xb, AFF(L, &xi)))));
		Aff yi = aff(0);
		aff_add(&yi, pl, 1);
		store(L, l, yb, AFF(L, &yi),
		      CAST(L, LT_F32, BIN(L, LO_DIV, V(L, acc), F(L, LT_F64, (double)(H * W)))));
		return 0;
	}
	Ix oh, ow, ih, iw;
	LStmtList *l1 = FOR(L, l, "oh", 0, OH, &oh);
	Bnd bh, bw;
	ad_bounds(L, l1, oh, H, OH, &bh);
	LStmtList *l2 = FOR(L, l1, "ow", 0, OW, &ow);
	ad_bounds(L, l2, ow, W, OW, &bw);
	int acc = let(L, l2, "s", F(L, LT_F32, 0.0));
	LStmtList *l3 = tap_loop(L, l2, "ih", &bh, &ih);
	l3 = tap_loop(L, l3, "iw", &bw, &iw);
	Aff xi = aff(0);
	aff_add(&xi, pl, H * W);
	aff_add(&xi, ih, W);
	aff_add(&xi, iw, 1);
	set(L, l3, acc, BIN(L, LO_ADD, V(L, acc), LD(L, xb, AFF(L, &xi))));
	Aff yi = aff(0);
	aff_add(&yi, pl, OH * OW);
	aff_add(&yi, oh, OW);
	aff_add(&yi, ow, 1);
	LExpr *kh = BIN(L, LO_SUB, bnd_hi(L, &bh), bnd_lo(L, &bh));
	LExpr *kw = BIN(L, LO_SUB, bnd_hi(L, &bw), bnd_lo(L, &bw));
	if (bh.vlo < 0 && bh.vhi < 0)
		kh = I(L, bh.hi - bh.lo);
	if (bw.vlo < 0 && bw.vhi < 0)
		kw = I(L, bw.hi - bw.lo);
	if (H % OH == 0)
		kh = I(L, H / OH);
	if (W % OW == 0)
		kw = I(L, W / OW);
	LExpr *fkh = kh->kind == LE_CONST ? F(L, LT_F32, (double)kh->ival) : CAST(L, LT_F32, kh);
	LExpr *fkw = kw->kind == LE_CONST ? F(L, LT_F32, (double)kw->ival) : CAST(L, LT_F32, kw);
	store(L, l2, yb, AFF(L, &yi), BIN(L, LO_DIV, BIN(L, LO_DIV, V(L, acc), fkh), fkw));
	return 0;
}

/* ---- linear ----------------------------------------------------------------- */

/* Outputs per register block of Linear (and of the blocked conv kernels):
 * LIN_OB accumulators live in registers across the whole k loop and share
 * each x load. 16 f32 accumulators fit Cortex-M4F's 32 S registers with room
 * for the operands, and on x86-64 the SLP vectorizer turns them into two
 * 8-wide (or one 16-wide) vector accumulators. */
#define LIN_OB 16

/* A constant weight matrix W[rows][cols] re-laid out in row blocks of width
 * ob: block j (rows r0 = j·ob .. r0 + bw, bw = min(ob, rows - r0)) starts at
 * r0·cols and holds W[r0 + b][k] at r0·cols + k·bw + b, so the bw weights one
 * k step needs are contiguous. Reads T from element base, writes v. */
static void block_rows(const Tensor *T, int64_t rows, int64_t cols, int64_t ob, int64_t base, float *v)
{
	for (int64_t r0 = 0; r0 < rows; r0 += ob) {
		int64_t bw = rows - r0 < ob ? rows - r0 : ob;
		for (int64_t b = 0; b < bw; b++)
			for (int64_t k = 0; k < cols; k++)
				v[r0 * cols + k * bw + b] = (float)dtype_get(T->dtype, T->data, base + (r0 + b) * cols + k);
	}
}

/* Linear with a constant weight: per row, blocks of LIN_OB outputs; the k
 * loop loads x[k] once and adds x[k]·W[o][k] to each output's accumulator.
 * Every output's sum keeps the interpreter's order (0, then k = 0.., bias
 * last), so results are bit-identical. */
static int lower_linear(Lower *L, const Node *n, LStmtList *to)
{
	const Block *b = L->b;
	const Tensor *x = &b->tensors[n->in[0]], *w = &b->tensors[n->in[1]];
	int64_t inf = w->shape[1], outf = w->shape[0];
	int64_t rows = shape_numel(x->rank - 1, x->shape);
	int xb = buf_of(L, n->in[0], 1);
	int bb = n->n_in > 2 ? buf_of(L, n->in[2], 1) : -1;
	if (lower_sparse_wanted(w)) { /* mostly zeros (pruned): sparse storage and kernel, lower_sparse.c */
		int yb = out_of(L, n);
		if (xb < 0 || yb < 0 || (n->n_in > 2 && bb < 0))
			return -1;
		if (lower_sparse_linear(L->p, to, w, rows, xb, bb, yb) < 0)
			L->oom = 1;
		return L->oom ? -1 : 0;
	}
	int wb = -1;
	int blocked = w->data != NULL && inf > 0 && outf > 1;
	if (blocked) {
		float *v = nnl_malloc((size_t)(outf * inf) * sizeof *v);
		if (!v) {
			L->oom = 1;
			return -1;
		}
		block_rows(w, outf, inf, LIN_OB, 0, v);
		wb = const_f32(L, w->name, "_blk", v, outf * inf);
	} else {
		wb = buf_of(L, n->in[1], 1);
	}
	int yb = out_of(L, n);
	if (xb < 0 || wb < 0 || yb < 0 || (n->n_in > 2 && bb < 0))
		return -1;
	Ix r, o, k;
	if (rows == 0)
		return 0;
	/* always a loop, even of one row: the node stays one top-level statement
	 * (what the loop passes see as its nest) */
	LStmtList *l = FORE(L, to, "r", I(L, 0), I(L, rows), &r);
	if (rows == 1) { /* indices without the variable of a one-iteration loop (as FOR) */
		r.var = -1;
		r.c = 0;
	}
	if (!blocked) {
		l = FOR(L, l, "o", 0, outf, &o);
		if (l == &L->sink)
			return 0;
		int acc = let(L, l, "acc", F(L, LT_F32, 0.0));
		LStmtList *l2 = FOR(L, l, "k", 0, inf, &k);
		Aff xi = aff(0), wi = aff(0), yi = aff(0), bi = aff(0);
		aff_add(&xi, r, inf);
		aff_add(&xi, k, 1);
		aff_add(&wi, o, inf);
		aff_add(&wi, k, 1);
		aff_add(&yi, r, outf);
		aff_add(&yi, o, 1);
		aff_add(&bi, o, 1);
		set(L, l2, acc, BIN(L, LO_ADD, V(L, acc), BIN(L, LO_MUL, LD(L, xb, AFF(L, &xi)), LD(L, wb, AFF(L, &wi)))));
		LExpr *v = V(L, acc);
		if (bb >= 0)
			v = BIN(L, LO_ADD, v, LD(L, bb, AFF(L, &bi)));
		store(L, l, yb, AFF(L, &yi), v);
		return 0;
	}
	/* full blocks (a loop over them), then the remainder block */
	int64_t nfull = outf / LIN_OB, rem = outf % LIN_OB;
	for (int part = 0; part < 2; part++) {
		int64_t bw = part == 0 ? LIN_OB : rem;
		Ix ob;
		LStmtList *lb = part == 0 ? FOR(L, l, "ob", 0, nfull, &ob) : l;
		if (part == 1) {
			ob.var = -1;
			ob.c = nfull;
		}
		if (lb == &L->sink || bw == 0)
			continue;
		int acc[LIN_OB];
		for (int64_t j = 0; j < bw; j++)
			acc[j] = let(L, lb, "acc", F(L, LT_F32, 0.0));
		LStmtList *lk = FOR(L, lb, "k", 0, inf, &k);
		Aff xi = aff(0);
		aff_add(&xi, r, inf);
		aff_add(&xi, k, 1);
		int xv = let(L, lk, "x", LD(L, xb, AFF(L, &xi)));
		for (int64_t j = 0; j < bw; j++) {
			Aff wi = aff(j);
			aff_add(&wi, ob, LIN_OB * inf);
			aff_add(&wi, k, bw);
			set(L, lk, acc[j], BIN(L, LO_ADD, V(L, acc[j]), BIN(L, LO_MUL, V(L, xv), LD(L, wb, AFF(L, &wi)))));
		}
		for (int64_t j = 0; j < bw; j++) {
			Aff yi = aff(j), bi = aff(j);
			aff_add(&yi, r, outf);
			aff_add(&yi, ob, LIN_OB);
			aff_add(&bi, ob, LIN_OB);
			LExpr *v = V(L, acc[j]);
			if (bb >= 0)
				v = BIN(L, LO_ADD, v, LD(L, bb, AFF(L, &bi)));
			store(L, lb, yb, AFF(L, &yi), v);
		}
	}
	return 0;
}

/* ---- batchnorm, prelu, unary ----------------------------------------------- */

static int lower_batchnorm(Lower *L, const Node *n, LStmtList *to)
{
	const Block *b = L->b;
	const Tensor *x = &b->tensors[n->in[0]];
	int64_t C = x->shape[1];
	float *al = nnl_malloc((size_t)C * sizeof *al), *be = nnl_malloc((size_t)C * sizeof *be);
	if (!al || !be) {
		free(al);
		free(be);
		L->oom = 1;
		return -1;
	}
	const float eps = (float)node_attr(n, "eps")->f;
	double pv[4];
	for (int64_t ch = 0; ch < C; ch++) {
		for (int i = 0; i < 4; i++) {
			const Tensor *t = &b->tensors[n->in[1 + i]];
			pv[i] = t->data ? dtype_get(t->dtype, t->data, ch) : 0.0;
		}
		float invstd = 1.0f / sqrtf((float)pv[3] + eps);
		al[ch] = invstd * (float)pv[0];
		be[ch] = fmaf(-(float)pv[2], al[ch], (float)pv[1]);
	}
	for (int i = 1; i < 5; i++)
		if (!b->tensors[n->in[i]].data) {
			free(al);
			free(be);
			lerr(L, "parameter '%s' is not a constant; batch norm is lowered with precomputed scale and shift",
			     b->tensors[n->in[i]].name);
			return -1;
		}
	const char *nm = n->id ? n->id : b->tensors[n->out].name;
	int ab = const_f32(L, nm, "_scale", al, C), bbf = const_f32(L, nm, "_shift", be, C);
	int xb = buf_of(L, n->in[0], 1), yb = out_of(L, n);
	if (ab < 0 || bbf < 0 || xb < 0 || yb < 0)
		return -1;
	int64_t st[NOPS][NNL_MAX_RANK];
	cstrides(x->rank, x->shape, st[0]);
	cstrides(x->rank, x->shape, st[1]);
	for (int i = 0; i < x->rank; i++)
		st[2][i] = i == 1 ? 1 : 0;
	Aff idx[3] = {aff(0), aff(0), aff(0)};
	LStmtList *l = nest(L, to, x->rank, x->shape, 3, st, idx);
	if (l == &L->sink)
		return 0;
	store(L, l, yb, AFF(L, &idx[1]),
	      BIN(L, LO_ADD, BIN(L, LO_MUL, LD(L, xb, AFF(L, &idx[0])), LD(L, ab, AFF(L, &idx[2]))),
	          LD(L, bbf, AFF(L, &idx[2]))));
	return 0;
}

static int lower_prelu(Lower *L, const Node *n, LStmtList *to)
{
	const Block *b = L->b;
	const Tensor *x = &b->tensors[n->in[0]];
	int per_ch = tensor_numel(&b->tensors[n->in[1]]) != 1;
	int xb = buf_of(L, n->in[0], 1), wb = buf_of(L, n->in[1], 1), yb = out_of(L, n);
	if (xb < 0 || wb < 0 || yb < 0)
		return -1;
	int64_t st[NOPS][NNL_MAX_RANK];
	cstrides(x->rank, x->shape, st[0]);
	cstrides(x->rank, x->shape, st[1]);
	for (int i = 0; i < x->rank; i++)
		st[2][i] = (per_ch && i == 1) ? 1 : 0;
	Aff idx[3] = {aff(0), aff(0), aff(0)};
	LStmtList *l = nest(L, to, x->rank, x->shape, 3, st, idx);
	if (l == &L->sink)
		return 0;
	int v = let(L, l, "v", LD(L, xb, AFF(L, &idx[0])));
	store(L, l, yb, AFF(L, &idx[1]),
	      SEL(L, BIN(L, LO_GT, V(L, v), F(L, LT_F32, 0)), V(L, v),
	          BIN(L, LO_MUL, LD(L, wb, AFF(L, &idx[2])), V(L, v))));
	return 0;
}

/* t < 0 ? 0 : t (NaN and -0 pass through, as the interpreter) */
static LExpr *relu_sel(Lower *L, int v)
{
	return SEL(L, BIN(L, LO_LT, V(L, v), F(L, LT_F32, 0)), F(L, LT_F32, 0), V(L, v));
}

/* tanh(v) as Eigen's rational approximation (odd degree-13 numerator over an
 * even degree-6 denominator, argument clamped to ±7.90531, identity below
 * 4e-4), in float32 with every product and sum rounded: at most 6 ulp
 * (3.6e-7 relative) from torch.tanh over [-12, 12] and 1e-8..16 in magnitude,
 * NaN stays NaN. It replaces a libm tanhf call (~100 instructions on a
 * Cortex-M4, and a call that blocks vectorization) by ~25 inline
 * instructions; docs/codegen.md lists it with the other compiled-code
 * formulas that differ from the interpreter in the last bits. */
static LExpr *tanh_val(Lower *L, LStmtList *to, int v)
{
	static const double num[] = {4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05,
	                             5.12229709037114e-08, -8.60467152213735e-11, 2.00018790482477e-13,
	                             -2.76076847742355e-16};
	static const double den[] = {4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04,
	                             1.19825839466702e-06};
	const LType f = LT_F32;
	const double clamp = (float)7.90531110763549805;
	int c = let(L, to, "c", BIN(L, LO_MAX, BIN(L, LO_MIN, V(L, v), F(L, f, clamp)), F(L, f, -clamp)));
	int x2 = let(L, to, "xsq", BIN(L, LO_MUL, V(L, c), V(L, c)));
	int pn = let(L, to, "p", F(L, f, (float)num[6]));
	for (int k = 5; k >= 0; k--)
		set(L, to, pn, BIN(L, LO_ADD, BIN(L, LO_MUL, V(L, pn), V(L, x2)), F(L, f, (float)num[k])));
	set(L, to, pn, BIN(L, LO_MUL, V(L, pn), V(L, c)));
	int qd = let(L, to, "q", F(L, f, (float)den[3]));
	for (int k = 2; k >= 0; k--)
		set(L, to, qd, BIN(L, LO_ADD, BIN(L, LO_MUL, V(L, qd), V(L, x2)), F(L, f, (float)den[k])));
	return SEL(L, BIN(L, LO_LT, UN(L, LU_ABS, V(L, v)), F(L, f, (float)0.0004)), V(L, v),
	           BIN(L, LO_DIV, V(L, pn), V(L, qd)));
}

/* The unary activation of v (a let variable) into to; returns the value. */
static LExpr *unary_val(Lower *L, LStmtList *to, const Node *n, int v)
{
	const LType f = LT_F32;
	switch (n->op) {
	case OP_RELU:
		return SEL(L, BIN(L, LO_LT, V(L, v), F(L, f, 0)), F(L, f, 0), V(L, v));
	case OP_RELU6: {
		int t = let(L, to, "t", relu_sel(L, v));
		return SEL(L, BIN(L, LO_GT, V(L, t), F(L, f, 6)), F(L, f, 6), V(L, t));
	}
	case OP_LEAKYRELU: {
		float s = (float)node_attr(n, "negative_slope")->f;
		return SEL(L, BIN(L, LO_GT, V(L, v), F(L, f, 0)), V(L, v), BIN(L, LO_MUL, V(L, v), F(L, f, s)));
	}
	case OP_SIGMOID:
		return BIN(L, LO_DIV, F(L, f, 1), BIN(L, LO_ADD, F(L, f, 1), UN(L, LU_EXP, UN(L, LU_NEG, V(L, v)))));
	case OP_TANH:
		return tanh_val(L, to, v);
	case OP_SILU:
		return BIN(L, LO_DIV, V(L, v), BIN(L, LO_ADD, F(L, f, 1), UN(L, LU_EXP, UN(L, LU_NEG, V(L, v)))));
	case OP_HARDSWISH:
	case OP_HARDSIGMOID: {
		int t = let(L, to, "t", BIN(L, LO_ADD, V(L, v), F(L, f, 3)));
		set(L, to, t, relu_sel(L, t));
		set(L, to, t, SEL(L, BIN(L, LO_GT, V(L, t), F(L, f, 6)), F(L, f, 6), V(L, t)));
		if (n->op == OP_HARDSIGMOID)
			return BIN(L, LO_DIV, V(L, t), F(L, f, 6));
		return BIN(L, LO_DIV, BIN(L, LO_MUL, V(L, v), V(L, t)), F(L, f, 6));
	}
	case OP_GELU:
		if (strncmp(node_attr(n, "approximate")->s, "tanh", 16) == 0) {
			const float beta = (float)(NNL_SQRT2 * NNL_2_SQRTPI * 0.5), kappa = 0.044715f;
			LExpr *cube = BIN(L, LO_MUL, BIN(L, LO_MUL, V(L, v), V(L, v)), V(L, v));
			LExpr *inner = BIN(L, LO_MUL, F(L, f, beta),
			                   BIN(L, LO_ADD, V(L, v), BIN(L, LO_MUL, F(L, f, kappa), cube)));
			return BIN(L, LO_MUL, BIN(L, LO_MUL, F(L, f, 0.5), V(L, v)),
			           BIN(L, LO_ADD, F(L, f, 1), UN(L, LU_TANH, inner)));
		} else {
			const float alpha = (float)NNL_SQRT1_2;
			return BIN(L, LO_MUL, BIN(L, LO_MUL, V(L, v), F(L, f, 0.5)),
			           BIN(L, LO_ADD, F(L, f, 1), UN(L, LU_ERF, BIN(L, LO_MUL, V(L, v), F(L, f, alpha)))));
		}
	case OP_CLIP: {
		const AttrValue *lo = node_attr(n, "min"), *hi = node_attr(n, "max");
		LExpr *e = V(L, v);
		if (lo->set) {
			float l = (float)lo->f;
			set(L, to, v, SEL(L, BIN(L, LO_LT, V(L, v), F(L, f, l)), F(L, f, l), V(L, v)));
		}
		if (hi->set) {
			float h = (float)hi->f;
			e = SEL(L, BIN(L, LO_GT, V(L, v), F(L, f, h)), F(L, f, h), V(L, v));
		}
		return e;
	}
	default:
		NNL_BUG("unary_val: not a unary op");
		return NULL;
	}
}

static int lower_unary(Lower *L, const Node *n, LStmtList *to)
{
	const Tensor *x = &L->b->tensors[n->in[0]];
	int xb = buf_of(L, n->in[0], 1), yb = out_of(L, n);
	if (xb < 0 || yb < 0)
		return -1;
	int64_t st[NOPS][NNL_MAX_RANK];
	cstrides(x->rank, x->shape, st[0]);
	Aff idx[1] = {aff(0)};
	LStmtList *l = nest(L, to, x->rank, x->shape, 1, st, idx);
	if (l == &L->sink)
		return 0;
	int v = let(L, l, "v", LD(L, xb, AFF(L, &idx[0])));
	LExpr *e = unary_val(L, l, n, v);
	store(L, l, yb, AFF(L, &idx[0]), e);
	return 0;
}

/* ---- softmax ---------------------------------------------------------------- */

static int lower_softmax(Lower *L, const Node *n, LStmtList *to)
{
	const Tensor *x = &L->b->tensors[n->in[0]];
	int64_t dim;
	norm_axis(node_attr(n, "dim")->i[0], x->rank > 0 ? x->rank : 1, &dim);
	int is_log = n->op == OP_LOGSOFTMAX;
	int xb = buf_of(L, n->in[0], 1), yb = out_of(L, n);
	if (xb < 0 || yb < 0)
		return -1;
	int64_t N = x->rank > 0 ? x->shape[dim] : 1;
	int64_t outer = x->rank > 0 ? shape_numel((int)dim, x->shape) : 1;
	int64_t inner = x->rank > 0 ? shape_numel(x->rank - (int)dim - 1, x->shape + dim + 1) : 1;
	if (N == 0)
		return 0;
	int64_t dims[2] = {outer, inner}, st[NOPS][NNL_MAX_RANK] = {{N * inner, 1}};
	Aff base[1] = {aff(0)};
	LStmtList *l = nest(L, to, 2, dims, 1, st, base);
	if (l == &L->sink)
		return 0;
	Ix k;
	Aff xi;
	/* max, keeping the first NaN */
	int m = let(L, l, "m", F(L, LT_F32, -INFINITY));
	LStmtList *l1 = FOR(L, l, "k", 0, N, &k);
	xi = base[0];
	aff_add(&xi, k, inner);
	int v = let(L, l1, "v", LD(L, xb, AFF(L, &xi)));
	set(L, l1, m,
	    SEL(L, BIN(L, LO_OR, BIN(L, LO_GT, V(L, v), V(L, m)), BIN(L, LO_NE, V(L, v), V(L, v))), V(L, v), V(L, m)));
	/* Σ exp(x - m) in f64 */
	int s = let(L, l, "s", F(L, LT_F64, 0));
	l1 = FOR(L, l, "k", 0, N, &k);
	xi = base[0];
	aff_add(&xi, k, inner);
	int e = let(L, l1, "e", UN(L, LU_EXP, BIN(L, LO_SUB, LD(L, xb, AFF(L, &xi)), V(L, m))));
	if (!is_log)
		store(L, l1, yb, AFF(L, &xi), V(L, e));
	set(L, l1, s, BIN(L, LO_ADD, V(L, s), CAST(L, LT_F64, V(L, e))));
	if (is_log) {
		int ls = let(L, l, "ls", CAST(L, LT_F32, UN(L, LU_LOG, V(L, s))));
		l1 = FOR(L, l, "k", 0, N, &k);
		xi = base[0];
		aff_add(&xi, k, inner);
		store(L, l1, yb, AFF(L, &xi),
		      BIN(L, LO_SUB, BIN(L, LO_SUB, LD(L, xb, AFF(L, &xi)), V(L, m)), V(L, ls)));
	} else {
		l1 = FOR(L, l, "k", 0, N, &k);
		xi = base[0];
		aff_add(&xi, k, inner);
		store(L, l1, yb, AFF(L, &xi),
		      CAST(L, LT_F32, BIN(L, LO_DIV, CAST(L, LT_F64, LD(L, yb, AFF(L, &xi))), V(L, s))));
	}
	return 0;
}

/* ---- reduce ----------------------------------------------------------------- */

static int lower_reduce(Lower *L, const Node *n, LStmtList *to)
{
	const Tensor *x = &L->b->tensors[n->in[0]];
	const AttrValue *a = node_attr(n, "dims");
	int r = x->rank, red[NNL_MAX_RANK];
	for (int i = 0; i < r; i++)
		red[i] = !a->set || a->n == 0;
	if (a->set)
		for (int i = 0; i < a->n && r > 0; i++) {
			int64_t ax;
			if (norm_axis(a->i[i], r, &ax) == 0)
				red[ax] = 1;
		}
	int xb = buf_of(L, n->in[0], 1), yb = out_of(L, n);
	if (xb < 0 || yb < 0)
		return -1;
	int64_t ist[NNL_MAX_RANK], kd[NNL_MAX_RANK], rd[NNL_MAX_RANK], count = 1;
	int64_t kst[NOPS][NNL_MAX_RANK], rst[NOPS][NNL_MAX_RANK];
	int nk = 0, nr = 0;
	cstrides(r, x->shape, ist);
	for (int i = 0; i < r; i++) {
		if (red[i]) {
			rd[nr] = x->shape[i];
			rst[0][nr++] = ist[i];
			count *= x->shape[i];
		} else {
			kd[nk] = x->shape[i];
			kst[0][nk++] = ist[i];
		}
	}
	int64_t ost[NNL_MAX_RANK];
	cstrides(nk, kd, ost);
	for (int i = 0; i < nk; i++)
		kst[1][i] = ost[i];
	Aff oi[2] = {aff(0), aff(0)};
	LStmtList *l = nest(L, to, nk, kd, 2, kst, oi);
	if (l == &L->sink)
		return 0;
	int acc = let(L, l, "s", F(L, LT_F64, 0));
	Aff ii[1] = {oi[0]};
	LStmtList *l2 = nest(L, l, nr, rd, 1, rst, ii);
	if (l2 != &L->sink)
		set(L, l2, acc, BIN(L, LO_ADD, V(L, acc), CAST(L, LT_F64, LD(L, xb, AFF(L, &ii[0])))));
	LExpr *v = V(L, acc);
	if (n->op == OP_MEAN)
		v = BIN(L, LO_DIV, v, F(L, LT_F64, (double)count));
	store(L, l, yb, AFF(L, &oi[1]), CAST(L, LT_F32, v));
	return 0;
}

/* ---- binary direct ops ------------------------------------------------------ */

static void bcast_strides(const Tensor *t, int r, int64_t *st)
{
	int64_t s = 1;
	for (int i = r - 1; i >= 0; i--) {
		int j = i - (r - t->rank);
		int64_t d = j >= 0 ? t->shape[j] : 1;
		st[i] = d == 1 ? 0 : s;
		s *= d;
	}
}

/* x^e for a scalar exponent: torch's special cases as eval_binary. */
static LExpr *pow_scalar(Lower *L, LType t, int v, double e)
{
	if (e == 0.5)
		return UN(L, LU_SQRT, V(L, v));
	if (e == -0.5)
		return BIN(L, LO_DIV, F(L, t, 1), UN(L, LU_SQRT, V(L, v)));
	if (e == -1.0)
		return BIN(L, LO_DIV, F(L, t, 1), V(L, v));
	if (e == 2.0)
		return BIN(L, LO_MUL, V(L, v), V(L, v));
	if (e == 3.0)
		return BIN(L, LO_MUL, BIN(L, LO_MUL, V(L, v), V(L, v)), V(L, v));
	if (t == LT_F32) {
		if (e == -2.0)
			return CAST(L, LT_F32,
			            BIN(L, LO_DIV, F(L, LT_F64, 1), CAST(L, LT_F64, BIN(L, LO_MUL, V(L, v), V(L, v)))));
		return CAST(L, LT_F32, BIN(L, LO_POW, CAST(L, LT_F64, V(L, v)), F(L, LT_F64, (double)(float)e)));
	}
	if (e == -2.0)
		return BIN(L, LO_DIV, F(L, t, 1), BIN(L, LO_MUL, V(L, v), V(L, v)));
	return BIN(L, LO_POW, V(L, v), F(L, t, e));
}

static LExpr *binary_val(Lower *L, LStmtList *to, OpKind op, LType t, int a, int b)
{
	LBinOp bo = op == OP_ADD ? LO_ADD : op == OP_SUB ? LO_SUB : op == OP_MUL ? LO_MUL : LO_DIV;
	if (op == OP_ADD || op == OP_SUB || op == OP_MUL)
		return BIN(L, bo, V(L, a), V(L, b));
	if (op == OP_POW)
		return BIN(L, LO_POW, V(L, a), V(L, b));
	int sgn = ltype_is_signed(t);
	if (ltype_is_float(t)) {
		if (op == OP_DIV)
			return BIN(L, LO_DIV, V(L, a), V(L, b));
		/* r = fmod(a, b); r != 0 && (r < 0) != (b < 0) ? r + b : r */
		int r = let(L, to, "r", BIN(L, LO_REM, V(L, a), V(L, b)));
		LExpr *fix = BIN(L, LO_AND, BIN(L, LO_NE, V(L, r), F(L, t, 0)),
		                 BIN(L, LO_NE, BIN(L, LO_LT, V(L, r), F(L, t, 0)), BIN(L, LO_LT, V(L, b), F(L, t, 0))));
		return SEL(L, fix, BIN(L, LO_ADD, V(L, r), V(L, b)), V(L, r));
	}
	/* integers: divisor 0 (and -1, whose quotient can overflow) replaced by 1 */
	LExpr *bad = BIN(L, LO_EQ, V(L, b), K(L, t, 0));
	if (sgn)
		bad = BIN(L, LO_OR, bad, BIN(L, LO_EQ, V(L, b), K(L, t, -1)));
	int ys = let(L, to, "d", SEL(L, bad, K(L, t, 1), V(L, b)));
	if (op == OP_DIV) {
		LExpr *q = BIN(L, LO_DIV, V(L, a), V(L, ys));
		q = SEL(L, BIN(L, LO_EQ, V(L, b), K(L, t, 0)), K(L, t, 0), q);
		if (sgn)
			q = SEL(L, BIN(L, LO_EQ, V(L, b), K(L, t, -1)), BIN(L, LO_SUB, K(L, t, 0), V(L, a)), q);
		return q;
	}
	int m = let(L, to, "r", BIN(L, LO_REM, V(L, a), V(L, ys)));
	if (!sgn)
		return V(L, m);
	LExpr *fix = BIN(L, LO_AND, BIN(L, LO_NE, V(L, m), K(L, t, 0)),
	                 BIN(L, LO_NE, BIN(L, LO_LT, V(L, m), K(L, t, 0)), BIN(L, LO_LT, V(L, b), K(L, t, 0))));
	return SEL(L, fix, BIN(L, LO_ADD, V(L, m), V(L, b)), V(L, m));
}

/* A one-element constant operand is inlined as a literal (normalisation
 * constants and the like), anything else is loaded. */
static int is_scalar(Lower *L, int t, LType lt)
{
	const Tensor *T = &L->b->tensors[t];
	return T->data && tensor_numel(T) == 1 && ltype_of_dtype(T->dtype) == lt;
}

static LExpr *scalar_or_load(Lower *L, int t, LType lt, int buf, const Aff *idx)
{
	const Tensor *T = &L->b->tensors[t];
	if (is_scalar(L, t, lt))
		return ltype_is_float(lt) ? F(L, lt, dtype_get(T->dtype, T->data, 0))
		                          : le_int(L->p, lt, dtype_get_i64(T->dtype, T->data, 0));
	return LD(L, buf, AFF(L, idx));
}

static int lower_binary(Lower *L, const Node *n, LStmtList *to)
{
	const Block *b = L->b;
	const Tensor *y = &b->tensors[n->out];
	LType t = ltype_of_dtype(y->dtype);
	if (t == LT_VOID) {
		lerr(L, "output '%s' has a datatype the loop IR cannot compute in", y->name);
		return -1;
	}
	int ab = is_scalar(L, n->in[0], t) ? -2 : buf_of(L, n->in[0], 0);
	int bb = n->n_in < 2 ? -2 : is_scalar(L, n->in[1], t) ? -2 : buf_of(L, n->in[1], 0);
	int yb = out_of(L, n);
	if (ab == -1 || bb == -1 || yb < 0)
		return -1;
	int r = y->rank;
	int64_t st[NOPS][NNL_MAX_RANK];
	cstrides(r, y->shape, st[0]);
	bcast_strides(&b->tensors[n->in[0]], r, st[1]);
	if (n->n_in > 1)
		bcast_strides(&b->tensors[n->in[1]], r, st[2]);
	Aff idx[3] = {aff(0), aff(0), aff(0)};
	LStmtList *l = nest(L, to, r, y->shape, n->n_in + 1, st, idx);
	if (l == &L->sink)
		return 0;
	int va = let(L, l, "a", scalar_or_load(L, n->in[0], t, ab, &idx[1]));
	LExpr *e;
	if (n->n_in == 1) {
		e = pow_scalar(L, t, va, node_attr(n, "exponent")->f);
	} else {
		int vb = let(L, l, "b", scalar_or_load(L, n->in[1], t, bb, &idx[2]));
		e = binary_val(L, l, n->op, t, va, vb);
	}
	store(L, l, yb, AFF(L, &idx[0]), e);
	return 0;
}

/* ---- matmul ----------------------------------------------------------------- */

static int lower_matmul(Lower *L, const Node *n, LStmtList *to)
{
	const Block *b = L->b;
	const Tensor *A = &b->tensors[n->in[0]], *B = &b->tensors[n->in[1]], *Y = &b->tensors[n->out];
	LType t = ltype_of_dtype(Y->dtype);
	if (t == LT_VOID) {
		lerr(L, "output '%s' has a datatype the loop IR cannot compute in", Y->name);
		return -1;
	}
	int ab = buf_of(L, n->in[0], 0), bb = buf_of(L, n->in[1], 0), yb = out_of(L, n);
	if (ab < 0 || bb < 0 || yb < 0)
		return -1;
	int64_t M = A->rank == 1 ? 1 : A->shape[A->rank - 2], Kd = A->shape[A->rank - 1];
	int64_t N = B->rank == 1 ? 1 : B->shape[B->rank - 1];
	int rba = A->rank > 2 ? A->rank - 2 : 0, rbb = B->rank > 2 ? B->rank - 2 : 0, rb;
	int64_t batch[NNL_MAX_RANK];
	broadcast_shapes(rba, A->shape, rbb, B->shape, &rb, batch);
	int64_t st[NOPS][NNL_MAX_RANK], s = 1;
	for (int i = rb - 1; i >= 0; i--) {
		int j = i - (rb - rba);
		int64_t d = j >= 0 ? A->shape[j] : 1;
		st[1][i] = d == 1 ? 0 : s * M * Kd;
		s *= d;
	}
	s = 1;
	for (int i = rb - 1; i >= 0; i--) {
		int j = i - (rb - rbb);
		int64_t d = j >= 0 ? B->shape[j] : 1;
		st[2][i] = d == 1 ? 0 : s * Kd * N;
		s *= d;
	}
	cstrides(rb, batch, st[0]);
	for (int i = 0; i < rb; i++)
		st[0][i] *= M * N;
	Aff base[3] = {aff(0), aff(0), aff(0)};
	LStmtList *l = nest(L, to, rb, batch, 3, st, base);
	Ix i, j, k;
	l = FOR(L, l, "mi", 0, M, &i);
	l = FOR(L, l, "nj", 0, N, &j);
	if (l == &L->sink)
		return 0;
	LType at = ltype_is_float(t) ? LT_F64 : t;
	int acc = let(L, l, "acc", K(L, at, 0));
	LStmtList *l2 = FOR(L, l, "k", 0, Kd, &k);
	Aff ai = base[1], bi = base[2], yi = base[0];
	aff_add(&ai, i, Kd);
	aff_add(&ai, k, 1);
	aff_add(&bi, k, N);
	aff_add(&bi, j, 1);
	aff_add(&yi, i, N);
	aff_add(&yi, j, 1);
	LExpr *av = LD(L, ab, AFF(L, &ai)), *bv = LD(L, bb, AFF(L, &bi));
	if (t == LT_F32) {
		av = CAST(L, LT_F64, av);
		bv = CAST(L, LT_F64, bv);
	}
	if (l2 != &L->sink)
		set(L, l2, acc, BIN(L, LO_ADD, V(L, acc), BIN(L, LO_MUL, av, bv)));
	store(L, l, yb, AFF(L, &yi), t == LT_F32 ? CAST(L, LT_F32, V(L, acc)) : V(L, acc));
	return 0;
}

/* ---- data movement ---------------------------------------------------------- */

/* y = x elementwise (both contiguous, same shape). */
static void copy_nest(Lower *L, LStmtList *to, int xb, int yb, int64_t ne)
{
	Ix i;
	LStmtList *l = FOR(L, to, "ix", 0, ne, &i);
	if (l != &L->sink)
		store(L, l, yb, IX(L, i), LD(L, xb, IX(L, i)));
}

static int lower_permute(Lower *L, const Node *n, LStmtList *to)
{
	const Tensor *x = &L->b->tensors[n->in[0]], *y = &L->b->tensors[n->out];
	int r = x->rank, perm[NNL_MAX_RANK];
	if (n->op == OP_TRANSPOSE) {
		int64_t a0 = 0, a1 = 0;
		int rr = r == 0 ? 1 : r;
		norm_axis(node_attr(n, "dim0")->i[0], rr, &a0);
		norm_axis(node_attr(n, "dim1")->i[0], rr, &a1);
		for (int i = 0; i < r; i++)
			perm[i] = i;
		if (r > 0) {
			perm[a0] = (int)a1;
			perm[a1] = (int)a0;
		}
	} else {
		const AttrValue *a = node_attr(n, "dims");
		for (int i = 0; i < r; i++) {
			int64_t ax = 0;
			norm_axis(a->i[i], r, &ax);
			perm[i] = (int)ax;
		}
	}
	int xb = buf_of(L, n->in[0], 0), yb = out_of(L, n);
	if (xb < 0 || yb < 0)
		return -1;
	int64_t ist[NNL_MAX_RANK], st[NOPS][NNL_MAX_RANK];
	cstrides(r, x->shape, ist);
	cstrides(r, y->shape, st[0]);
	for (int i = 0; i < r; i++)
		st[1][i] = ist[perm[i]];
	Aff idx[2] = {aff(0), aff(0)};
	LStmtList *l = nest(L, to, r, y->shape, 2, st, idx);
	if (l != &L->sink)
		store(L, l, yb, AFF(L, &idx[0]), LD(L, xb, AFF(L, &idx[1])));
	return 0;
}

static int lower_concat(Lower *L, const Node *n, LStmtList *to)
{
	const Tensor *y = &L->b->tensors[n->out];
	int64_t dim;
	norm_axis(node_attr(n, "dim")->i[0], y->rank, &dim);
	int yb = out_of(L, n);
	if (yb < 0)
		return -1;
	int64_t ost[NNL_MAX_RANK], at = 0;
	cstrides(y->rank, y->shape, ost);
	for (int i = 0; i < n->n_in; i++) {
		const Tensor *x = &L->b->tensors[n->in[i]];
		int xb = buf_of(L, n->in[i], 0);
		if (xb < 0)
			return -1;
		int64_t st[NOPS][NNL_MAX_RANK];
		cstrides(x->rank, x->shape, st[1]);
		memcpy(st[0], ost, sizeof ost);
		Aff idx[2] = {aff(at * ost[dim]), aff(0)};
		LStmtList *l = nest(L, to, x->rank, x->shape, 2, st, idx);
		if (l != &L->sink)
			store(L, l, yb, AFF(L, &idx[0]), LD(L, xb, AFF(L, &idx[1])));
		at += x->shape[dim];
	}
	return 0;
}

/* A fresh copy of the constant c (expression trees are never shared). */
static LExpr *const_like(Lower *L, const LExpr *c)
{
	return ltype_is_float(c->type) ? le_float(L->p, c->type, c->fval) : le_int(L->p, c->type, c->ival);
}

/* Constant Pad from axis ax on: along ax, the rows before and after x's
 * extent are filled (each a contiguous run of y: one loop), the rows in
 * between recurse to the next axis, or on the last axis are copied. Every
 * element of y is written once: the fill touches only the border. */
static void pad_const(Lower *L, LStmtList *to, int xb, int yb, LExpr *fill, int r, const int64_t *xs,
                      const int64_t *ys, const int64_t *bg, const int64_t *ist, const int64_t *ost, int ax, Aff yi,
                      Aff xi)
{
	int64_t lo = bg[ax] > 0 ? bg[ax] : 0, hi = bg[ax] + xs[ax];
	if (hi > ys[ax])
		hi = ys[ax];
	if (hi < lo)
		hi = lo;
	int64_t fr[2][2] = {{0, lo}, {hi, ys[ax]}};
	for (int part = 0; part < 3; part++) {
		Ix i;
		if (part != 1) { /* fill rows [f0, f1) of this axis: (f1 - f0)·ost contiguous elements */
			const int64_t *f = fr[part / 2];
			LStmtList *l = FOR(L, to, "ix", 0, (f[1] - f[0]) * ost[ax], &i);
			if (l == &L->sink)
				continue;
			Aff a = yi;
			a.c += f[0] * ost[ax];
			aff_add(&a, i, 1);
			store(L, l, yb, AFF(L, &a), const_like(L, fill));
			continue;
		}
		LStmtList *l = FOR(L, to, "ix", lo, hi, &i);
		if (l == &L->sink)
			continue;
		Aff y2 = yi, x2 = xi;
		aff_add(&y2, i, ost[ax]);
		aff_add(&x2, i, ist[ax]);
		x2.c -= bg[ax] * ist[ax];
		if (ax == r - 1)
			store(L, l, yb, AFF(L, &y2), LD(L, xb, AFF(L, &x2)));
		else
			pad_const(L, l, xb, yb, fill, r, xs, ys, bg, ist, ost, ax + 1, y2, x2);
	}
}

static int lower_pad(Lower *L, const Node *n, LStmtList *to)
{
	const Tensor *x = &L->b->tensors[n->in[0]], *y = &L->b->tensors[n->out];
	const AttrValue *p = node_attr(n, "pads"), *m = node_attr(n, "mode");
	int r = x->rank;
	int mode = strncmp(m->s, "reflect", 16) == 0 ? 1 : strncmp(m->s, "replicate", 16) == 0 ? 2 : 0;
	int64_t bg[NNL_MAX_RANK] = {0}, en[NNL_MAX_RANK] = {0};
	for (int k = 0; k < p->n / 2; k++) {
		bg[r - 1 - k] = p->i[2 * k];
		en[r - 1 - k] = p->i[2 * k + 1];
	}
	int xb = buf_of(L, n->in[0], 0), yb = out_of(L, n);
	if (xb < 0 || yb < 0)
		return -1;
	LType t = L->p->bufs[yb].type;
	if (r == 0) {
		copy_nest(L, to, xb, yb, 1);
		return 0;
	}
	int64_t ist[NNL_MAX_RANK], ost[NNL_MAX_RANK];
	cstrides(r, x->shape, ist);
	cstrides(r, y->shape, ost);
	if (mode == 0) {
		/* the border filled, the inside copied: every element written once */
		uint8_t fb[8] = {0};
		dtype_set(x->dtype, fb, 0, node_attr(n, "value")->f);
		LExpr *fill;
		if (ltype_is_float(t))
			fill = F(L, t, dtype_get(x->dtype, fb, 0));
		else if (ltype_of_dtype(x->dtype) == LT_VOID) { /* half types: the bits */
			int16_t h;
			memcpy(&h, fb, 2);
			fill = le_int(L->p, t, h);
		} else
			fill = le_int(L->p, t, dtype_get_i64(x->dtype, fb, 0));
		/* trailing axes without padding are one contiguous run in x and y:
		 * fold them into the last padded axis */
		int64_t xs[NNL_MAX_RANK], ys[NNL_MAX_RANK], b2[NNL_MAX_RANK];
		int re = r;
		while (re > 1 && bg[re - 1] == 0 && en[re - 1] == 0)
			re--;
		for (int i = 0; i < re; i++) {
			xs[i] = x->shape[i];
			ys[i] = y->shape[i];
			b2[i] = bg[i];
		}
		int64_t inner = ist[re - 1];
		xs[re - 1] *= inner;
		ys[re - 1] *= inner;
		b2[re - 1] *= inner;
		cstrides(re, xs, ist);
		cstrides(re, ys, ost);
		pad_const(L, to, xb, yb, fill, re, xs, ys, b2, ist, ost, 0, aff(0), aff(0));
		return 0;
	}
	/* reflect / replicate: per-axis source index */
	LStmtList *l = to;
	LExpr *src = I(L, 0);
	Aff yi = aff(0);
	int srcv[NNL_MAX_RANK];
	Ix ivs[NNL_MAX_RANK];
	for (int i = 0; i < r; i++) {
		l = FOR(L, l, "ix", 0, y->shape[i], &ivs[i]);
		aff_add(&yi, ivs[i], ost[i]);
		srcv[i] = -1;
		if (bg[i] == 0 && en[i] == 0)
			continue;
		int64_t d = x->shape[i];
		LExpr *o = le_add(L->p, IX(L, ivs[i]), I(L, -bg[i]));
		if (mode == 2) {
			srcv[i] = let(L, l, "s", BIN(L, LO_MIN, BIN(L, LO_MAX, o, I(L, 0)), I(L, d - 1)));
		} else {
			int j = let(L, l, "j", UN(L, LU_ABS, o));
			srcv[i] = let(L, l, "s", BIN(L, LO_MIN, V(L, j), BIN(L, LO_SUB, I(L, 2 * (d - 1)), V(L, j))));
		}
	}
	if (l == &L->sink)
		return 0;
	for (int i = 0; i < r; i++) {
		LExpr *e = srcv[i] >= 0 ? V(L, srcv[i]) : IX(L, ivs[i]);
		src = le_add(L->p, src, le_mul_k(L->p, e, ist[i]));
	}
	store(L, l, yb, AFF(L, &yi), LD(L, xb, src));
	return 0;
}

/* ---- driver ----------------------------------------------------------------- */

static int lower_node(Lower *L, const Node *n)
{
	LStmtList *to = &L->p->body;
	const OpInfo *oi = op_info(n->op);
	if (oi->flags & OPF_VIEW) {
		int xb = buf_of(L, n->in[0], 0);
		if (xb < 0)
			return -1;
		if (L->bi == L->m->n_blocks - 1 && n->out == L->out_root) {
			int yb = out_of(L, n);
			copy_nest(L, to, xb, yb, tensor_numel(&L->b->tensors[n->out]));
		} else {
			L->tb[n->out] = xb;
		}
		return 0;
	}
	if (lower_quant_wanted(L->b, n)) { /* integer nodes: lower_quant.c */
		int *inb = nnl_malloc((size_t)n->n_in * sizeof *inb + 1);
		if (!inb) {
			L->oom = 1;
			return -1;
		}
		for (int i = 0; i < n->n_in; i++)
			inb[i] = lower_quant_reads(n, i) ? buf_of(L, n->in[i], 0) : -1;
		int yb = out_of(L, n), rc = -1;
		char msg[256] = "";
		if (yb >= 0 && !L->err)
			rc = lower_quant_node(L->p, to, L->b, n, inb, yb, L->opt.dsp ? 1 : L->opt.vec == 2 ? 3 : L->opt.vec ? 2 : 0,
			                      msg, sizeof msg);
		free(inb);
		if (rc < 0 && msg[0])
			lerr(L, "%s", msg);
		else if (rc < 0 && !L->err)
			L->oom = 1;
		return rc;
	}
	switch (n->op) {
	case OP_LINEAR: return lower_linear(L, n, to);
	case OP_CONV1D: case OP_CONV2D: return lower_conv(L, n, to);
	case OP_BATCHNORM1D: case OP_BATCHNORM2D: return lower_batchnorm(L, n, to);
	case OP_RELU: case OP_RELU6: case OP_LEAKYRELU: case OP_SIGMOID: case OP_TANH: case OP_HARDSWISH:
	case OP_HARDSIGMOID: case OP_SILU: case OP_GELU: case OP_CLIP:
		return lower_unary(L, n, to);
	case OP_PRELU: return lower_prelu(L, n, to);
	case OP_SOFTMAX: case OP_LOGSOFTMAX: return lower_softmax(L, n, to);
	case OP_MAXPOOL1D: case OP_MAXPOOL2D: case OP_AVGPOOL1D: case OP_AVGPOOL2D: return lower_pool(L, n, to);
	case OP_ADAPTIVEAVGPOOL1D: case OP_ADAPTIVEAVGPOOL2D: return lower_adaptive(L, n, to);
	case OP_PERMUTE: case OP_TRANSPOSE: return lower_permute(L, n, to);
	case OP_CONCAT: return lower_concat(L, n, to);
	case OP_PAD: return pad_fold_reader(L, n) ? 0 : lower_pad(L, n, to); /* folded: its reader pads */
	case OP_MEAN: case OP_SUM: return lower_reduce(L, n, to);
	case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MOD: case OP_POW: return lower_binary(L, n, to);
	case OP_MATMUL: return lower_matmul(L, n, to);
	default:
		lerr(L, "op %s cannot be lowered to the loop IR", oi->name);
		return -1;
	}
}

/* The tensor of the last block to compute straight into "output": Y, or
 * what Y is a view of; -1 when that is X or a constant (then a copy). */
static int output_root(const Block *b)
{
	int t = b->y;
	for (int guard = 0; guard <= b->n_nodes; guard++) {
		if (t == b->x || b->tensors[t].data)
			return -1;
		const Node *prod = NULL;
		for (int i = 0; i < b->n_nodes; i++)
			if (b->nodes[i].out == t)
				prod = &b->nodes[i];
		if (!prod)
			return -1;
		if (!(op_info(prod->op)->flags & OPF_VIEW))
			return t;
		t = prod->in[0];
	}
	return -1;
}

static void use_expr(LProgram *p, const LExpr *e, int s)
{
	for (; e; e = NULL) {
		if (e->kind == LE_LOAD) {
			LBuf *b = &p->bufs[e->buf];
			if (b->first < 0)
				b->first = s;
			b->last = s;
		}
		use_expr(p, e->a, s);
		use_expr(p, e->b, s);
		use_expr(p, e->c, s);
	}
}

static void use_list(LProgram *p, const LStmtList *l, int s);

static void use_stmt(LProgram *p, const LStmt *st, int s)
{
	use_expr(p, st->lo, s);
	use_expr(p, st->hi, s);
	use_expr(p, st->idx, s);
	use_expr(p, st->val, s);
	use_expr(p, st->cond, s);
	if (st->kind == LS_STORE) {
		LBuf *b = &p->bufs[st->buf];
		if (b->first < 0)
			b->first = s;
		b->last = s;
	}
	use_list(p, &st->body, s);
	use_list(p, &st->els, s);
}

static void use_list(LProgram *p, const LStmtList *l, int s)
{
	for (int i = 0; i < l->n; i++)
		use_stmt(p, l->v[i], s);
}

static void plan(LProgram *p)
{
	for (int i = 0; i < p->n_bufs; i++)
		p->bufs[i].first = p->bufs[i].last = -1;
	for (int s = 0; s < p->body.n; s++)
		use_stmt(p, p->body.v[s], s);
	int64_t off = 0;
	for (int i = 0; i < p->n_bufs; i++) {
		LBuf *b = &p->bufs[i];
		if (b->kind != LB_ARENA) {
			b->first = b->last = -1;
			continue;
		}
		off = (off + 15) & ~(int64_t)15;
		b->offset = off;
		off += b->numel * (ltype_bits(b->type) / 8);
	}
	p->arena_bytes = (off + 15) & ~(int64_t)15;
}

LProgram *lower_model(const Model *m, Diag *d)
{
	return lower_model_opts(m, NULL, d);
}

LProgram *lower_model_opts(const Model *m, const LowerOptions *o, Diag *d)
{
	Lower Ls, *L = &Ls;
	memset(L, 0, sizeof *L);
	if (o)
		L->opt = *o;
	L->m = m;
	L->d = d;
	L->file = m->path ? m->path : "<model>";
	char pname[80];
	size_t j = 0;
	for (const char *s = m->name ? m->name : "model"; *s && j < 64; s++) {
		char ch = *s;
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
		pname[j++] = ok ? ch : '_';
	}
	pname[j] = 0;
	L->p = loop_new(j ? pname : "model");
	if (!L->p) {
		diag_add(d, "%s: out of memory", L->file);
		return NULL;
	}
	LType it = carrier(m->in_dtype), ot = carrier(m->out_dtype);
	if (it == LT_VOID || ot == LT_VOID) {
		diag_add(d, "%s: model %s datatype %s cannot be held by the loop IR", L->file,
		         it == LT_VOID ? "input" : "output", dtype_name(it == LT_VOID ? m->in_dtype : m->out_dtype));
		loop_free(L->p);
		return NULL;
	}
	L->in_buf = add_buf(L, "input", "", LB_INPUT, it, shape_numel(m->in_rank, m->in_shape));
	L->out_buf = add_buf(L, "output", "", LB_OUTPUT, ot, shape_numel(m->out_rank, m->out_shape));
	L->x_buf = L->in_buf;
	for (int bi = 0; bi < m->n_blocks && !L->err && !L->oom; bi++) {
		const Block *b = &m->blocks[bi];
		L->bi = bi;
		L->b = b;
		L->node = NULL;
		L->tb = nnl_malloc((size_t)b->n_tensors * sizeof *L->tb);
		L->tbf = nnl_malloc((size_t)b->n_tensors * sizeof *L->tbf);
		if (!L->tb || !L->tbf) {
			free(L->tb);
			free(L->tbf);
			L->oom = 1;
			break;
		}
		for (int i = 0; i < b->n_tensors; i++)
			L->tb[i] = L->tbf[i] = -1;
		L->out_root = bi == m->n_blocks - 1 ? output_root(b) : -1;
		for (int ni = 0; ni < b->n_nodes && !L->err && !L->oom; ni++) {
			const Node *n = &b->nodes[ni];
			L->node = n;
			int start = L->p->body.n;
			if (lower_node(L, n) < 0 && !L->oom)
				L->err = 1;
			char lab[256];
			snprintf(lab, sizeof lab, "%s (%s)", n->id ? n->id : b->tensors[n->out].name, op_info(n->op)->name);
			const char *ls = loop_strdup(L->p, lab);
			chk(L, ls);
			for (int s = start; s < L->p->body.n; s++)
				L->p->body.v[s]->label = ls;
		}
		L->node = NULL;
		if (!L->err && !L->oom) {
			int yb = buf_of(L, b->y, 0);
			if (yb >= 0 && bi == m->n_blocks - 1 && yb != L->out_buf) {
				int start = L->p->body.n;
				copy_nest(L, &L->p->body, yb, L->out_buf, shape_numel(m->out_rank, m->out_shape));
				char lab[256];
				snprintf(lab, sizeof lab, "%s (copy to output)", b->tensors[b->y].name);
				const char *ls = loop_strdup(L->p, lab);
				for (int s = start; s < L->p->body.n; s++)
					L->p->body.v[s]->label = ls;
			}
			L->x_buf = yb;
		}
		free(L->tb);
		free(L->tbf);
		L->tb = L->tbf = NULL;
	}
	if (L->oom && !L->err)
		diag_add(d, "%s: out of memory while lowering", L->file);
	if (L->err || L->oom) {
		loop_free(L->p);
		return NULL;
	}
	plan(L->p);
	return L->p;
}
