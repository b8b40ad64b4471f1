/* llvm_smlad.c — the SMLAD reduction loops of the Arm DSP integer kernels as
 * hand-scheduled Thumb-2 (docs/codegen.md, "SMLAD loops").
 *
 * The int8 DSP kernels (codegen/lower_quant.c) end in loops of the form
 *
 *   for r in lo..hi {
 *     let x = load X[… + kx·r + c]          input words: int16 pairs
 *     let w = load W[… + kw·r + c]          weight words: 4 packed int8
 *     let p = sxtb16(w)   let q = sxtb16h(w)
 *     set acc = add(acc, dot2(p, x))        one smlad each
 *   }
 *
 * LLVM compiles them correctly but spends more loads than needed: its
 * pre-allocation load/store optimizer pairs two adjacent word loads into one
 * LDRD only when exactly two loads of a base are consecutive, and after it
 * unrolls the loop every load of the band is (one run of 8 or 16 words), so
 * it keeps single LDRs (docs/quantization.md, "Performance"). Here such a
 * loop is recognized and emitted as a loop over straight-line inline
 * assembly, two taps steps per iteration:
 *
 *   - each weight word: one ldr, then sxtb16 (and sxtb16 ror #8) in place;
 *   - input words two at a time: one ldrd, then the smlads that read them;
 *   - every stream (loads of one buffer whose indices differ by constants)
 *     advances through the post-indexed form of its last load.
 *
 * Weight words already unpacked to int16 pairs (conv_dsp's dsp_unpack: a
 * dot2 of two loads, the first the weight) are loaded and used as they are,
 * no sxtb16: 12 instructions per 16 MACs. The unpacking loop itself (lets of
 * weight-word loads, their sxtb16/sxtb16h, each stored once to another
 * buffer; emit_step_unpack) is emitted the same way: ldrd, four sxtb16, two
 * strd per two words (LLVM's code: two ldr, four str).
 *
 * int4 weights (the nibbles as int8 ×16: wl = (w << 4) & 0xF0F0F0F0, wh =
 * w & 0xF0F0F0F0, then sxtb16 of those) are unpacked in the asm too, in two
 * phases of one nibble kind each (emit_step_nib), and such loops stay loops
 * (llvm.loop.unroll.disable: int4 is for flash).
 *
 * The accumulators, stream pointers and temporaries are asm operands, the
 * trip counting is ordinary IR (so the estimator and llvm-mca see a plain
 * loop). A loop of 1 to 3 steps of known count (the depthwise kernel-row
 * loop, conv_dsp's 3×3 taps) is one asm, no loop. Accumulators that start
 * from the same value (a block's bias) take it in one register: the first
 * smlad of each adds that register instead of its own (shared_init), in the
 * first asm (a longer loop's first two steps are peeled for it). The
 * result is the same bits: smlad is dot2 then add, wrapping. Loops that do
 * not match exactly, or that would need more registers or larger offsets
 * than the instructions encode, take the ordinary path.
 */
#include "llvm_internal.h"
#include <llvm-c/DebugInfo.h>
#include "lopt_util.h"
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SM_MAX_LOADS 16
#define SM_MAX_SXT 16
#define SM_MAX_DOTS 32
#define SM_MAX_ACC 8
#define SM_MAX_STREAMS 4
#define SM_MAX_NIB 8
#define SM_NIB_MASK ((int32_t)0xF0F0F0F0u)
/* asm operands live at once: r0-r12 and lr, less one for LLVM's trip counter */
#define SM_MAX_REGS 13

typedef struct SmLoad {
	int var, buf;
	const LExpr *idx;
	LAff aff;
	int stream;
	int64_t off;    /* bytes from the stream's base */
	int weight;     /* read by sxtb16 (else by dot2) */
	int used;
	int reg;        /* temp operand */
	int pair;       /* input loads: the other half of an ldrd (index), -1 */
	int store;      /* an unpacking loop's store of sxt sval (var −1), not a load */
	int sval;
	int reg2;       /* int4 weight words: the temporary for their high halves */
	int emitted;
} SmLoad;

typedef struct SmSxt {
	int var, load, hi;
	int nib;        /* the nibble word it extends (index in nibs), or -1: the load itself */
	int reg;
	int raw;        /* no sxtb16: the weight word is an int16 pair as loaded (var is the load's) */
} SmSxt;

/* int4 weights: a weight word's low nibbles, and((w << 4), 0xF0F0F0F0), or its
 * high ones, and(w, 0xF0F0F0F0), as the high halves of bytes (16·w) */
typedef struct SmNib {
	int var, load, low;
} SmNib;

typedef struct SmDot {
	int acc;        /* index in accs */
	int sxt;        /* index in sxts */
	int load;       /* index in loads */
} SmDot;

typedef struct SmLoop {
	SmLoad ld[SM_MAX_LOADS];
	int n_ld;
	SmSxt sx[SM_MAX_SXT];
	int n_sx;
	SmNib nb[SM_MAX_NIB];
	int n_nb;
	SmDot dot[SM_MAX_DOTS];
	int n_dot;
	int acc[SM_MAX_ACC];
	int n_acc;
	int st_load[SM_MAX_STREAMS]; /* a load of each stream with the lowest offset */
	int64_t st_adv[SM_MAX_STREAMS];
	int n_st;
	int n_tmp;
	int unpack;     /* an unpacking loop: loads, sxtb16s, stores (emit_step_unpack) */
	/* accumulators that start equal (shared_init): each but the group's
	 * holder is an output only, and its first smlad adds the holder's
	 * register (the common initial value, until the holder's own first
	 * smlad, the group's last) instead of its own */
	int hold[SM_MAX_ACC]; /* the holder, or -1 (its own initial value) */
	int live[SM_MAX_ACC]; /* written in this asm yet */
	int first[SM_MAX_ACC], pos; /* emission order of each first smlad (emit_step) */
} SmLoop;

