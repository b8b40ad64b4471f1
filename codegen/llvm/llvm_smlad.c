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

/* ---- a whole register block as one asm (cg_smlad_block) -------------------
 *
 * A conv_dsp register block is, in the loop IR: the accumulators' lets
 * (their bias), the smlad loop (or a nest of two: kernel rows, steps), the
 * requantization group (llvm_requant.c). As separate asms LLVM holds the
 * pointers of each part across the others' registers and spills and
 * reloads them: ~40 instructions a 2 × 2 block besides its smlads, loads
 * and requantization. Where the nest has known trip counts (at most
 * BK_MAX_STEPS steps) and everything the block reads but its input words
 * sits behind one pointer (conv_dsp's wun: weights, biases and
 * requantization constants, CLOC), the block is one straight-line asm: the
 * biases (one ldrd), every step (one ldrd per column's input words and per
 * channel's weight words, then the smlads), per channel the constants
 * (ldrd, ldr) and its outputs (add, smmlar, asr, ssat, strb). Registers:
 * the accumulators, 6 data registers, at most 3 pointers (input, wun,
 * output); LLVM keeps its loop counter in the last. Same bits: the same
 * instructions as the parts' asms, in the IR's order per accumulator. */

#define BK_MAX_STEPS 64
#define BK_MAX_ILET 4
#define BK_PTRS 3
#define BK_ACCESS (SM_MAX_LOADS + SM_MAX_ACC + 2 * 3 + 1)

typedef struct BkAccess {
	int buf;
	LAff aff;
	const LExpr *idx;
	int ptr;        /* its pointer class */
} BkAccess;

typedef struct BkBlock {
	SmLoop m;
	const LStmt *outer, *inner; /* the nest (outer NULL: one loop) */
	int64_t olo, otrip, ilo, itrip;
	int ov, iv;                 /* the nest's variables (ov −1: none) */
	int init_ld[SM_MAX_ACC];    /* each accumulator's let: its access */
	const LExpr *init_val[SM_MAX_ACC];
	BkAccess acc[BK_ACCESS];
	int n_acc_x;
	int ld_x[SM_MAX_LOADS];     /* each SmLoad's access */
	int rq_x, y_x;              /* the multiplier's (smallest) access, the store's */
	CgRq rq;
	int ptr_rep[BK_PTRS];       /* each pointer class: its representative access */
	int n_ptr;
	int hold[SM_MAX_ACC];       /* shared initial value: the holder, or −1 (loads its own) */
	int64_t adv[BK_PTRS];       /* bytes each pointer advances a loop step (bk_loop; 0: none) */
	int moving[BK_PTRS];        /* an advancing pointer of nest loads only, moved along with the
	                             * outer loop (its offsets then from there: kernel rows > 1020 bytes apart) */
	int nadv;
	int pop[BK_PTRS];           /* each pointer's operand number */
	int ldm;                    /* ldm mode (bk_ldm_ok): every pointer tied, fixed data registers */
	int n_il;                   /* lets of affine indices before the nest: variable, form, statement */
	int il_var[BK_MAX_ILET];
	LAff il_aff[BK_MAX_ILET];
	const LStmt *il[BK_MAX_ILET];
} BkBlock;

/* same buffer and the same terms other than the nest's variables */
static int bk_same_class(const BkBlock *k, const BkAccess *a, const BkAccess *b)
{
	if (a->buf != b->buf)
		return 0;
	for (int i = 0; i < a->aff.n; i++)
		if (a->aff.var[i] != k->ov && a->aff.var[i] != k->iv && laff_coef(&b->aff, a->aff.var[i]) != a->aff.k[i])
			return 0;
	for (int i = 0; i < b->aff.n; i++)
		if (b->aff.var[i] != k->ov && b->aff.var[i] != k->iv && laff_coef(&a->aff, b->aff.var[i]) != b->aff.k[i])
			return 0;
	return 1;
}

/* a with the index lets' variables replaced by their forms (a later let may
 * read an earlier one: the last first); -1 if a form overflows */
static int bk_subst(const BkBlock *k, LAff *a)
{
	for (int j = k->n_il - 1; j >= 0; j--) {
		int64_t kv = laff_coef(a, k->il_var[j]);
		if (!kv)
			continue;
		LAff r;
		memset(&r, 0, sizeof r);
		r.c = a->c + kv * k->il_aff[j].c;
		for (int t = 0; t < a->n; t++)
			if (a->var[t] != k->il_var[j])
				laff_add_term(&r, a->var[t], a->k[t]);
		for (int t = 0; t < k->il_aff[j].n; t++)
			laff_add_term(&r, k->il_aff[j].var[t], kv * k->il_aff[j].k[t]);
		if (r.n > LAFF_MAX)
			return -1;
		*a = r;
	}
	return 0;
}

/* a new access of buf[idx]: its index in k->acc, or −1 */
static int bk_access(BkBlock *k, int buf, const LExpr *idx)
{
	if (k->n_acc_x == BK_ACCESS)
		return -1;
	BkAccess *a = &k->acc[k->n_acc_x];
	if (laff_of(idx, &a->aff) != 0 || bk_subst(k, &a->aff) < 0)
		return -1;
	a->buf = buf;
	a->idx = idx;
	a->ptr = -1;
	for (int p = 0; p < k->n_ptr && a->ptr < 0; p++)
		if (bk_same_class(k, a, &k->acc[k->ptr_rep[p]]))
			a->ptr = p;
	if (a->ptr < 0) {
		if (k->n_ptr == BK_PTRS)
			return -1;
		a->ptr = k->n_ptr;
		k->ptr_rep[k->n_ptr++] = k->n_acc_x;
	}
	return k->n_acc_x++;
}

