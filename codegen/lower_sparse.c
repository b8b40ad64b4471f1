/* lower_sparse.c — Linear layers with mostly-zero weights, stored sparsely.
 *
 * Storage (3 const buffers, see lower_sparse.h): 4 bytes per nonzero value +
 * 1 byte per column delta + the row starts, against 4 bytes per weight
 * dense: at 50 % zeros the layer's flash drops by ~37 %. The kernel walks
 * the nonzeros of each row with a running column (c += dcol[k]) so it does
 * one load of x, one of the value and one byte per nonzero: ~7.8 Cortex-M4
 * instructions per nonzero against ~2.4 per weight for the dense blocked
 * loop, so it is faster only from ~70 % zeros, while the storage is
 * smaller from ~20 % (measured, docs/studies/pruning.md). nnllc
 * -sparse-min=F chooses (default: whenever the storage is smaller).
 */
#include "lower_sparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* bytes the sparse storage must save at least */
#define SPARSE_MIN_SAVING 4096

/* nnllc -sparse-min=F; 0: whenever the sparse storage is smaller */
static double sparse_min = 0.0;

void lower_sparse_set_min(double f)
{
	sparse_min = f;
}

/* entries of the sparse storage of w: nonzeros plus the zero-valued fillers
 * of gaps over 255 */
static int64_t sparse_entries(const Tensor *w)
{
	int64_t outf = w->shape[0], inf = w->shape[1], ne = 0;
	for (int64_t o = 0; o < outf; o++) {
		int64_t prev = 0;
		for (int64_t i = 0; i < inf; i++) {
			if (dtype_get(w->dtype, w->data, o * inf + i) == 0.0)
				continue;
			ne += 1 + (i - prev) / 256;
			prev = i;
		}
	}
	return ne;
}

int lower_sparse_wanted(const Tensor *w)
{
	if (!w->data || w->rank != 2 || !dtype_is_float(w->dtype) || sparse_min > 1.0)
		return 0;
	int64_t n = tensor_numel(w), z = 0;
	if (n <= 0)
		return 0;
	for (int64_t i = 0; i < n; i++)
		z += dtype_get(w->dtype, w->data, i) == 0.0;
	if (z == 0 || (double)z / (double)n < sparse_min)
		return 0;
	/* only where it shrinks the weight — 4 + 1 bytes per entry + the row
	 * starts against 4 bytes per weight (f32 after lowering) — by more than
	 * the kernel's code can cost: a small layer's row bounds are constants
	 * LLVM sees through, it unrolls the whole kernel (the 10 × 64 output
	 * layers of the studies: +2 to +4 KB of .text), and in the one-function
	 * model that bloat changed the register allocation of the convolution
	 * loops (+49 k to +202 k Cortex-M4 instructions, docs/studies/pruning.md) */
	int64_t ne = sparse_entries(w);
	int64_t rowp = (w->shape[0] + 1) * (ne > 65535 ? 4 : 2);
	return 5 * ne + rowp + SPARSE_MIN_SAVING <= 4 * n;
}

static int add_const(LProgram *p, const char *wname, const char *suffix, LType t, int64_t n, void *data)
{
	char base[96], name[128];
	size_t j = 0;
	if (!wname[0] || (wname[0] >= '0' && wname[0] <= '9'))
		base[j++] = 't';
	for (const char *s = wname; *s && j < 64; s++) {
		char ch = *s;
		base[j++] = ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_') ? ch : '_';
	}
	base[j] = 0;
	snprintf(name, sizeof name, "%s%s", base, suffix);
	for (int k = 2; loop_find_buf(p, name) >= 0; k++)
		snprintf(name, sizeof name, "%s%s_%d", base, suffix, k);
	int bi = loop_add_buf(p, name, LB_CONST, t, n ? n : 1);
	if (bi < 0) {
		free(data);
		return -1;
	}
	p->bufs[bi].data = data;
	p->bufs[bi].origin = nnl_strdup(wname);
	return p->bufs[bi].origin ? bi : -1;
}