static int find_load(const SmLoop *m, int var)
{
	for (int i = 0; i < m->n_ld; i++)
		if (m->ld[i].var == var)
			return i;
	return -1;
}

static int find_nib(const SmLoop *m, int var)
{
	for (int i = 0; i < m->n_nb; i++)
		if (m->nb[i].var == var)
			return i;
	return -1;
}

static int find_sxt(const SmLoop *m, int var)
{
	for (int i = 0; i < m->n_sx; i++)
		if (m->sx[i].var == var)
			return i;
	return -1;
}

static int acc_index(SmLoop *m, int var)
{
	for (int i = 0; i < m->n_acc; i++)
		if (m->acc[i] == var)
			return i;
	if (m->n_acc == SM_MAX_ACC)
		return -1;
	m->acc[m->n_acc] = var;
	return m->n_acc++;
}

/* Same terms (variables and coefficients), any constant. */
static int same_terms(const LAff *a, const LAff *b)
{
	for (int i = 0; i < a->n; i++)
		if (laff_coef(b, a->var[i]) != a->k[i])
			return 0;
	for (int i = 0; i < b->n; i++)
		if (laff_coef(a, b->var[i]) != b->k[i])
			return 0;
	return 1;
}

static int defined_in_body(const LStmt *s, int var)
{
	for (int i = 0; i < s->body.n; i++)
		if (s->body.v[i]->kind == LS_LET && s->body.v[i]->var == var)
			return 1;
	return 0;
}

/* Entry l (a load, or an unpacking loop's store) at buf[idx]: its affine
 * index, whose variables other than r are defined outside the body. */
static int entry_at(const LStmt *s, int r, SmLoad *l, int buf, const LExpr *idx)
{
	if (laff_of(idx, &l->aff) != 0)
		return -1;
	for (int k = 0; k < l->aff.n; k++)
		if (l->aff.var[k] != r && defined_in_body(s, l->aff.var[k]))
			return -1;
	l->buf = buf;
	l->idx = idx;
	l->pair = -1;
	return 0;
}