/* the element index of access x at nest step (o, r) less its pointer's (at the nest's start) */
static int64_t bk_rel(const BkBlock *k, int x, int64_t o, int64_t r)
{
	const BkAccess *a = &k->acc[x], *b = &k->acc[k->ptr_rep[a->ptr]];
	int64_t ia = a->aff.c, ib = b->aff.c;
	if (k->ov >= 0)
		ia += laff_coef(&a->aff, k->ov) * o, ib += laff_coef(&b->aff, k->ov) * (k->moving[a->ptr] ? o : k->olo);
	ia += laff_coef(&a->aff, k->iv) * r;
	ib += laff_coef(&b->aff, k->iv) * k->ilo;
	return ia - ib;
}

static int bk_ldr_ok(int64_t off) { return off >= -255 && off <= 4095; }
static int bk_ldrd_ok(int64_t off) { return off >= -1020 && off <= 1020 && off % 4 == 0; }

/* The loads of the nest: input words in at most 2 groups (an ldrd or ldr
 * each), weight words as loaded (raw int16 pairs) */
typedef struct BkGroup {
	int ld[2], n;
} BkGroup;

static int bk_groups(const SmLoop *m, int weight, BkGroup *g, int max)
{
	int n = 0;
	for (int i = 0; i < m->n_ld; i++) {
		const SmLoad *l = &m->ld[i];
		if (!l->used || l->weight != weight || l->store)
			continue;
		if (l->pair >= 0 && m->ld[l->pair].off < l->off)
			continue; /* the pair's high word: with its low one */
		if (n == max)
			return -1;
		g[n].ld[0] = i;
		g[n].ld[1] = l->pair;
		g[n].n = l->pair >= 0 ? 2 : 1;
		n++;
	}
	return n;
}

/* With pointer p at its representative: how many of its ldrd pairs need
 * two ldr, or −1 if an offset is not encodable at all */
static int bk_cost(const BkBlock *k, int p)
{
	const SmLoop *m = &k->m;
	int cost = 0;
	BkGroup g[SM_MAX_LOADS];
	for (int wt = 0; wt < 2; wt++) {
		int ng = bk_groups(m, wt, g, SM_MAX_LOADS);
		for (int e = 0; e < ng; e++) {
			if (k->acc[k->ld_x[g[e].ld[0]]].ptr != p)
				continue;
			for (int64_t o = 0; o < k->otrip; o++)
				for (int64_t r = 0; r < k->itrip; r++) {
					int64_t off0 = 4 * bk_rel(k, k->ld_x[g[e].ld[0]], k->olo + o, k->ilo + r);
					if (!bk_ldr_ok(off0))
						return -1;
					if (g[e].n == 2) {
						int64_t off1 = 4 * bk_rel(k, k->ld_x[g[e].ld[1]], k->olo + o, k->ilo + r);
						if (!bk_ldr_ok(off1))
							return -1;
						cost += !(off1 == off0 + 4 && bk_ldrd_ok(off0));
					}
				}
		}
	}
	for (int a = 0; a < m->n_acc; a++) {
		if (k->acc[k->init_ld[a]].ptr != p)
			continue;
		int64_t off = 4 * bk_rel(k, k->init_ld[a], 0, 0);
		if (!bk_ldr_ok(off))
			return -1;
		cost += !bk_ldrd_ok(off); /* an ldr, not a pair's ldrd */
	}
	if (k->acc[k->rq_x].ptr == p)
		for (int ch = 0; ch < k->rq.nchan; ch++) {
			int64_t off = 4 * (bk_rel(k, k->rq_x, 0, 0) + k->rq.chan_c[ch] - k->rq.qmin);
			if (!bk_ldr_ok(off) || !bk_ldr_ok(off + 8))
				return -1;
			cost += !bk_ldrd_ok(off); /* two ldr */
		}
	if (k->acc[k->y_x].ptr == p)
		for (int j = 0; j < k->rq.n; j++)
			if (!bk_ldr_ok(bk_rel(k, k->y_x, 0, 0) + k->rq.o[j].yc - k->rq.ymin))
				return -1;
	return cost;
}