int lower_sparse_linear(LProgram *p, LStmtList *to, const Tensor *w, int64_t rows, int xb, int bb, int yb)
{
	int64_t outf = w->shape[0], inf = w->shape[1];
	int64_t ne = sparse_entries(w);
	int wide = ne > 65535;
	float *val = nnl_malloc((size_t)(ne ? ne : 1) * sizeof *val);
	unsigned char *dc = nnl_malloc((size_t)(ne ? ne : 1));
	void *rp = nnl_malloc((size_t)(outf + 1) * (wide ? 4 : 2));
	if (!val || !dc || !rp) {
		free(val);
		free(dc);
		free(rp);
		return -1;
	}
	int64_t k = 0;
	for (int64_t o = 0; o < outf; o++) {
		if (wide)
			((int32_t *)rp)[o] = (int32_t)k;
		else
			((uint16_t *)rp)[o] = (uint16_t)k;
		int64_t prev = 0;
		for (int64_t i = 0; i < inf; i++) {
			double v = dtype_get(w->dtype, w->data, o * inf + i);
			if (v == 0.0)
				continue;
			while (i - prev > 255) { /* filler: moves the column by 255, adds x·0 */
				val[k] = 0.0f;
				dc[k++] = 255;
				prev += 255;
			}
			val[k] = (float)v;
			dc[k++] = (unsigned char)(i - prev);
			prev = i;
		}
	}
	if (wide)
		((int32_t *)rp)[outf] = (int32_t)k;
	else
		((uint16_t *)rp)[outf] = (uint16_t)k;
	int vb = add_const(p, w->name, "_val", LT_F32, ne, val);
	int db = vb < 0 ? -1 : add_const(p, w->name, "_dcol", LT_U8, ne, dc);
	int pb = db < 0 ? -1 : add_const(p, w->name, "_rowp", wide ? LT_I32 : LT_U16, outf + 1, rp);
	if (vb < 0 || db < 0 || pb < 0) {
		if (vb < 0)
			free(dc);
		if (db < 0)
			free(rp);
		return -1;
	}
	/* for r: for o: acc = 0; c = 0; for k in rowp[o]..rowp[o+1]: c += dcol[k]; acc += x[r·in + c]·val[k] */
	if (rows <= 0)
		return 0;
	/* always an r loop, even of one row: the node stays one top-level
	 * statement, as lower.c's nests */
	int vr = loop_new_var(p, "r", LT_I32, 1);
	int vo = loop_new_var(p, "o", LT_I32, 1), vk = loop_new_var(p, "k", LT_I32, 1);
	int vacc = loop_new_var(p, "acc", LT_F32, 0), vc = loop_new_var(p, "c", LT_I32, 0);
	if (vr < 0 || vo < 0 || vk < 0 || vacc < 0 || vc < 0)
		return -1;
	LStmt *sr = ls_for(p, to, vr, le_i32(p, 0), le_i32(p, rows), 1);
	if (!sr)
		return -1;
	LStmtList *l = &sr->body;
	LStmt *so = ls_for(p, l, vo, le_i32(p, 0), le_i32(p, outf), 1);
	if (!so)
		return -1;
	l = &so->body;
	if (!ls_let(p, l, vacc, le_float(p, LT_F32, 0.0)) || !ls_let(p, l, vc, le_i32(p, 0)))
		return -1;
	LExpr *lo = le_cast(p, LT_I32, le_load(p, pb, le_var(p, vo)), 0);
	LExpr *hi = le_cast(p, LT_I32, le_load(p, pb, le_add(p, le_var(p, vo), le_i32(p, 1))), 0);
	if (wide) {
		lo = le_load(p, pb, le_var(p, vo));
		hi = le_load(p, pb, le_add(p, le_var(p, vo), le_i32(p, 1)));
	}
	LStmt *sk = ls_for(p, l, vk, lo, hi, 1);
	if (!sk)
		return -1;
	LExpr *xi = le_add(p, le_mul_k(p, le_var(p, vr), inf), le_var(p, vc));
	if (!ls_set(p, &sk->body, vc, le_bin(p, LO_ADD, le_var(p, vc), le_cast(p, LT_I32, le_load(p, db, le_var(p, vk)), 0))) ||
	    !ls_set(p, &sk->body, vacc,
	            le_bin(p, LO_ADD, le_var(p, vacc),
	                   le_bin(p, LO_MUL, le_load(p, xb, xi), le_load(p, vb, le_var(p, vk))))))
		return -1;
	LExpr *v = le_var(p, vacc);
	if (bb >= 0)
		v = le_bin(p, LO_ADD, v, le_load(p, bb, le_var(p, vo)));
	LExpr *yi = le_add(p, le_mul_k(p, le_var(p, vr), outf), le_var(p, vo));
	return ls_store(p, l, yb, yi, v) ? 0 : -1;
}