/* Does the loop have the shape in the header comment? Fills m. */
static int match(const CgCtx *c, const LStmt *s, SmLoop *m)
{
	const LProgram *p = c->p;
	int r = s->var;
	memset(m, 0, sizeof *m);
	for (int a = 0; a < SM_MAX_ACC; a++)
		m->hold[a] = -1;
	if (s->step != 1)
		return 0;
	/* unpacking loops of fewer than 4 known steps stay on the ordinary path */
	const int short_trip = s->lo->kind == LE_CONST && s->hi->kind == LE_CONST && s->hi->ival - s->lo->ival < 4;
	for (int i = 0; i < s->body.n; i++) {
		const LStmt *t = s->body.v[i];
		const LExpr *e = t->val;
		if (t->kind == LS_LET && p->vars[t->var].type == LT_I32 && e->kind == LE_LOAD) {
			if (m->n_ld == SM_MAX_LOADS || find_load(m, t->var) >= 0 || find_sxt(m, t->var) >= 0)
				return 0;
			if (p->bufs[e->buf].type != LT_I32 || e->a->type != LT_I32)
				return 0;
			SmLoad *l = &m->ld[m->n_ld];
			if (entry_at(s, r, l, e->buf, e->a) < 0)
				return 0;
			l->var = t->var;
			m->n_ld++;
		} else if (t->kind == LS_LET && p->vars[t->var].type == LT_I32 && e->kind == LE_BIN && e->op == LO_AND &&
		           e->b->kind == LE_CONST && e->b->ival == SM_NIB_MASK) {
			/* and(shl(w, 4), M) or and(w, M), w a load */
			const LExpr *w = e->a;
			int low = w->kind == LE_BIN && w->op == LO_SHL && w->b->kind == LE_CONST && w->b->ival == 4;
			if (low)
				w = w->a;
			int li = w->kind == LE_VAR ? find_load(m, w->var) : -1;
			if (li < 0 || m->n_nb == SM_MAX_NIB || find_nib(m, t->var) >= 0 || find_load(m, t->var) >= 0)
				return 0;
			for (int k = 0; k < m->n_nb; k++)
				if (m->nb[k].load == li && m->nb[k].low == low)
					return 0;
			m->nb[m->n_nb++] = (SmNib){t->var, li, low};
			m->ld[li].weight = 1;
		} else if (t->kind == LS_LET && p->vars[t->var].type == LT_I32 && e->kind == LE_UN &&
		           (e->op == LU_SXTB16 || e->op == LU_SXTB16H) && e->a->kind == LE_VAR) {
			int li = find_load(m, e->a->var), ni = li < 0 ? find_nib(m, e->a->var) : -1;
			if ((li < 0 && ni < 0) || m->n_sx == SM_MAX_SXT || find_sxt(m, t->var) >= 0 || find_load(m, t->var) >= 0)
				return 0;
			if (ni >= 0)
				li = m->nb[ni].load;
			for (int k = 0; k < m->n_sx; k++)
				if (m->sx[k].load == li && (m->sx[k].raw || (m->sx[k].nib == ni && m->sx[k].hi == (e->op == LU_SXTB16H))))
					return 0;
			m->sx[m->n_sx++] = (SmSxt){t->var, li, e->op == LU_SXTB16H, ni, 0, 0};
			m->ld[li].weight = 1;
		} else if (t->kind == LS_STORE && t->val->kind == LE_VAR && find_sxt(m, t->val->var) >= 0 &&
		           p->bufs[t->buf].type == LT_I32 && t->idx->type == LT_I32) {
			/* an unpacking loop (conv_dsp's dsp_unpack): buf[i] = an sxtb16 half */
			if (m->n_ld == SM_MAX_LOADS)
				return 0;
			SmLoad *l = &m->ld[m->n_ld];
			if (entry_at(s, r, l, t->buf, t->idx) < 0)
				return 0;
			l->var = -1;
			l->store = 1;
			l->sval = find_sxt(m, t->val->var);
			l->used = 1;
			m->n_ld++;
		} else if (t->kind == LS_SET && p->vars[t->var].type == LT_I32 && e->kind == LE_BIN && e->op == LO_ADD) {
			const LExpr *av = e->a, *dp = e->b;
			if (av->kind != LE_VAR)
				av = e->b, dp = e->a;
			if (av->kind != LE_VAR || av->var != t->var || dp->kind != LE_BIN || dp->op != LO_DOT2 ||
			    dp->a->kind != LE_VAR || dp->b->kind != LE_VAR)
				return 0;
			int sx = find_sxt(m, dp->a->var), li = find_load(m, dp->b->var);
			if (sx < 0 || li < 0)
				sx = find_sxt(m, dp->b->var), li = find_load(m, dp->a->var);
			int wl = find_load(m, dp->a->var), xl = find_load(m, dp->b->var);
			if ((sx < 0 || li < 0) && wl >= 0 && xl >= 0) {
				/* dot2 of two loads: the first is a weight word of int16
				 * pairs (conv_dsp's unpacked weights), held like an sxtb16 */
				li = xl;
				for (int k = 0; k < m->n_sx; k++)
					if (m->sx[k].load == wl)
						return 0;
				if (m->n_sx == SM_MAX_SXT)
					return 0;
				sx = m->n_sx;
				m->sx[m->n_sx++] = (SmSxt){dp->a->var, wl, 0, -1, 0, 1};
				m->ld[wl].weight = 1;
			}
			if (sx < 0 || li < 0 || m->n_dot == SM_MAX_DOTS || t->var == r || defined_in_body(s, t->var))
				return 0;
			int a = acc_index(m, t->var);
			if (a < 0)
				return 0;
			m->dot[m->n_dot++] = (SmDot){a, sx, li};
			m->ld[li].used = 1;
		} else {
			return 0;
		}
	}
	int n_store = 0;
	for (int i = 0; i < m->n_ld; i++)
		n_store += m->ld[i].store;
	if (n_store) {
		/* unpacking: no dots, no nibbles, no raw pairs; every half stored once,
		 * and no load and store of one buffer (the stores may not feed the loads) */
		if (m->n_dot || m->n_nb || short_trip)
			return 0;
		for (int k = 0; k < m->n_sx; k++) {
			int n = 0;
			for (int i = 0; i < m->n_ld; i++)
				n += m->ld[i].store && m->ld[i].sval == k;
			if (m->sx[k].raw || n != 1)
				return 0;
		}
		for (int i = 0; i < m->n_ld; i++)
			for (int j = 0; j < m->n_ld; j++)
				if (m->ld[i].store && !m->ld[j].store && m->ld[i].buf == m->ld[j].buf)
					return 0;
		m->unpack = 1;
	} else if (!m->n_dot) {
		return 0;
	}
	/* every load is either a weight word (read by sxtb16 only) or an input
	 * word (read by dot2 only); accumulators appear in no index */
	for (int i = 0; i < m->n_ld; i++) {
		if (m->ld[i].store)
			continue;
		if (m->ld[i].weight && m->ld[i].used)
			return 0;
		if (m->ld[i].weight)
			m->ld[i].used = 1;
		for (int a = 0; a < m->n_acc; a++)
			if (laff_coef(&m->ld[i].aff, m->acc[a]) != 0)
				return 0;
	}
	/* streams: loads of one buffer at constant distances, advancing 4·k bytes a step */
	for (int i = 0; i < m->n_ld; i++) {
		SmLoad *l = &m->ld[i];
		if (!l->used)
			continue;
		int st = -1;
		for (int k = 0; k < m->n_st && st < 0; k++) {
			const SmLoad *b = &m->ld[m->st_load[k]];
			if (b->buf == l->buf && same_terms(&b->aff, &l->aff))
				st = k;
		}
		if (st < 0) {
			if (m->n_st == SM_MAX_STREAMS)
				return 0;
			st = m->n_st++;
			m->st_load[st] = i;
			m->st_adv[st] = 4 * laff_coef(&l->aff, r);
		} else if (l->aff.c < m->ld[m->st_load[st]].aff.c) {
			m->st_load[st] = i;
		}
		l->stream = st;
	}
	for (int k = 0; k < m->n_st; k++)
		if (m->st_adv[k] <= 0 || m->st_adv[k] > 252)
			return 0;
	for (int i = 0; i < m->n_ld; i++) {
		SmLoad *l = &m->ld[i];
		if (!l->used)
			continue;
		l->off = 4 * (l->aff.c - m->ld[m->st_load[l->stream]].aff.c);
		if (l->off > 4095)
			return 0;
	}
	/* the weight words' registers (one per sxtb16 half used, or per raw pair) */
	int wregs = 0;
	for (int i = 0; i < m->n_ld; i++) {
		if (!m->ld[i].weight)
			continue;
		int halves = 0;
		for (int k = 0; k < m->n_sx; k++)
			halves += m->sx[k].load == i;
		wregs += halves;
	}
	/* ldrd pairs (two weight or two input words): same stream, offsets d and
	 * d + 4, d <= 1020 */
	for (int i = 0; i < m->n_ld; i++) {
		SmLoad *a = &m->ld[i];
		if (!a->used || a->pair >= 0)
			continue;
		for (int j = 0; j < m->n_ld; j++) {
			SmLoad *b = &m->ld[j];
			if (j != i && b->used && b->weight == a->weight && b->store == a->store && b->pair < 0 &&
			    b->stream == a->stream &&
			    b->off == a->off + 4 && a->off <= 1020) {
				a->pair = j;
				b->pair = i;
				break;
			}
		}
	}
	if (m->n_nb) {
		/* int4 (emit_step_nib): every sxtb16 of a nibble word, every weight
		 * word read through nibbles only; registers: each weight word and a
		 * temporary (one nibble kind's two halves), the two input words of
		 * one ldrd */
		int nwl = 0;
		for (int k = 0; k < m->n_sx; k++)
			if (m->sx[k].nib < 0 || m->sx[k].raw)
				return 0;
		for (int i = 0; i < m->n_ld; i++)
			nwl += m->ld[i].weight != 0;
		/* each input word multiplies halves of one nibble kind only */
		for (int d = 0; d < m->n_dot; d++)
			for (int e = 0; e < m->n_dot; e++)
				if (m->dot[d].load == m->dot[e].load &&
				    m->nb[m->sx[m->dot[d].sxt].nib].low != m->nb[m->sx[m->dot[e].sxt].nib].low)
					return 0;
		m->n_tmp = 2 * nwl + 2;
		return m->n_acc + m->n_st + m->n_tmp <= SM_MAX_REGS;
	}
	/* temporaries: every weight word's halves stay live through the step (one
	 * register per sxtb16 used), plus the two input words of one ldrd */
	m->n_tmp = wregs + 2;
	return m->n_acc + m->n_st + m->n_tmp <= SM_MAX_REGS;
}