static int bk_match(const CgCtx *c, const LStmtList *l, int i, int lv, BkBlock *k, int *taken)
{
	const LProgram *p = c->p;
	memset(k, 0, sizeof *k);
	k->ov = k->iv = -1;
	int f = i;
	while (f < l->n && l->v[f]->kind == LS_LET)
		f++;
	if (f == i || f >= l->n || l->v[f]->kind != LS_FOR)
		return 0;
	const LStmt *s = l->v[f];
	if (s->body.n == 1 && s->body.v[0]->kind == LS_FOR)
		k->outer = s, k->inner = s->body.v[0];
	else
		k->inner = s;
	for (int t = 0; t < 2; t++) {
		const LStmt *x = t ? k->inner : k->outer;
		if (!x)
			continue;
		if (x->step != 1 || x->lo->kind != LE_CONST || x->hi->kind != LE_CONST || x->hi->ival <= x->lo->ival)
			return 0;
		*(t ? &k->ilo : &k->olo) = x->lo->ival;
		*(t ? &k->itrip : &k->otrip) = x->hi->ival - x->lo->ival;
		*(t ? &k->iv : &k->ov) = x->var;
	}
	if (!k->outer)
		k->otrip = 1;
	if (k->otrip * k->itrip > BK_MAX_STEPS)
		return 0;
	SmLoop *m = &k->m;
	if (!match(c, k->inner, m) || m->unpack || m->n_nb || m->n_acc > 4)
		return 0;
	for (int x = 0; x < m->n_sx; x++)
		if (!m->sx[x].raw)
			return 0;
	/* the lets: each accumulator's, once, a load of an i32 buffer; the
	 * others affine i32 indices (dw_dsp's block base), substituted into
	 * the accesses (bk_subst) and generated before the asm */
	for (int a = 0; a < m->n_acc; a++)
		k->init_ld[a] = -1;
	for (int j = i; j < f; j++) {
		const LStmt *t = l->v[j];
		int is_acc = 0;
		for (int b = 0; b < m->n_acc; b++)
			is_acc |= m->acc[b] == t->var;
		if (is_acc)
			continue;
		if (k->n_il == BK_MAX_ILET || p->vars[t->var].type != LT_I32 || laff_of(t->val, &k->il_aff[k->n_il]) != 0 ||
		    bk_subst(k, &k->il_aff[k->n_il]) < 0)
			return 0;
		for (int b = 0; b < m->n_acc; b++)
			if (lx_uses_var(t->val, m->acc[b]))
				return 0;
		k->il_var[k->n_il] = t->var;
		k->il[k->n_il++] = t;
	}
	if (f - i != m->n_acc + k->n_il)
		return 0;
	for (int j = i; j < f; j++) {
		const LStmt *t = l->v[j];
		int a = -1;
		for (int b = 0; b < m->n_acc; b++)
			if (m->acc[b] == t->var)
				a = b;
		if (a < 0)
			continue;
		if (k->init_ld[a] >= 0 || t->val->kind != LE_LOAD || p->bufs[t->val->buf].type != LT_I32)
			return 0;
		k->init_val[a] = t->val;
		if ((k->init_ld[a] = bk_access(k, t->val->buf, t->val->a)) < 0)
			return 0;
	}
	/* the requantization: every accumulator once */
	const int g0 = f + 1;
	if (!cg_requant_match(c, l, g0, &k->rq) || k->rq.n != m->n_acc)
		return 0;
	for (int a = 0; a < m->n_acc; a++) {
		int n = 0;
		for (int j = 0; j < k->rq.n; j++)
			n += k->rq.o[j].acc == m->acc[a];
		if (n != 1)
			return 0;
	}
	/* nothing after reads an accumulator */
	const int end = g0 + 3 * k->rq.n;
	for (int j = end; j < l->n; j++)
		for (int a = 0; a < m->n_acc; a++)
			if (ls_uses_var(l->v[j], m->acc[a]) || ls_sets_var(l->v[j], m->acc[a]))
				return 0;
	for (int x = 0; x < m->n_ld; x++) {
		if (!m->ld[x].used)
			continue;
		if ((k->ld_x[x] = bk_access(k, m->ld[x].buf, m->ld[x].idx)) < 0)
			return 0;
	}
	if ((k->rq_x = bk_access(k, k->rq.rq, k->rq.qidx)) < 0 || (k->y_x = bk_access(k, k->rq.yb, k->rq.yidx)) < 0)
		return 0;
	if (p->bufs[k->rq.yb].type != LT_I8)
		return 0;
	/* registers: the accumulators, 6 data, the pointers: at most 13 operands */
	if (m->n_acc + 6 + k->n_ptr > SM_MAX_REGS)
		return 0;
	BkGroup in[2], w[SM_MAX_LOADS];
	if (bk_groups(m, 0, in, 2) < 0 || bk_groups(m, 1, w, SM_MAX_LOADS) < 0)
		return 0;
	/* each pointer's advance a loop step (bytes; the same for the class),
	 * operand numbers: the advancing ones outputs after the data
	 * registers (tied), the others inputs */
	k->nadv = 0;
	for (int pc = 0; pc < k->n_ptr; pc++) {
		const BkAccess *x = &k->acc[k->ptr_rep[pc]];
		const LType t = p->bufs[x->buf].type;
		k->adv[pc] = lv < 0 ? 0 : laff_coef(&x->aff, lv) * (t == LT_I8 ? 1 : t == LT_I16 ? 2 : 4);
		if (k->adv[pc] < 0 || k->adv[pc] > 4095)
			return 0;
		k->nadv += k->adv[pc] != 0;
		k->moving[pc] = k->adv[pc] && k->outer;
		for (int a = 0; a < m->n_acc; a++)
			if (k->acc[k->init_ld[a]].ptr == pc)
				k->moving[pc] = 0;
		if (k->acc[k->rq_x].ptr == pc || k->acc[k->y_x].ptr == pc)
			k->moving[pc] = 0;
	}
	for (int pc = 0, ai = 0, ni = 0; pc < k->n_ptr; pc++)
		k->pop[pc] = k->adv[pc] ? m->n_acc + 6 + ai++ : m->n_acc + 6 + 2 * k->nadv + ni++;
	/* each pointer at the access that makes the fewest ldrd pairs two ldr
	 * (offsets: ldrd ±1020, ldr and strb −255..4095) */
	for (int pc = 0; pc < k->n_ptr; pc++) {
		int best = -1, bcost = -1;
		for (int x = 0; x < k->n_acc_x; x++) {
			if (k->acc[x].ptr != pc)
				continue;
			k->ptr_rep[pc] = x;
			int cost = bk_cost(k, pc);
			if (cost >= 0 && (bcost < 0 || cost < bcost))
				best = x, bcost = cost;
		}
		if (best < 0)
			return 0;
		k->ptr_rep[pc] = best;
		/* a moving pointer moves by its representative's kernel-row step
		 * between rows, the rest of the advance after them: add/sub immediates */
		if (k->moving[pc]) {
			int64_t dm = 4 * laff_coef(&k->acc[best].aff, k->ov), left = k->adv[pc] - dm * (k->otrip - 1);
			if (dm < -4095 || dm > 4095 || left < -4095 || left > 4095)
				return 0;
		}
	}
	*taken = end - i;
	return 1;
}

/* Operands: accumulators 0..A−1, data A..A+5, pointers after. */
#define BK_D(k, j) ((k)->m.n_acc + (j))
#define BK_P(k, p) ((k)->pop[p])

/* ldr/ldrd of group g's words (element offsets at step o, r) into regs */
static void bk_load(StrBuf *b, const BkBlock *k, const BkGroup *g, int64_t o, int64_t r, int r0, int r1)
{
	const SmLoop *m = &k->m;
	int p = k->acc[k->ld_x[g->ld[0]]].ptr;
	int64_t off0 = 4 * bk_rel(k, k->ld_x[g->ld[0]], o, r);
	if (g->n == 2) {
		int64_t off1 = 4 * bk_rel(k, k->ld_x[g->ld[1]], o, r);
		if (off1 == off0 + 4 && bk_ldrd_ok(off0)) {
			sb_fmt(b, "ldrd $%d, $%d, [$%d, #%lld]\n\t", r0, r1, BK_P(k, p), (long long)off0);
			return;
		}
		sb_fmt(b, "ldr $%d, [$%d, #%lld]\n\t", r1, BK_P(k, p), (long long)off1);
	}
	sb_fmt(b, "ldr $%d, [$%d, #%lld]\n\t", r0, BK_P(k, p), (long long)off0);
	(void)m;
}

/* the register of load x within its group's registers */
static int bk_reg(const BkGroup *g, int ng, int x, int base)
{
	for (int i = 0; i < ng; i++)
		for (int h = 0; h < g[i].n; h++)
			if (g[i].ld[h] == x)
				return base + 2 * i + h;
	return -1;
}

/* One step's instructions; first: the first step (shared initial values) */
static void bk_step(StrBuf *b, BkBlock *k, int64_t o, int64_t r, int *live, int *order, int *pos)
{
	SmLoop *m = &k->m;
	BkGroup in[2], w[SM_MAX_LOADS];
	int nin = bk_groups(m, 0, in, 2), nw = bk_groups(m, 1, w, SM_MAX_LOADS);
	for (int g = 0; g < nin; g++)
		bk_load(b, k, &in[g], o, r, BK_D(k, 2 * g), BK_D(k, 2 * g + 1));
	for (int g = 0; g < nw; g++) {
		bk_load(b, k, &w[g], o, r, BK_D(k, 4), BK_D(k, 5));
		for (int d = 0; d < m->n_dot; d++) {
			const SmDot *t = &m->dot[d];
			int wl = m->sx[t->sxt].load;
			if (wl != w[g].ld[0] && (w[g].n < 2 || wl != w[g].ld[1]))
				continue;
			int a = t->acc, add = a;
			if (!live[a]) {
				if (order)
					order[a] = (*pos)++;
				if (k->hold[a] >= 0)
					add = k->hold[a];
				live[a] = 1;
			}
			sb_fmt(b, "smlad $%d, $%d, $%d, $%d\n\t", a, BK_D(k, 4 + (wl == w[g].ld[0] ? 0 : 1)),
			       bk_reg(in, nin, t->load, BK_D(k, 0)), add);
		}
	}
}

/* ---- ldm mode: lower_quant.c's blocks of 2 channels × 1 column ----------
 * Per two steps the column's 4 input words (int16 pairs) by one ldm into
 * r0-r3, per step the 4 weight words (2 a channel) by one ldm into r4-r6, r8,
 * the accumulators in r9, r10: 11 instructions per 16 MACs (the 2 × 2
 * blocks' ldrd: 12). ldm loads the lowest register from the lowest address,
 * so the data registers are fixed (clobbers) and the pointers, advanced by
 * the ldm (the weights' rewound), are the asm's only operands. */
static const char *const BK_LX[4] = {"r0", "r1", "r2", "r3"};
static const char *const BK_LW[4] = {"r4", "r5", "r6", "r8"};
static const char *const BK_LA[2] = {"r9", "r10"};

/* the input pointer's class, the weights' (one each), or −1 */
static int bk_ldm_classes(const BkBlock *k, int *xp, int *wp)
{
	const SmLoop *m = &k->m;
	*xp = *wp = -1;
	for (int x = 0; x < m->n_ld; x++) {
		if (!m->ld[x].used)
			continue;
		int pc = k->acc[k->ld_x[x]].ptr, *cl = m->ld[x].weight ? wp : xp;
		if (*cl >= 0 && *cl != pc)
			return -1;
		*cl = pc;
	}
	return *xp >= 0 && *wp >= 0 && *xp != *wp ? 0 : -1;
}

/* The nest as ldm mode wants it: 2 accumulators, an even number of steps
 * (no outer loop), each step 2 input words at 8·s, 4 weight words at W +
 * 16·s (bytes from the pointers at the start), every dot acc += w·x with w
 * and x at positions it can name; the input pointer with nothing else. */