/* ---- the assembly of one step ------------------------------------------- */

/* Operand numbers: accumulators 0..A-1, stream pointers A..A+S-1, temporaries after. */
#define OP_ST(m, k) ((m)->n_acc + (k))
#define OP_TMP(m, k) ((m)->n_acc + (m)->n_st + (k))

/* The last load of stream st still to emit, after load i? */
static int last_of_stream(const SmLoop *m, int i)
{
	for (int j = 0; j < m->n_ld; j++)
		if (j != i && m->ld[j].used && !m->ld[j].emitted && m->ld[j].stream == m->ld[i].stream &&
		    j != m->ld[i].pair)
			return 0;
	return 1;
}

/* The register entry i loads into, or (a store) stores from. */
static int entry_reg(const SmLoop *m, int i) { return m->ld[i].store ? m->sx[m->ld[i].sval].reg : m->ld[i].reg; }

/* ldr/ldrd of load i (and its pair) into its register(s), or str/strd of a
 * store; post-indexed when it is the stream's last access and sits at the
 * stream's base. */
static void emit_load_at(StrBuf *b, SmLoop *m, int i, int *advanced, int allow_post);

static void emit_load(StrBuf *b, SmLoop *m, int i, int *advanced) { emit_load_at(b, m, i, advanced, 1); }

static void emit_load_at(StrBuf *b, SmLoop *m, int i, int *advanced, int allow_post)
{
	SmLoad *l = &m->ld[i];
	const char *op = l->store ? "str" : "ldr";
	int lo = i, hi = -1;
	if (l->pair >= 0) {
		lo = m->ld[l->pair].off < l->off ? l->pair : i;
		hi = lo == i ? l->pair : i;
	}
	int st = l->stream, ptr = OP_ST(m, st);
	int last = allow_post && last_of_stream(m, i);
	int64_t off = m->ld[lo].off;
	int post = last && off == 0;
	if (hi >= 0) {
		if (post)
			sb_fmt(b, "%sd $%d, $%d, [$%d], #%lld\n\t", op, entry_reg(m, lo), entry_reg(m, hi), ptr,
			       (long long)m->st_adv[st]);
		else
			sb_fmt(b, "%sd $%d, $%d, [$%d, #%lld]\n\t", op, entry_reg(m, lo), entry_reg(m, hi), ptr, (long long)off);
		m->ld[hi].emitted = 1;
	} else if (post) {
		sb_fmt(b, "%s $%d, [$%d], #%lld\n\t", op, entry_reg(m, i), ptr, (long long)m->st_adv[st]);
	} else {
		sb_fmt(b, "%s $%d, [$%d, #%lld]\n\t", op, entry_reg(m, i), ptr, (long long)off);
	}
	m->ld[lo].emitted = 1;
	if (last) {
		if (!post)
			sb_fmt(b, "add $%d, $%d, #%lld\n\t", ptr, ptr, (long long)m->st_adv[st]);
		advanced[st] = 1;
	}
}

/* Entries in emission order: weights first, then inputs (or an unpacking
 * loop's stores: kind 2); within a stream the highest offset first, so the
 * base access (post-indexed) comes last. */
static int next_load(const SmLoop *m, int kind)
{
	int best = -1;
	for (int i = 0; i < m->n_ld; i++) {
		const SmLoad *l = &m->ld[i];
		if (!l->used || l->emitted || (kind == 2 ? !l->store : l->store || l->weight != kind))
			continue;
		int64_t off = l->pair >= 0 && m->ld[l->pair].off < l->off ? m->ld[l->pair].off : l->off;
		int64_t boff = 0;
		if (best >= 0) {
			const SmLoad *bl = &m->ld[best];
			boff = bl->pair >= 0 && m->ld[bl->pair].off < bl->off ? m->ld[bl->pair].off : bl->off;
		}
		if (best < 0 || l->stream < m->ld[best].stream || (l->stream == m->ld[best].stream && off > boff))
			best = i;
	}
	return best;
}

/* The weight words: ldr/ldrd, then each word's high half into its own
 * register and the low half in place (raw pairs: as loaded). */