static int bk_ldm_ok(const BkBlock *k, int64_t *W)
{
	const SmLoop *m = &k->m;
	int xp, wp;
	if (k->outer || m->n_acc != 2 || k->itrip < 2 || k->itrip % 2 || k->rq.n != 2 || bk_ldm_classes(k, &xp, &wp) < 0)
		return 0;
	int nx = 0, nw = 0;
	int64_t w0 = INT64_MAX;
	for (int x = 0; x < m->n_ld; x++)
		if (m->ld[x].used && m->ld[x].weight && 4 * bk_rel(k, k->ld_x[x], 0, k->ilo) < w0)
			w0 = 4 * bk_rel(k, k->ld_x[x], 0, k->ilo);
	/* every step: the inputs exactly words 0, 1 at 8·r, the weights exactly
	 * words 0..3 at W + 16·r (the ldm loads all four) */
	for (int64_t r = 0; r < k->itrip; r++) {
		unsigned seen[2] = {0, 0};
		for (int x = 0; x < m->n_ld; x++) {
			if (!m->ld[x].used)
				continue;
			const int wt = m->ld[x].weight;
			int64_t off = 4 * bk_rel(k, k->ld_x[x], 0, k->ilo + r) - (wt ? w0 + 16 * r : 8 * r);
			if (off < 0 || off > (wt ? 12 : 4) || off % 4 || seen[wt] & 1u << (off / 4))
				return 0;
			seen[wt] |= 1u << (off / 4);
			if (r == 0)
				*(wt ? &nw : &nx) += 1;
		}
		if (seen[0] != 3 || seen[1] != 15)
			return 0;
	}
	if (nx != 2 || nw != 4)
		return 0;
	/* the weights' pointer stays (the asm rewinds it), the input's advances
	 * (ldm's writeback and an add) */
	if (k->adv[wp])
		return 0;
	/* the class of the inputs holds the inputs only; the accumulators' lets
	 * and the constants are the weights' (CLOC) */
	for (int a = 0; a < m->n_acc; a++)
		if (k->acc[k->init_ld[a]].ptr != wp)
			return 0;
	if (k->acc[k->rq_x].ptr != wp || k->acc[k->y_x].ptr == xp)
		return 0;
	*W = w0;
	return 1;
}

static void bk_ldm_text(StrBuf *b, BkBlock *k, int64_t W)
{
	SmLoop *m = &k->m;
	int xp, wp;
	bk_ldm_classes(k, &xp, &wp);
	const int X = BK_P(k, xp), Wr = BK_P(k, wp);
	/* the biases (two lets of their own, or one shared) */
	int64_t b0 = 4 * bk_rel(k, k->init_ld[0], 0, 0), b1 = 4 * bk_rel(k, k->init_ld[1], 0, 0);
	if (b1 == b0 + 4 && bk_ldrd_ok(b0))
		sb_fmt(b, "ldrd %s, %s, [$%d, #%lld]\n\t", BK_LA[0], BK_LA[1], Wr, (long long)b0);
	else
		for (int a = 0; a < 2; a++)
			sb_fmt(b, "ldr %s, [$%d, #%lld]\n\t", BK_LA[a], Wr, (long long)(a ? b1 : b0));
	if (W)
		sb_fmt(b, "add $%d, $%d, #%lld\n\t", Wr, Wr, (long long)W);
	for (int64_t r = 0; r < k->itrip; r++) {
		if (r % 2 == 0)
			sb_fmt(b, "ldm $%d!, {r0, r1, r2, r3}\n\t", X);
		sb_fmt(b, "ldm $%d!, {r4, r5, r6, r8}\n\t", Wr);
		for (int d = 0; d < m->n_dot; d++) {
			const SmDot *t = &m->dot[d];
			int64_t wo = 4 * bk_rel(k, k->ld_x[m->sx[t->sxt].load], 0, k->ilo + r) - W - 16 * r;
			int64_t xo = 4 * bk_rel(k, k->ld_x[t->load], 0, k->ilo + r) - 8 * r;
			const char *acc = BK_LA[t->acc];
			sb_fmt(b, "smlad %s, %s, %s, %s\n\t", acc, BK_LW[wo / 4], BK_LX[2 * (r % 2) + xo / 4], acc);
		}
	}
	/* the weights' pointer back, the input's where the loop wants it */
	int64_t back = W + 16 * k->itrip;
	sb_fmt(b, "sub $%d, $%d, #%lld\n\t", Wr, Wr, (long long)back);
	int64_t dx = k->adv[xp] - 8 * k->itrip;
	if (dx)
		sb_fmt(b, "%s $%d, $%d, #%lld\n\t", dx > 0 ? "add" : "sub", X, X, (long long)(dx > 0 ? dx : -dx));
	/* the requantization: q, s, c in r0-r2, the result in r3; the channel
	 * whose output is at offset 0 last, its store post-indexed */
	const int64_t qrel = bk_rel(k, k->rq_x, 0, 0) - k->rq.qmin, yrel = bk_rel(k, k->y_x, 0, 0) - k->rq.ymin;
	const int yp = k->acc[k->y_x].ptr, Y = BK_P(k, yp);
	int order[2] = {0, 1};
	if (yrel + k->rq.o[0].yc == 0)
		order[0] = 1, order[1] = 0;
	for (int e = 0; e < 2; e++) {
		const CgRqOut *ro = &k->rq.o[order[e]];
		int a = m->acc[0] == ro->acc ? 0 : 1;
		int64_t off = 4 * (qrel + k->rq.chan_c[ro->chan]);
		if (bk_ldrd_ok(off)) {
			sb_fmt(b, "ldrd r0, r1, [$%d, #%lld]\n\t", Wr, (long long)off);
		} else {
			sb_fmt(b, "ldr r0, [$%d, #%lld]\n\t", Wr, (long long)off);
			sb_fmt(b, "ldr r1, [$%d, #%lld]\n\t", Wr, (long long)(off + 4));
		}
		sb_fmt(b, "ldr r2, [$%d, #%lld]\n\t", Wr, (long long)(off + 8));
		int64_t yo = yrel + ro->yc;
		const int post = e == 1 && yo == 0 && k->adv[yp] && k->adv[yp] <= 255; /* post-indexed: up to 255 */
		char ry[CG_OPN];
		cg_rq_out(b, BK_LA[a], ro->shift, "r0", "r1", "r2", "r3", cg_opn(ry, Y), yo, post ? k->adv[yp] : 0);
		if (e == 1 && !post && k->adv[yp])
			sb_fmt(b, "add $%d, $%d, #%lld\n\t", Y, Y, (long long)k->adv[yp]);
	}
}

/* The block's asm: text and constraints (k matched, holders chosen) */
static LLVMValueRef bk_asm(CgCtx *c, BkBlock *k, LLVMTypeRef *fty)
{
	SmLoop *m = &k->m;
	const int A = m->n_acc;
	StrBuf b = {0};
	int64_t W = 0;
	if (k->ldm && bk_ldm_ok(k, &W)) {
		bk_ldm_text(&b, k, W);
		if (cg_asm_text(c, &b) < 0)
			return NULL;
		/* outputs: the pointers (tied); the data registers clobbered */
		char cons[256];
		size_t cn = 0;
		for (int e = 0; e < k->n_ptr; e++)
			cn += (size_t)snprintf(cons + cn, sizeof cons - cn, "%s=r", e ? "," : "");
		for (int e = 0; e < k->n_ptr; e++)
			cn += (size_t)snprintf(cons + cn, sizeof cons - cn, ",%d", e);
		cn += (size_t)snprintf(cons + cn, sizeof cons - cn,
		                       ",~{r0},~{r1},~{r2},~{r3},~{r4},~{r5},~{r6},~{r8},~{r9},~{r10},~{memory}");
		LLVMTypeRef ptr = LLVMPointerTypeInContext(c->ctx, 0), outs[BK_PTRS], ins[BK_PTRS];
		for (int e = 0; e < k->n_ptr; e++)
			outs[e] = ins[e] = ptr;
		*fty = LLVMFunctionType(LLVMStructTypeInContext(c->ctx, outs, (unsigned)k->n_ptr, 0), ins, (unsigned)k->n_ptr, 0);
		LLVMValueRef f = LLVMGetInlineAsm(*fty, b.s, b.n, cons, cn, 1, 0, LLVMInlineAsmDialectATT, 0);
		free(b.s);
		return f;
	}
	/* the initial values: the holders' (and the others loading their own), two adjacent ones by one ldrd */
	int done[SM_MAX_ACC] = {0}, live[SM_MAX_ACC] = {0}, pos = 0;
	for (int a = 0; a < A; a++) {
		if (k->hold[a] >= 0 || done[a])
			continue;
		int x = k->init_ld[a];
		int64_t off = 4 * bk_rel(k, x, 0, 0);
		int pair = -1;
		for (int e = 0; e < A && pair < 0; e++)
			if (e != a && k->hold[e] < 0 && !done[e] && k->acc[k->init_ld[e]].ptr == k->acc[x].ptr &&
			    4 * bk_rel(k, k->init_ld[e], 0, 0) == off + 4 && bk_ldrd_ok(off))
				pair = e;
		if (pair >= 0) {
			sb_fmt(&b, "ldrd $%d, $%d, [$%d, #%lld]\n\t", a, pair, BK_P(k, k->acc[x].ptr), (long long)off);
			done[pair] = 1;
		} else {
			sb_fmt(&b, "ldr $%d, [$%d, #%lld]\n\t", a, BK_P(k, k->acc[x].ptr), (long long)off);
		}
		done[a] = 1;
	}
	int64_t moved[BK_PTRS] = {0}; /* bytes the moving pointers moved */
	for (int64_t o = 0; o < k->otrip; o++) {
		for (int64_t r = 0; r < k->itrip; r++)
			bk_step(&b, k, k->olo + o, k->ilo + r, live, NULL, &pos);
		for (int pc = 0; pc < k->n_ptr && o + 1 < k->otrip; pc++)
			if (k->moving[pc]) {
				int64_t d = 4 * laff_coef(&k->acc[k->ptr_rep[pc]].aff, k->ov);
				if (d)
					sb_fmt(&b, "%s $%d, $%d, #%lld\n\t", d > 0 ? "add" : "sub", BK_P(k, pc), BK_P(k, pc),
					       (long long)(d > 0 ? d : -d));
				moved[pc] += d;
			}
	}
	/* the requantization, a channel at a time: q, s, c in D0..D2, D3 the
	 * result; the output pointer advancing (a loop's, bk_loop) through the
	 * last store when that one is at offset 0 */
	const int64_t qrel = bk_rel(k, k->rq_x, 0, 0) - k->rq.qmin, yrel = bk_rel(k, k->y_x, 0, 0) - k->rq.ymin;
	const int qp = BK_P(k, k->acc[k->rq_x].ptr), ypi = k->acc[k->y_x].ptr, yp = BK_P(k, ypi);
	int post = -1, chord[2] = {0, 1};
	if (k->adv[ypi] && k->adv[ypi] <= 255) /* the output at offset 0, its channel last (post-indexed: up to 255) */
		for (int j = 0; j < k->rq.n; j++)
			if (yrel + k->rq.o[j].yc == 0)
				post = j;
	if (post >= 0 && k->rq.nchan == 2 && k->rq.o[post].chan == 0)
		chord[0] = 1, chord[1] = 0;
	for (int ci = 0; ci < k->rq.nchan; ci++) {
		const int ch = chord[ci];
		int64_t off = 4 * (qrel + k->rq.chan_c[ch]);
		if (bk_ldrd_ok(off)) {
			sb_fmt(&b, "ldrd $%d, $%d, [$%d, #%lld]\n\t", BK_D(k, 0), BK_D(k, 1), qp, (long long)off);
		} else {
			sb_fmt(&b, "ldr $%d, [$%d, #%lld]\n\t", BK_D(k, 0), qp, (long long)off);
			sb_fmt(&b, "ldr $%d, [$%d, #%lld]\n\t", BK_D(k, 1), qp, (long long)(off + 4));
		}
		sb_fmt(&b, "ldr $%d, [$%d, #%lld]\n\t", BK_D(k, 2), qp, (long long)(off + 8));
		for (int pass = 0; pass < 2; pass++)
			for (int j = 0; j < k->rq.n; j++) {
				const CgRqOut *ro = &k->rq.o[j];
				if (ro->chan != ch || (j == post) != pass)
					continue;
				int a = -1;
				for (int e = 0; e < A; e++)
					if (m->acc[e] == ro->acc)
						a = e;
				char rx[CG_OPN], rq[CG_OPN], rs[CG_OPN], rc[CG_OPN], rt[CG_OPN], ry[CG_OPN];
				cg_rq_out(&b, cg_opn(rx, a), ro->shift, cg_opn(rq, BK_D(k, 0)), cg_opn(rs, BK_D(k, 1)),
				          cg_opn(rc, BK_D(k, 2)), cg_opn(rt, BK_D(k, 3)), cg_opn(ry, yp), yrel + ro->yc,
				          j == post ? k->adv[ypi] : 0);
			}
	}
	for (int pc = 0; pc < k->n_ptr; pc++) {
		int64_t d = k->adv[pc] - moved[pc];
		if (k->adv[pc] && (pc != ypi || post < 0) && d)
			sb_fmt(&b, "%s $%d, $%d, #%lld\n\t", d > 0 ? "add" : "sub", BK_P(k, pc), BK_P(k, pc),
			       (long long)(d > 0 ? d : -d));
	}
	if (cg_asm_text(c, &b) < 0)
		return NULL;
	/* outputs: the accumulators and data registers (early clobber), the
	 * advancing pointers (tied); inputs: those, then the other pointers */
	char cons[256];
	size_t cn = 0;
	const int nout = A + 6 + k->nadv;
	for (int e = 0; e < A + 6; e++)
		cn += (size_t)snprintf(cons + cn, sizeof cons - cn, "%s=&r", e ? "," : "");
	for (int e = 0; e < k->nadv; e++)
		cn += (size_t)snprintf(cons + cn, sizeof cons - cn, ",=r");
	for (int e = 0; e < k->nadv; e++)
		cn += (size_t)snprintf(cons + cn, sizeof cons - cn, ",%d", A + 6 + e);
	for (int e = 0; e < k->n_ptr - k->nadv; e++)
		cn += (size_t)snprintf(cons + cn, sizeof cons - cn, ",r");
	cn += (size_t)snprintf(cons + cn, sizeof cons - cn, ",~{memory}");
	LLVMTypeRef i32 = LLVMInt32TypeInContext(c->ctx), ptr = LLVMPointerTypeInContext(c->ctx, 0);
	LLVMTypeRef outs[SM_MAX_ACC + 6 + BK_PTRS], ins[BK_PTRS];
	for (int e = 0; e < nout; e++)
		outs[e] = e < A + 6 ? i32 : ptr;
	for (int e = 0; e < k->n_ptr; e++)
		ins[e] = ptr;
	*fty = LLVMFunctionType(LLVMStructTypeInContext(c->ctx, outs, (unsigned)nout, 0), ins, (unsigned)k->n_ptr, 0);
	LLVMValueRef f = LLVMGetInlineAsm(*fty, b.s, b.n, cons, cn, 1, 0, LLVMInlineAsmDialectATT, 0);
	free(b.s);
	return f;
}