static void emit_weights(StrBuf *b, SmLoop *m, int *advanced)
{
	for (int i; (i = next_load(m, 1)) >= 0;) {
		emit_load(b, m, i, advanced);
		int words[2] = {i, m->ld[i].pair};
		for (int w = 0; w < 2 && words[w] >= 0; w++) {
			int lo = -1, hi = -1;
			for (int k = 0; k < m->n_sx; k++)
				if (m->sx[k].load == words[w])
					*(m->sx[k].hi ? &hi : &lo) = k;
			if (hi >= 0)
				sb_fmt(b, "sxtb16 $%d, $%d, ror #8\n\t", m->sx[hi].reg, m->ld[words[w]].reg);
			if (lo >= 0 && !m->sx[lo].raw)
				sb_fmt(b, "sxtb16 $%d, $%d\n\t", m->sx[lo].reg, m->ld[words[w]].reg);
		}
	}
}

/* The addend of accumulator a's next smlad: its own register, or before
 * its first one its holder's (shared_init) */
static int acc_addend(SmLoop *m, int a)
{
	int r = m->hold[a] >= 0 && !m->live[a] ? m->hold[a] : a;
	if (!m->live[a])
		m->first[a] = m->pos;
	m->live[a] = 1;
	m->pos++;
	return r;
}

static void emit_step(StrBuf *b, SmLoop *m)
{
	int advanced[SM_MAX_STREAMS] = {0};
	for (int i = 0; i < m->n_ld; i++)
		m->ld[i].emitted = 0;
	emit_weights(b, m, advanced);
	/* inputs: one ldrd (or ldr), then every smlad that reads them */
	for (int i; (i = next_load(m, 0)) >= 0;) {
		emit_load(b, m, i, advanced);
		for (int d = 0; d < m->n_dot; d++) {
			const SmDot *t = &m->dot[d];
			if (t->load == i || t->load == m->ld[i].pair)
				sb_fmt(b, "smlad $%d, $%d, $%d, $%d\n\t", t->acc, m->sx[t->sxt].reg, m->ld[t->load].reg,
				       acc_addend(m, t->acc));
		}
	}
}

/* An unpacking loop's step: the weight words (ldr/ldrd), their halves
 * (sxtb16 …, ror #8 into a register of their own, sxtb16 in place), the
 * stores. */
static void emit_step_unpack(StrBuf *b, SmLoop *m)
{
	int advanced[SM_MAX_STREAMS] = {0};
	for (int i = 0; i < m->n_ld; i++)
		m->ld[i].emitted = 0;
	emit_weights(b, m, advanced);
	for (int i; (i = next_load(m, 2)) >= 0;) /* the stores: str/strd, highest offset first */
		emit_load(b, m, i, advanced);
	for (int st = 0; st < m->n_st; st++)
		if (!advanced[st])
			sb_fmt(b, "add $%d, $%d, #%lld\n\t", OP_ST(m, st), OP_ST(m, st), (long long)m->st_adv[st]);
}

/* Does dot d read a half of a nibble word of the given kind (low nibbles)? */
static int dot_low(const SmLoop *m, int d) { return m->nb[m->sx[m->dot[d].sxt].nib].low; }

/* int4, in two phases, one per nibble kind: the weight words (ldr/ldrd),
 * their nibbles in place (low: (w << 4) & M, high: w & M), the halves
 * (sxtb16 …, ror #8 into a temporary of the word, then sxtb16 in place), and
 * the input words those halves multiply with their smlads. The words are
 * loaded again for the second phase (there are not the registers to keep
 * both kinds); the phase reading the input stream's base load runs last, so
 * that load is post-indexed, and the weight words advance in the reload. */
static void emit_step_nib(StrBuf *b, SmLoop *m)
{
	int advanced[SM_MAX_STREAMS] = {0};
	int last_low = 1; /* the low nibbles' phase last, unless the input base load is a high one's */
	for (int d = 0; d < m->n_dot; d++)
		for (int st = 0; st < m->n_st; st++)
			if (!m->ld[m->st_load[st]].weight &&
			    (m->dot[d].load == m->st_load[st] || m->ld[m->dot[d].load].pair == m->st_load[st]))
				last_low = dot_low(m, d);
	for (int ph = 0; ph < 2; ph++) {
		const int low = ph == 1 ? last_low : !last_low, final = ph == 1;
		for (int i = 0; i < m->n_ld; i++) {
			int need = 0;
			for (int d = 0; d < m->n_dot; d++)
				need |= dot_low(m, d) == low &&
				        (m->ld[i].weight ? m->sx[m->dot[d].sxt].load == i
				                         : m->dot[d].load == i || m->dot[d].load == m->ld[i].pair);
			/* loads this phase does not read count as emitted (the stream's
			 * base load then is the last one of the final phase) */
			m->ld[i].emitted = !need;
		}
		for (int i; (i = next_load(m, 1)) >= 0;)
			emit_load_at(b, m, i, advanced, final);
		for (int k = 0; k < m->n_nb; k++) {
			if (m->nb[k].low != low)
				continue;
			int rw = m->ld[m->nb[k].load].reg, rt = m->ld[m->nb[k].load].reg2;
			if (low)
				sb_fmt(b, "lsl $%d, $%d, #4\n\t", rw, rw);
			sb_fmt(b, "and $%d, $%d, #0xf0f0f0f0\n\t", rw, rw);
			for (int x = 0; x < m->n_sx; x++)
				if (m->sx[x].nib == k && m->sx[x].hi) {
					m->sx[x].reg = rt;
					sb_fmt(b, "sxtb16 $%d, $%d, ror #8\n\t", rt, rw);
				}
			for (int x = 0; x < m->n_sx; x++)
				if (m->sx[x].nib == k && !m->sx[x].hi) {
					m->sx[x].reg = rw;
					sb_fmt(b, "sxtb16 $%d, $%d\n\t", rw, rw);
				}
		}
		for (int i; (i = next_load(m, 0)) >= 0;) {
			emit_load_at(b, m, i, advanced, final);
			for (int d = 0; d < m->n_dot; d++) {
				const SmDot *t = &m->dot[d];
				if ((t->load == i || t->load == m->ld[i].pair) && dot_low(m, d) == low)
					sb_fmt(b, "smlad $%d, $%d, $%d, $%d\n\t", t->acc, m->sx[t->sxt].reg, m->ld[t->load].reg, t->acc);
			}
		}
	}
	for (int st = 0; st < m->n_st; st++)
		if (!advanced[st])
			sb_fmt(b, "add $%d, $%d, #%lld\n\t", OP_ST(m, st), OP_ST(m, st), (long long)m->st_adv[st]);
}