/* Match at l->v[i...] (lv: the loop variable of a loop whose body this is,
 * whose pointers the asm advances; −1: none), choose the holders, number
 * the operands. 1 if taken. */
static int bk_prepare(const CgCtx *c, const LStmtList *l, int i, int lv, BkBlock *k, int *taken)
{
	if (!bk_match(c, l, i, lv, k, taken))
		return 0;
	SmLoop *m = &k->m;
	const int A = m->n_acc;
	/* shared initial values: a group of equal lets is loaded once, into the
	 * register of the member whose first smlad comes last (a dry run) */
	int live[SM_MAX_ACC] = {0}, order[SM_MAX_ACC] = {0}, pos = 0;
	for (int a = 0; a < A; a++)
		k->hold[a] = -1;
	StrBuf dry = {0};
	bk_step(&dry, k, k->olo, k->ilo, live, order, &pos);
	free(dry.s);
	for (int a = 0; a < A; a++) {
		int h = a;
		for (int e = 0; e < A; e++)
			if (lx_equal(k->init_val[a], k->init_val[e]) && order[e] > order[h])
				h = e;
		k->hold[a] = h == a ? -1 : h;
	}
	return 1;
}

/* each pointer at the nest's start (the nest's variables' slots set to their starts) */
static int bk_ptrs(CgCtx *c, BkBlock *k, LLVMValueRef *args)
{
	LLVMTypeRef i32 = LLVMInt32TypeInContext(c->ctx);
	for (int j = 0; j < k->n_il; j++)
		if (cg_stmt(c, k->il[j]) < 0)
			return -1;
	if (k->outer)
		LLVMBuildStore(c->b, LLVMConstInt(i32, (unsigned long long)k->olo, 1), cg_slot(c, k->ov));
	LLVMBuildStore(c->b, LLVMConstInt(i32, (unsigned long long)k->ilo, 1), cg_slot(c, k->iv));
	/* advancing ones first (the asm's inputs' order) */
	int n = 0;
	for (int pass = 0; pass < 2; pass++)
		for (int pc = 0; pc < k->n_ptr; pc++) {
			if ((k->adv[pc] != 0 || k->ldm) == (pass != 0))
				continue;
			const BkAccess *x = &k->acc[k->ptr_rep[pc]];
			LLVMValueRef idx = cg_expr(c, x->idx, 1);
			if (!idx)
				return -1;
			args[n++] = cg_addr(c, x->buf, idx);
		}
	return 0;
}