/* Registers: each weight word's register is its low half's (sxtb16 in place);
 * the high half gets the next; the input words share the last two. */
static void assign_regs(SmLoop *m)
{
	int k = 0;
	if (m->n_nb) { /* emit_step_nib: each weight word and its temporary, the input pair */
		for (int i = 0; i < m->n_ld; i++)
			if (m->ld[i].used && m->ld[i].weight) {
				m->ld[i].reg = OP_TMP(m, k++);
				m->ld[i].reg2 = OP_TMP(m, k++);
			}
		for (int i = 0; i < m->n_ld; i++) {
			SmLoad *l = &m->ld[i];
			if (l->used && !l->weight)
				l->reg = l->pair >= 0 && m->ld[l->pair].off < l->off ? OP_TMP(m, k + 1) : OP_TMP(m, k);
		}
		return;
	}
	for (int i = 0; i < m->n_ld; i++) {
		if (!m->ld[i].used || !m->ld[i].weight)
			continue;
		int lo = -1, hi = -1;
		for (int x = 0; x < m->n_sx; x++)
			if (m->sx[x].load == i)
				*(m->sx[x].hi ? &hi : &lo) = x;
		int base = k;
		if (lo >= 0)
			m->sx[lo].reg = OP_TMP(m, k++);
		if (hi >= 0)
			m->sx[hi].reg = OP_TMP(m, k++);
		/* the word is loaded into the low half's register (or the high one's when alone) */
		m->ld[i].reg = OP_TMP(m, base);
	}
	int in0 = OP_TMP(m, k), in1 = OP_TMP(m, k + 1);
	for (int i = 0; i < m->n_ld; i++) {
		SmLoad *l = &m->ld[i];
		if (!l->used || l->weight || l->store)
			continue;
		if (l->pair >= 0)
			l->reg = m->ld[l->pair].off < l->off ? in1 : in0;
		else
			l->reg = in0;
	}
}

/* ---- the IR ---------------------------------------------------------------- */

/* LLVM's memory(read) attribute: ModRef::Ref (1) for each of its three
 * locations (argument, inaccessible, other memory), two bits each */
#define MEM_READ_ALL (1u | 1u << 2 | 1u << 4)

/* One call of the asm (steps copies of the step): updates accs[] and ptrs[]. */
static void call_steps(CgCtx *c, SmLoop *m, LLVMValueRef asmfn, LLVMTypeRef fty, LLVMValueRef *accs,
                       LLVMValueRef *ptrs)
{
	LLVMValueRef args[SM_MAX_ACC + SM_MAX_STREAMS];
	int n = 0;
	for (int a = 0; a < m->n_acc; a++)
		if (m->hold[a] < 0)
			args[n++] = accs[a];
	for (int k = 0; k < m->n_st; k++)
		args[n++] = ptrs[k];
	LLVMValueRef r = LLVMBuildCall2(c->b, fty, asmfn, args, (unsigned)n, "");
	/* the asm reads memory through its pointers (the band, the weights):
	 * memory(read) for the IR passes (with the ~{memory} clobber alone they
	 * would take it for a write too); the clobber is what the machine passes
	 * see (make_asm). An unpacking loop writes: no attribute, any access. */
	if (!m->unpack)
		LLVMAddCallSiteAttribute(r, LLVMAttributeFunctionIndex,
		                         LLVMCreateEnumAttribute(c->ctx, LLVMGetEnumAttributeKindForName("memory", 6), MEM_READ_ALL));
	for (int a = 0; a < m->n_acc; a++)
		accs[a] = LLVMBuildExtractValue(c->b, r, (unsigned)a, "");
	for (int k = 0; k < m->n_st; k++)
		ptrs[k] = LLVMBuildExtractValue(c->b, r, (unsigned)(m->n_acc + k), "");
}

static LLVMValueRef make_asm(CgCtx *c, SmLoop *m, int steps, LLVMTypeRef *fty)
{
	StrBuf b = {0};
	memset(m->live, 0, sizeof m->live);
	m->pos = 0;
	for (int k = 0; k < steps; k++)
		(m->unpack ? emit_step_unpack : m->n_nb ? emit_step_nib : emit_step)(&b, m);
	char cons[512];
	size_t n = 0;
	int nout = m->n_acc + m->n_st + m->n_tmp, nin = 0;
	/* outputs: the accumulators and pointers tied to their inputs; the
	 * temporaries and the accumulators that start from their holder's
	 * value are written before the inputs are all read (early clobber) */
	for (int i = 0; i < nout && n + 8 < sizeof cons; i++) {
		int tied = i < m->n_acc ? m->hold[i] < 0 : i < m->n_acc + m->n_st;
		n += (size_t)snprintf(cons + n, sizeof cons - n, "%s%s", i ? "," : "", tied ? "=r" : "=&r");
	}
	for (int i = 0; i < m->n_acc + m->n_st && n + 8 < sizeof cons; i++)
		if (i >= m->n_acc || m->hold[i] < 0) {
			n += (size_t)snprintf(cons + n, sizeof cons - n, ",%d", i);
			nin++;
		}
	/* it reads memory: without the clobber the machine passes take the asm
	 * for one that touches none and may sink the stores that fill what it
	 * reads past it (they did, with a table written just before the loop) */
	if (n + 12 < sizeof cons)
		n += (size_t)snprintf(cons + n, sizeof cons - n, ",~{memory}");
	if (b.oom || !b.s) {
		free(b.s);
		return cg_fail(c, "out of memory");
	}
	if (b.n >= 2 && b.s[b.n - 1] == '\t')
		b.s[b.n -= 2] = 0; /* the last "\n\t" */
	LLVMTypeRef i32 = LLVMInt32TypeInContext(c->ctx), ptr = LLVMPointerTypeInContext(c->ctx, 0);
	LLVMTypeRef outs[SM_MAX_ACC + SM_MAX_STREAMS + SM_MAX_REGS], ins[SM_MAX_ACC + SM_MAX_STREAMS];
	for (int i = 0; i < nout; i++)
		outs[i] = i >= m->n_acc && i < m->n_acc + m->n_st ? ptr : i32;
	for (int i = 0, k = 0; i < m->n_acc + m->n_st; i++)
		if (i >= m->n_acc || m->hold[i] < 0)
			ins[k++] = outs[i];
	LLVMTypeRef rt = LLVMStructTypeInContext(c->ctx, outs, (unsigned)nout, 0);
	*fty = LLVMFunctionType(rt, ins, (unsigned)nin, 0);
	LLVMValueRef f = LLVMGetInlineAsm(*fty, b.s, b.n, cons, n, 0, 0, LLVMInlineAsmDialectATT, 0);
	free(b.s);
	return f;
}