/* A block at l->v[i...] (lv as bk_prepare), allocated: *k, or NULL with
 * 0 (none) or -1 (error) in *rc */
static BkBlock *bk_new(CgCtx *c, const LStmtList *l, int i, int lv, int *taken, int *rc)
{
	*rc = 0;
	if (!c->dsp || c->o->opt == CG_O0 || i >= l->n || l->v[i]->kind != LS_LET || getenv("NNL_NO_BLOCK_ASM"))
		return NULL;
	BkBlock *k = malloc(sizeof *k);
	if (!k) {
		cg_fail(c, "out of memory");
		*rc = -1;
		return NULL;
	}
	if (!bk_prepare(c, l, i, lv, k, taken)) {
		free(k);
		return NULL;
	}
	return k;
}

int cg_smlad_block(CgCtx *c, const LStmtList *l, int i)
{
	int taken = 0, rc;
	BkBlock *k = bk_new(c, l, i, -1, &taken, &rc);
	if (!k)
		return rc;
	LLVMTypeRef fty;
	LLVMValueRef f = bk_asm(c, k, &fty), args[BK_PTRS];
	if (!f || bk_ptrs(c, k, args) < 0) {
		free(k);
		return -1;
	}
	LLVMBuildCall2(c->b, fty, f, args, (unsigned)k->n_ptr, "");
	c->block_asm = 1;
	free(k);
	return taken;
}

/* A loop whose body is one block: the asm advances the pointers that move
 * with the loop variable, the loop counts down (no index arithmetic, no
 * register for the bases). lo is in the variable's slot. */
int cg_smlad_block_loop(CgCtx *c, const LStmt *s, LLVMValueRef lo, LLVMValueRef hi)
{
	if (s->step != 1)
		return 0;
	int taken = 0, rc;
	BkBlock *k = bk_new(c, &s->body, 0, s->var, &taken, &rc);
	if (!k)
		return rc;
	if (taken != s->body.n || !k->nadv) {
		free(k);
		return 0;
	}
	int64_t W;
	if (bk_ldm_ok(k, &W)) { /* every pointer tied: outputs 0.. in bk_ptrs' order */
		k->ldm = 1;
		k->nadv = k->n_ptr;
		for (int pc = 0; pc < k->n_ptr; pc++)
			k->pop[pc] = pc;
	}
	const int out0 = k->ldm ? 0 : k->m.n_acc + 6;
	LLVMTypeRef fty, i32 = LLVMInt32TypeInContext(c->ctx);
	LLVMValueRef f = bk_asm(c, k, &fty), args[BK_PTRS];
	if (!f || bk_ptrs(c, k, args) < 0) {
		free(k);
		return -1;
	}
	LLVMValueRef zero = LLVMConstInt(i32, 0, 0), one = LLVMConstInt(i32, 1, 0);
	LLVMValueRef n = LLVMBuildSub(c->b, hi, lo, "");
	LLVMBasicBlockRef pre = LLVMGetInsertBlock(c->b);
	LLVMBasicBlockRef loop = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "block");
	LLVMBasicBlockRef exit = LLVMAppendBasicBlockInContext(c->ctx, c->fn, "block.exit");
	LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntSGT, n, zero, ""), loop, exit);
	LLVMPositionBuilderAtEnd(c->b, loop);
	LLVMValueRef cnt = LLVMBuildPhi(c->b, i32, ""), phi[BK_PTRS], cur[BK_PTRS];
	for (int e = 0; e < k->n_ptr; e++)
		cur[e] = e < k->nadv ? (phi[e] = LLVMBuildPhi(c->b, LLVMTypeOf(args[e]), "")) : args[e];
	LLVMValueRef r = LLVMBuildCall2(c->b, fty, f, cur, (unsigned)k->n_ptr, ""), pnext[BK_PTRS];
	for (int e = 0; e < k->nadv; e++)
		pnext[e] = LLVMBuildExtractValue(c->b, r, (unsigned)(out0 + e), "");
	LLVMValueRef next = LLVMBuildSub(c->b, cnt, one, "");
	LLVMValueRef latch = LLVMBuildCondBr(c->b, LLVMBuildICmp(c->b, LLVMIntNE, next, zero, ""), loop, exit);
	cg_loop_nounroll(c, latch);
	LLVMValueRef cv[2] = {n, next};
	LLVMBasicBlockRef cb[2] = {pre, loop};
	LLVMAddIncoming(cnt, cv, cb, 2);
	for (int e = 0; e < k->nadv; e++) {
		LLVMValueRef pv[2] = {args[e], pnext[e]};
		LLVMAddIncoming(phi[e], pv, cb, 2);
	}
	LLVMPositionBuilderAtEnd(c->b, exit);
	free(k);
	return 1;
}