/* Accumulators that start equal: the loop s is c->list->v[c->idx], each
 * accumulator's last definition before it a let in the same list, only lets
 * from the first of those to the loop (no store, no set between), and the
 * lets' values the same expression. Groups those (group[a], -1 alone). */
static void shared_init(const CgCtx *c, const LStmt *s, const SmLoop *m, int *group)
{
	const LExpr *init[SM_MAX_ACC];
	for (int a = 0; a < m->n_acc; a++)
		group[a] = -1, init[a] = NULL;
	if (!c->list || c->idx >= c->list->n || c->list->v[c->idx] != s)
		return;
	int found = 0;
	for (int i = c->idx - 1; i >= 0 && found < m->n_acc; i--) {
		const LStmt *t = c->list->v[i];
		if (t->kind != LS_LET)
			break;
		for (int a = 0; a < m->n_acc; a++)
			if (t->var == m->acc[a] && !init[a]) {
				init[a] = t->val;
				found++;
			}
	}
	if (found < m->n_acc)
		return;
	for (int a = 0; a < m->n_acc; a++)
		for (int b = 0; b < a && group[a] < 0; b++)
			if (lx_equal(init[a], init[b]))
				group[a] = group[b] >= 0 ? group[b] : b;
	for (int a = 0; a < m->n_acc; a++)
		for (int b = a + 1; b < m->n_acc; b++)
			if (group[b] == a)
				group[a] = a;
}

/* Accumulators that start equal share one input register (shared_init):
 * the group's holder is the one whose first smlad comes last in the first
 * step (emit_step's order). Sets m->hold; how many accumulators need no
 * input of their own. */
static int choose_holders(const CgCtx *c, const LStmt *s, SmLoop *m)
{
	int group[SM_MAX_ACC], n = 0;
	if (m->n_nb || m->unpack)
		return 0;
	shared_init(c, s, m, group);
	StrBuf dry = {0};
	memset(m->live, 0, sizeof m->live);
	m->pos = 0;
	emit_step(&dry, m);
	free(dry.s);
	for (int a = 0; a < m->n_acc; a++) {
		if (group[a] < 0)
			continue;
		int h = a;
		for (int b = 0; b < m->n_acc; b++)
			if (group[b] == group[a] && m->first[b] > m->first[h])
				h = b;
		m->hold[a] = h == a ? -1 : h;
		n += h != a;
	}
	return n;
}

/* steps steps as one asm (no loop), updating accs and ptrs */
static int steps_asm(CgCtx *c, SmLoop *m, int steps, LLVMValueRef *accs, LLVMValueRef *ptrs)
{
	LLVMTypeRef fty;
	LLVMValueRef f = make_asm(c, m, steps, &fty);
	if (!f)
		return -1;
	call_steps(c, m, f, fty, accs, ptrs);
	return 0;
}

int cg_smlad_nest(const CgCtx *c, const LStmt *s)
{
	if (!s || s->kind != LS_FOR)
		return 0;
	SmLoop m;
	if (match(c, s, &m))
		return 1;
	for (int i = 0; i < s->body.n; i++)
		if (cg_smlad_nest(c, s->body.v[i]))
			return 1;
	return 0;
}

int cg_smlad_loop(CgCtx *c, const LStmt *s, LLVMValueRef lo, LLVMValueRef hi)
{
	SmLoop m;
	if (!c->dsp || c->o->opt == CG_O0 || !match(c, s, &m))
		return 0;
	assign_regs(&m);
	LLVMTypeRef i32 = LLVMInt32TypeInContext(c->ctx);
	/* stream pointers at r = lo (for_stmt has stored lo in r's slot) */
	LLVMValueRef ptrs[SM_MAX_STREAMS], accs[SM_MAX_ACC];
	for (int k = 0; k < m.n_st; k++) {
		const SmLoad *l = &m.ld[m.st_load[k]];
		LLVMValueRef idx = cg_expr(c, l->idx, 1);
		if (!idx)
			return -1;
		ptrs[k] = cg_addr(c, l->buf, idx);
	}
	for (int a = 0; a < m.n_acc; a++) {
		LLVMValueRef as = cg_slot(c, m.acc[a]);
		if (!as)
			return -1;
		accs[a] = LLVMBuildLoad2(c->b, i32, as, c->p->vars[m.acc[a]].name);
	}
	LLVMTypeRef fty2, fty1;
	const int64_t trip = s->lo->kind == LE_CONST && s->hi->kind == LE_CONST ? s->hi->ival - s->lo->ival : -1;
	if (trip >= 1 && trip < 4) {
		/* 1 to 3 steps of known count: one asm, no loop */
		choose_holders(c, s, &m);
		if (steps_asm(c, &m, (int)trip, accs, ptrs) < 0)
			return -1;
		for (int a = 0; a < m.n_acc; a++)
			LLVMBuildStore(c->b, accs[a], cg_slot(c, m.acc[a]));
		return 1;
	}
	if (trip >= 2 && choose_holders(c, s, &m)) {
		/* the first two steps apart, with the shared initial values */
		if (steps_asm(c, &m, 2, accs, ptrs) < 0)
			return -1;
		for (int a = 0; a < m.n_acc; a++)
			m.hold[a] = -1;
		lo = LLVMBuildAdd(c->b, lo, LLVMConstInt(i32, 2, 0), "");
	}
	LLVMValueRef asm2 = make_asm(c, &m, 2, &fty2);
	LLVMValueRef asm1 = asm2 ? make_asm(c, &m, 1, &fty1) : NULL;
	if (!asm1)
		return -1;
	/* n = max(hi - lo, 0); n/2 double steps, then one step if n is odd */
	LLVMValueRef zero = LLVMConstInt(i32, 0, 0), one = LLVMConstInt(i32, 1, 0);
	LLVMValueRef n = LLVMBuildSub(c->b, hi, lo, "");
	n = LLVMBuildSelect(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, n, zero, ""), n, zero, "");
	LLVMValueRef half = LLVMBuildLShr(c->b, n, one, "");
	LLVMBasicBlockRef pre = LLVMGetInsertBlock(c->b);
	LLVMBasicBlockRef loop = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "smlad2");
	LLVMBasicBlockRef mid = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "smlad2.exit");
	LLVMBasicBlockRef odd = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "smlad1");
	LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "smlad.exit");
	LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, half, zero, ""), loop, mid);

	int nv = m.n_acc + m.n_st;
	LLVMValueRef v0[SM_MAX_ACC + SM_MAX_STREAMS], phi[SM_MAX_ACC + SM_MAX_STREAMS];
	for (int a = 0; a < m.n_acc; a++)
		v0[a] = accs[a];
	for (int k = 0; k < m.n_st; k++)
		v0[m.n_acc + k] = ptrs[k];

	LLVMPositionBuilderAtEnd(c->b, loop);
	LLVMValueRef iphi = LLVMBuildPhi(c->b, i32, "");
	for (int i = 0; i < nv; i++)
		phi[i] = LLVMBuildPhi(c->b, LLVMTypeOf(v0[i]), "");
	for (int a = 0; a < m.n_acc; a++)
		accs[a] = phi[a];
	for (int k = 0; k < m.n_st; k++)
		ptrs[k] = phi[m.n_acc + k];
	call_steps(c, &m, asm2, fty2, accs, ptrs);
	LLVMValueRef inext = LLVMBuildNUWAdd(c->b, iphi, one, "");
	LLVMBasicBlockRef loop_end = LLVMGetInsertBlock(c->b);
	LLVMValueRef latch = LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntULT, inext, half, ""), loop, mid);
	/* LLVM would unroll the loop whole where the trip count is known; keep
	 * it a loop where code size wins: int4's nibble loops (int4 is for
	 * flash) and the loops the lowering marks nounroll (int4's unpacked
	 * pairs, the unpacking loops) */
	if (m.n_nb || s->nounroll)
		cg_loop_nounroll(c, latch);
	LLVMValueRef inc_v[2] = {zero, inext};
	LLVMBasicBlockRef inc_b[2] = {pre, loop_end};
	LLVMAddIncoming(iphi, inc_v, inc_b, 2);
	LLVMValueRef v1[SM_MAX_ACC + SM_MAX_STREAMS];
	for (int a = 0; a < m.n_acc; a++)
		v1[a] = accs[a];
	for (int k = 0; k < m.n_st; k++)
		v1[m.n_acc + k] = ptrs[k];
	for (int i = 0; i < nv; i++) {
		LLVMValueRef vv[2] = {v0[i], v1[i]};
		LLVMAddIncoming(phi[i], vv, inc_b, 2);
	}

	LLVMPositionBuilderAtEnd(c->b, mid);
	LLVMValueRef mphi[SM_MAX_ACC + SM_MAX_STREAMS];
	for (int i = 0; i < nv; i++) {
		mphi[i] = LLVMBuildPhi(c->b, LLVMTypeOf(v0[i]), "");
		LLVMValueRef vv[2] = {v0[i], v1[i]};
		LLVMAddIncoming(mphi[i], vv, inc_b, 2);
	}
	LLVMValueRef isodd = LLVMBuildICmp(c->b, LLVMIntNE, LLVMBuildAnd(c->b, n, one, ""), zero, "");
	LLVMBuildCondBr(c->b, isodd, odd, done);

	LLVMPositionBuilderAtEnd(c->b, odd);
	for (int a = 0; a < m.n_acc; a++)
		accs[a] = mphi[a];
	for (int k = 0; k < m.n_st; k++)
		ptrs[k] = mphi[m.n_acc + k];
	call_steps(c, &m, asm1, fty1, accs, ptrs);
	LLVMBuildBr(c->b, done);

	LLVMPositionBuilderAtEnd(c->b, done);
	LLVMValueRef fin[SM_MAX_ACC];
	for (int a = 0; a < m.n_acc; a++) {
		fin[a] = LLVMBuildPhi(c->b, i32, c->p->vars[m.acc[a]].name);
		LLVMValueRef vv[2] = {mphi[a], accs[a]};
		LLVMBasicBlockRef bb[2] = {mid, odd};
		LLVMAddIncoming(fin[a], vv, bb, 2);
	}
	for (int a = 0; a < m.n_acc; a++)
		LLVMBuildStore(c->b, fin[a], cg_slot(c, m.acc[a]));
	return 1;
}
