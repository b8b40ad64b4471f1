/* estimate.c — nnllc --estimate (see estimate.h, docs/estimation.md).
 *
 * cg_compile_to_memory with est_counts set gives the verbose assembly of
 * PREFIX_run and the execution count of every IR block. Here the assembly
 * is cut into machine basic blocks (a .LBB label or a "%bb.N:" comment),
 * each names its IR block ("%nnl.bN"); every instruction line is classified
 * and counted × its block's executions. Machine blocks without an IR name
 * (critical-edge splits) take the smaller count of their layout neighbours.
 * Library calls add the profile's C-library cost (per call, per byte for
 * memcpy/memset, whose bytes the control-flow run summed). Cycles: per-class
 * issue costs + taken-branch penalty + flash wait states not hidden by the
 * prefetcher/cache; with mca, llvm-mca-19's scheduling model per hot block.
 */
#include "estimate.h"
#include "report.h"

#include <llvm-c/Core.h>
#include <llvm-c/Object.h>

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const class_names[EC_COUNT] = {"alu", "load_store", "mul", "mac_simd", "div", "branch",
                                                  "fpu", "fdiv_sqrt", "call"};

const char *est_class_name(EstClass k) { return k < EC_COUNT ? class_names[k] : "?"; }

typedef enum Arch { A_ARM, A_RISCV, A_X86, A_AARCH64 } Arch;

static Arch arch_of(const char *march)
{
	if (!strncmp(march, "thumb", 5))
		return A_ARM;
	if (!strncmp(march, "riscv", 5))
		return A_RISCV;
	if (!strcmp(march, "aarch64"))
		return A_AARCH64;
	return A_X86;
}

static int pre(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

static int is_any(const char *m, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(m, *list))
			return 1;
	return 0;
}

/* Class of one instruction (mnemonic m, operands ops). */
static EstClass classify(Arch a, const char *m, const char *ops)
{
	switch (a) {
	case A_ARM: {
		static const char *const br[] = {"b", "bx", "blx", "cbz", "cbnz", "b.w", "b.n", "tbb", "tbh", NULL};
		if (!strcmp(m, "bl") || !strcmp(m, "blx"))
			return EC_CALL;
		if (is_any(m, br) || (m[0] == 'b' && strlen(m) <= 4 && strcmp(m, "bic") && strcmp(m, "bfi") &&
		                      strcmp(m, "bfc") && strcmp(m, "bics")))
			return EC_BRANCH;
		if ((pre(m, "pop") || pre(m, "ldm")) && strstr(ops, "pc"))
			return EC_BRANCH;
		if (pre(m, "vdiv") || pre(m, "vsqrt"))
			return EC_FDIV;
		if (pre(m, "vmla") || pre(m, "vmls") || pre(m, "vfma") || pre(m, "vfms") || pre(m, "vnmla") ||
		    pre(m, "vfnm"))
			return EC_MAC;
		if (pre(m, "vldr") || pre(m, "vstr") || pre(m, "vldm") || pre(m, "vstm") || pre(m, "vpush") ||
		    pre(m, "vpop"))
			return EC_LS;
		if (m[0] == 'v')
			return EC_FPU;
		if (pre(m, "ldr") || pre(m, "str") || pre(m, "ldm") || pre(m, "stm") || pre(m, "push") || pre(m, "pop") ||
		    pre(m, "ldrex") || pre(m, "strex"))
			return EC_LS;
		if (pre(m, "sdiv") || pre(m, "udiv"))
			return EC_DIV;
		if (pre(m, "mla") || pre(m, "mls") || pre(m, "smla") || pre(m, "umla") || pre(m, "smlal") ||
		    pre(m, "smmla") || pre(m, "smuad") || pre(m, "smlsd") || pre(m, "sadd16") || pre(m, "sadd8") ||
		    pre(m, "ssub16") || pre(m, "qadd") || pre(m, "qsub") || pre(m, "ssat") || pre(m, "usat") ||
		    pre(m, "sxtab") || pre(m, "uxtab") || pre(m, "pkh") || pre(m, "sel"))
			return EC_MAC;
		if (pre(m, "mul") || pre(m, "smul") || pre(m, "umul") || pre(m, "smull") || pre(m, "umull") ||
		    pre(m, "smmul"))
			return EC_MUL;
		return EC_ALU;
	}
	case A_RISCV: {
		if (!strcmp(m, "call") || !strcmp(m, "tail") || !strcmp(m, "jal") || !strcmp(m, "jalr"))
			return !strcmp(m, "jalr") && strstr(ops, "zero") ? EC_BRANCH : EC_CALL;
		if (m[0] == 'b' || !strcmp(m, "j") || !strcmp(m, "jr") || !strcmp(m, "ret") || pre(m, "c.b") ||
		    !strcmp(m, "c.j") || !strcmp(m, "c.jr"))
			return EC_BRANCH;
		if (pre(m, "fdiv") || pre(m, "fsqrt"))
			return EC_FDIV;
		if (pre(m, "fmadd") || pre(m, "fmsub") || pre(m, "fnmadd") || pre(m, "fnmsub"))
			return EC_MAC;
		if (pre(m, "fl") || pre(m, "fs") || pre(m, "c.fl") || pre(m, "c.fs")) {
			if (pre(m, "flw") || pre(m, "fld") || pre(m, "fsw") || pre(m, "fsd") || pre(m, "c.f"))
				return EC_LS;
		}
		if (m[0] == 'f')
			return EC_FPU;
		if (!strcmp(m, "lw") || !strcmp(m, "lh") || !strcmp(m, "lhu") || !strcmp(m, "lb") || !strcmp(m, "lbu") ||
		    !strcmp(m, "ld") || !strcmp(m, "lwu") || !strcmp(m, "sw") || !strcmp(m, "sh") || !strcmp(m, "sb") ||
		    !strcmp(m, "sd") || pre(m, "c.lw") || pre(m, "c.sw") || pre(m, "c.ld") || pre(m, "c.sd"))
			return EC_LS;
		if (pre(m, "div") || pre(m, "rem"))
			return EC_DIV;
		if (pre(m, "mul"))
			return EC_MUL;
		return EC_ALU;
	}
	case A_AARCH64: {
		if (!strcmp(m, "bl") || !strcmp(m, "blr"))
			return EC_CALL;
		if (m[0] == 'b' && (m[1] == 0 || m[1] == '.' || !strcmp(m, "br")) )
			return EC_BRANCH;
		if (pre(m, "cb") || pre(m, "tb") || !strcmp(m, "ret"))
			return EC_BRANCH;
		if (pre(m, "ld") || pre(m, "st"))
			return EC_LS;
		if (pre(m, "fdiv") || pre(m, "fsqrt") || pre(m, "sdiv") || pre(m, "udiv"))
			return pre(m, "f") ? EC_FDIV : EC_DIV;
		if (pre(m, "fmla") || pre(m, "fmadd") || pre(m, "fmls") || pre(m, "fmsub") || pre(m, "mla") ||
		    pre(m, "madd") || pre(m, "msub"))
			return EC_MAC;
		if (pre(m, "mul") || pre(m, "smull") || pre(m, "umull"))
			return EC_MUL;
		if (m[0] == 'f' || strstr(ops, "v0") || strchr(ops, '.') || (ops[0] == 'q') || (ops[0] == 's' && isdigit((unsigned char)ops[1])))
			return EC_FPU;
		return EC_ALU;
	}
	case A_X86: {
		if (!strcmp(m, "callq") || !strcmp(m, "call"))
			return EC_CALL;
		if (m[0] == 'j' || pre(m, "ret"))
			return EC_BRANCH;
		if (strstr(m, "div") || strstr(m, "sqrt"))
			return (strstr(m, "ss") || strstr(m, "ps") || strstr(m, "sd") || strstr(m, "pd")) ? EC_FDIV : EC_DIV;
		if (strstr(m, "fmadd") || strstr(m, "fmsub") || pre(m, "pmadd") || pre(m, "vpmadd") || pre(m, "vpdp"))
			return EC_MAC;
		if (strchr(ops, '(') && !pre(m, "lea"))
			return EC_LS;
		if (pre(m, "imul") || pre(m, "mul"))
			return EC_MUL;
		if (m[0] == 'v' || m[0] == 'p' || strstr(m, "ss") || strstr(m, "ps") || strstr(m, "sd") ||
		    strstr(m, "pd") || pre(m, "cvt") || pre(m, "ucomi") || pre(m, "comi"))
			return EC_FPU;
		return EC_ALU;
	}
	}
	return EC_ALU;
}

typedef struct MInst {
	char m[24];
	char ops[96];
	EstClass k;
} MInst;

typedef struct MBlock {
	int ir;            /* IR block index, -1 unknown */
	int derived;       /* named after IR block ir by a code generation pass: 1 "nnl.bN.preheader",
	                      2 "nnl.bN.backedge", 3 another suffix; 0 the IR block itself */
	char label[32];    /* .LBB0_3 or "" */
	int first, n;      /* instructions [first, first+n) */
	double count;
	int mbb_no;
} MBlock;

typedef struct Asm {
	MInst *in;
	int nin, capin;
	MBlock *bl;
	int nbl, capbl;
	char *text;        /* the function's lines for llvm-mca */
} Asm;

static int asm_push_block(Asm *a, int ir, int derived, const char *label)
{
	if (a->nbl == a->capbl) {
		int nc = a->capbl ? a->capbl * 2 : 64;
		MBlock *nb = realloc(a->bl, (size_t)nc * sizeof *nb);
		if (!nb)
			return -1;
		a->bl = nb;
		a->capbl = nc;
	}
	MBlock *b = &a->bl[a->nbl++];
	memset(b, 0, sizeof *b);
	b->ir = ir;
	b->derived = derived;
	snprintf(b->label, sizeof b->label, "%s", label);
	b->first = a->nin;
	return 0;
}

/* Parse the assembly of fn (from "fn:" to the next .Lfunc_end). */
static int parse_asm(const char *as, const char *fn, Arch arch, Asm *a)
{
	char start[320];
	snprintf(start, sizeof start, "\n%.300s:", fn);
	const char *p = strstr(as, start);
	if (!p)
		return -1;
	p = strchr(p + 1, '\n');
	if (asm_push_block(a, 0, 0, "") < 0)
		return -1;
	const int fn_blk = a->nbl - 1, fn_in = a->nin; /* the function's entry block */
	a->bl[fn_blk].ir = fn_blk == 0 ? 0 : -1;
	while (p && *p) {
		p++;
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char line[512];
		snprintf(line, sizeof line, "%.*s", (int)(len < 511 ? len : 511), p);
		p = e;
		if (pre(line, ".Lfunc_end"))
			break;
		/* "%nnl.bN": IR block N; "%nnl.bN.preheader" and the like: a block that a code generation pass
		 * (LoopSimplify before loop strength reduction) added after the counts were taken */
		const char *nb = strstr(line, "%nnl.b");
		int ir = -1, derived = 0;
		if (nb && isdigit((unsigned char)nb[6])) {
			char *end;
			ir = (int)strtol(nb + 6, &end, 10);
			if (*end && !isspace((unsigned char)*end))
				derived = pre(end, ".preheader") ? 1 : pre(end, ".backedge") ? 2 : 3;
		}
		if (pre(line, ".LBB") || strstr(line, "%bb.")) {
			char lab[32] = "";
			if (pre(line, ".LBB")) {
				size_t k = strcspn(line, ":");
				snprintf(lab, sizeof lab, "%.*s", (int)(k < 31 ? k : 31), line);
			}
			/* an entry-block comment right after the label opens no new block */
			if (a->nbl == fn_blk + 1 && a->nin == fn_in && !lab[0]) {
				a->bl[fn_blk].ir = ir >= 0 ? ir : fn_blk == 0 ? 0 : -1;
				a->bl[fn_blk].derived = ir >= 0 ? derived : 0;
				continue;
			}
			if (asm_push_block(a, ir, derived, lab) < 0)
				return -1;
			continue;
		}
		char *t = line;
		while (*t == ' ' || *t == '\t')
			t++;
		if (!*t || *t == '.' || *t == '@' || *t == '#' || *t == ';' || (t[0] == '/' && t[1] == '/'))
			continue;
		/* other labels (.Ltmp, .Lpcrel_hi) */
		size_t w = strcspn(t, " \t");
		if (t[w ? w - 1 : 0] == ':')
			continue;
		/* strip comments */
		char *c = NULL;
		if (arch == A_ARM)
			c = strchr(t, '@');
		else if (arch == A_AARCH64)
			c = strstr(t, "//");
		else
			c = strchr(t, '#');
		if (c)
			*c = 0;
		if (a->nin == a->capin) {
			int nc = a->capin ? a->capin * 2 : 1024;
			MInst *ni = realloc(a->in, (size_t)nc * sizeof *ni);
			if (!ni)
				return -1;
			a->in = ni;
			a->capin = nc;
		}
		MInst *mi = &a->in[a->nin++];
		snprintf(mi->m, sizeof mi->m, "%.*s", (int)(w < 23 ? w : 23), t);
		const char *o = t + w;
		while (*o == ' ' || *o == '\t')
			o++;
		snprintf(mi->ops, sizeof mi->ops, "%s", o);
		/* condition suffixes of ARM branches (beq, bne.w, ...) keep class via classify */
		mi->k = classify(arch, mi->m, mi->ops);
		a->bl[a->nbl - 1].n++;
	}
	return 0;
}

static int label_block(const Asm *a, const char *label)
{
	for (int i = 0; i < a->nbl; i++)
		if (a->bl[i].label[0] && !strcmp(a->bl[i].label, label))
			return i;
	return -1;
}

/* The branch target label in an instruction's operands (last token starting with .LBB). */
static const char *branch_target(const MInst *mi, char *buf, size_t n)
{
	const char *l = strstr(mi->ops, ".LBB");
	if (!l)
		return NULL;
	size_t k = strcspn(l, " \t,");
	snprintf(buf, n, "%.*s", (int)k, l);
	return buf;
}

/* Callee of a call instruction. */
static void callee(const MInst *mi, char *buf, size_t n)
{
	const char *o = mi->ops;
	const char *comma = strrchr(o, ',');
	if (comma)
		o = comma + 1;
	while (*o == ' ')
		o++;
	size_t k = strcspn(o, " \t@(");
	snprintf(buf, n, "%.*s", (int)k, o);
}

static const char *canon_libcall(const char *f)
{
	if (pre(f, "__aeabi_memcpy") || pre(f, "__aeabi_memmove") || !strcmp(f, "memmove"))
		return "memcpy";
	if (pre(f, "__aeabi_memclr") || pre(f, "__aeabi_memset"))
		return "memset";
	return f;
}

/* Is f one of the layers' functions, PREFIX_run.L<k>? */
static int is_layer_fn(const char *f, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(f, prefix, n) != 0 || strncmp(f + n, "_run.L", 6) != 0 || !isdigit((unsigned char)f[n + 6]))
		return 0;
	for (f += n + 6; isdigit((unsigned char)*f); f++)
		;
	return *f == 0;
}

/* The deepest stack: PREFIX_run's frame (its largest CFA offset) plus the
 * largest of the functions it calls (the layers'), from the CFI. */
static long stack_from_cfi(const char *as, const char *prefix)
{
	long main_f = -1, other = 0;
	char start[320];
	snprintf(start, sizeof start, "\n%s_run:", prefix);
	const char *m0 = strstr(as, start), *m1 = m0 ? strstr(m0, ".Lfunc_end") : NULL;
	for (const char *q = as; (q = strstr(q, ".cfi_def_cfa_offset")) != NULL; q++) {
		long v = strtol(q + 19, NULL, 10);
		if (m0 && q > m0 && (!m1 || q < m1)) {
			if (v > main_f)
				main_f = v;
		} else if (v > other)
			other = v;
	}
	if (!m0) /* no PREFIX_run (not expected): the largest frame */
		return other > 0 ? other : -1;
	return main_f < 0 && other == 0 ? -1 : (main_f > 0 ? main_f : 0) + other;
}

/* llvm-mca-19 cycles per iteration of one block's instructions; < 0 on failure. */
static double mca_block(const char *triple, const char *cpu, const Asm *a, const MBlock *b, Arch arch)
{
	char path[] = "/tmp/nnl-mca-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		unlink(path);
		return -1;
	}
	if (arch == A_ARM)
		fprintf(f, "\t.syntax unified\n\t.thumb\n");
	for (int i = b->first; i < b->first + b->n; i++) {
		const MInst *mi = &a->in[i];
		if (mi->k == EC_BRANCH || mi->k == EC_CALL)
			continue; /* branches: the per-class model adds them */
		if (strstr(mi->ops, ".L") || strstr(mi->ops, "%pcrel") || strstr(mi->ops, "%hi") || strstr(mi->ops, "%lo"))
			fprintf(f, "\tnop\n"); /* a symbolic operand: stands in as one issue slot */
		else
			fprintf(f, "\t%s\t%s\n", mi->m, mi->ops);
	}
	fclose(f);
	char cmd[512];
	snprintf(cmd, sizeof cmd, "llvm-mca-19 -mtriple=%s -mcpu=%s -iterations=100 %s 2>/dev/null", triple, cpu, path);
	FILE *pp = popen(cmd, "r");
	double cyc = -1;
	if (pp) {
		char line[256];
		while (fgets(line, sizeof line, pp))
			if (pre(line, "Total Cycles:"))
				cyc = atof(line + 13) / 100.0;
		if (pclose(pp) != 0)
			cyc = -1;
	}
	unlink(path);
	return cyc;
}

/* The register an instruction writes (its first operand), "" when none. */
static void dest_reg(const MInst *mi, char *buf, size_t n)
{
	size_t k = strcspn(mi->ops, ", \t");
	snprintf(buf, n, "%.*s", (int)k, mi->ops);
}

/* RISC-V: is instruction j of block b "feq.s/feq.d rd, fX, fX" for rd — a NaN test (x == x is false only
 * for a NaN) — with nothing writing rd between it and instruction end? */
static int riscv_nan_test(const Asm *a, const MBlock *b, int end, const char *rd)
{
	for (int j = end - 1; j >= b->first; j--) {
		const MInst *mi = &a->in[j];
		char d[24];
		dest_reg(mi, d, sizeof d);
		if (strcmp(d, rd) || mi->k == EC_BRANCH)
			continue;
		if (strcmp(mi->m, "feq.s") && strcmp(mi->m, "feq.d") && strcmp(mi->m, "feq.h"))
			return 0;
		char x[24], y[24];
		if (sscanf(mi->ops, "%*[^,], %23[^,], %23s", x, y) != 2)
			return 0;
		return !strcmp(x, y);
	}
	return 0;
}

/* Arms of branch-lowered NaN selects. RISC-V F has no floating-point conditional move, so
 * llvm.minimum/maximum (NaN-propagating clamps) become branches on "feq.s r, x, x" that split one IR
 * block into several machine blocks; each split block used to take the IR block's whole count. A NaN
 * test is taken only on a NaN, which the estimate assumes does not occur (finite activations): within
 * the machine blocks of one IR block, those reachable only over NaN edges from where the IR block is
 * entered run 0 times. Returns how many blocks that zeroed. */
static int zero_nan_arms(Asm *a, Arch arch)
{
	if (arch != A_RISCV || a->nbl == 0)
		return 0;
	int nb = a->nbl, zeroed = 0;
	/* edges: from, to, nan-only */
	int cap = 4 * nb + 16, ne = 0;
	int *ef = malloc((size_t)cap * sizeof *ef), *et = malloc((size_t)cap * sizeof *et);
	unsigned char *en = malloc((size_t)cap), *reach = calloc((size_t)nb, 1), *entered = calloc((size_t)nb, 1);
	if (!ef || !et || !en || !reach || !entered)
		goto out;
	for (int i = 0; i < nb; i++) {
		const MBlock *b = &a->bl[i];
		int nan_path = 0, falls = 1;
		for (int j = b->first; j < b->first + b->n; j++) {
			const MInst *mi = &a->in[j];
			if (mi->k != EC_BRANCH)
				continue;
			int uncond = !strcmp(mi->m, "j") || !strcmp(mi->m, "c.j") || !strcmp(mi->m, "jr") ||
			             !strcmp(mi->m, "c.jr") || !strcmp(mi->m, "ret") || !strcmp(mi->m, "jalr");
			char lb[40];
			const char *tl = branch_target(mi, lb, sizeof lb);
			int tb = tl ? label_block(a, tl) : -1;
			int nan_taken = 0, nan_fall = 0;
			if (!uncond && (!strcmp(mi->m, "beqz") || !strcmp(mi->m, "bnez"))) {
				char rd[24];
				snprintf(rd, sizeof rd, "%.*s", (int)strcspn(mi->ops, ", \t"), mi->ops);
				if (riscv_nan_test(a, b, j, rd))
					*(mi->m[1] == 'e' ? &nan_taken : &nan_fall) = 1;
			}
			if (tb >= 0) {
				if (ne == cap)
					goto out;
				ef[ne] = i, et[ne] = tb, en[ne++] = (unsigned char)(nan_path || nan_taken);
			}
			nan_path |= nan_fall;
			if (uncond) {
				falls = 0;
				break;
			}
		}
		if (falls && i + 1 < nb) {
			if (ne == cap)
				goto out;
			ef[ne] = i, et[ne] = i + 1, en[ne++] = (unsigned char)nan_path;
		}
	}
	/* where each IR block is entered: its first machine block in layout and any block reached from a
	 * machine block of another IR block */
	for (int i = 0; i < nb; i++)
		if (a->bl[i].ir >= 0 && !a->bl[i].derived && (i == 0 || a->bl[i - 1].ir != a->bl[i].ir ||
		                                               a->bl[i - 1].derived))
			entered[i] = 1;
	for (int e = 0; e < ne; e++) {
		const MBlock *f = &a->bl[ef[e]], *t = &a->bl[et[e]];
		if (f->ir != t->ir || f->derived != t->derived)
			entered[et[e]] = 1;
	}
	/* within an IR block, over edges that are not NaN-only */
	int changed = 1;
	for (int i = 0; i < nb; i++)
		reach[i] = entered[i];
	while (changed) {
		changed = 0;
		for (int e = 0; e < ne; e++) {
			const MBlock *f = &a->bl[ef[e]], *t = &a->bl[et[e]];
			if (reach[ef[e]] && !reach[et[e]] && !en[e] && f->ir == t->ir && f->derived == t->derived) {
				reach[et[e]] = 1;
				changed = 1;
			}
		}
	}
	for (int i = 0; i < nb; i++)
		if (a->bl[i].ir >= 0 && !a->bl[i].derived && !reach[i] && a->bl[i].count > 0) {
			a->bl[i].count = 0;
			zeroed++;
		}
out:
	free(ef), free(et), free(en), free(reach), free(entered);
	return zeroed;
}

static int have_mca(void) { return system("llvm-mca-19 --version >/dev/null 2>&1") == 0; }

void estimate_free(EstResult *r)
{
	free(r->layers);
	r->layers = NULL;
}

static const char *mca_triple(const char *march)
{
	if (!strcmp(march, "thumbv7em"))
		return "thumbv7em-none-eabihf";
	if (!strcmp(march, "thumbv6m"))
		return "thumbv6m-none-eabi";
	if (!strcmp(march, "thumbv8m.main"))
		return "thumbv8m.main-none-eabihf";
	if (!strcmp(march, "riscv32"))
		return "riscv32-unknown-elf";
	if (!strcmp(march, "riscv64"))
		return "riscv64-unknown-linux-gnu";
	if (!strcmp(march, "aarch64"))
		return "aarch64-unknown-linux-gnu";
	return "x86_64-unknown-linux-gnu";
}

int estimate_program(const LProgram *p, const CgOptions *o, const CoreProfile *prof, int mca, EstResult *r,
                     Diag *d)
{
	memset(r, 0, sizeof *r);
	r->mca_cycles = -1;
	const char *march = o->target->name;
	if (!prof)
		prof = profile_for_target(march, o->cpu);
	if (!prof) {
		diag_add(d, "--estimate: no profile for -march=%s", march);
		return -1;
	}
	r->prof = prof;
	r->model = p->name;
	r->target = march;
	r->cpu = o->cpu ? o->cpu : o->target->cpu ? o->target->cpu : "native";
	Arch arch = arch_of(march);

	CgEstCounts cnt;
	memset(&cnt, 0, sizeof cnt);
	CgOptions oo = *o;
	oo.print_codegen = oo.print_opt = 0;
	oo.filetype = CG_FILE_ASM;
	oo.est_counts = &cnt;
	char *as = NULL, *obj = NULL;
	size_t alen = 0, olen = 0;
	Asm a;
	memset(&a, 0, sizeof a);
	int rc = -1;
	if (cg_compile_to_memory(p, &oo, &as, &alen, d) < 0)
		goto done;
	oo.est_counts = NULL;
	oo.filetype = CG_FILE_OBJ;
	if (cg_compile_to_memory(p, &oo, &obj, &olen, d) < 0)
		goto done;
	const char *dump = getenv("NNL_ESTIMATE_DUMP"); /* debugging: the annotated assembly */
	if (dump) {
		FILE *df = fopen(dump, "w");
		if (df) {
			fputs(as, df);
			fclose(df);
		}
	}
	CgObjectSizes sz = cg_object_sizes(obj, olen);
	r->text = (long long)sz.text;
	r->rodata = (long long)sz.rodata;
	r->flash = sz.ok ? (long long)(sz.text + sz.rodata + sz.data) : -1;
	r->arena = p->arena_bytes;
	r->stack = stack_from_cfi(as, o->prefix);
	r->unknown_branches = cnt.unknown;

	char fn[300];
	snprintf(fn, sizeof fn, "%s_run", o->prefix);
	if (parse_asm(as, fn, arch, &a) < 0) {
		diag_add(d, "--estimate: could not find %s in the assembly", fn);
		goto done;
	}
	/* the layers' functions PREFIX_run.L<k> (llvm_module.c build_group), in
	 * the order they appear */
	{
		char lpre[320];
		int ln = snprintf(lpre, sizeof lpre, "\n%s_run.L", o->prefix);
		for (const char *q = strstr(as, lpre); q; q = strstr(q + 1, lpre)) {
			const char *e = q + ln;
			while (isdigit((unsigned char)*e))
				e++;
			if (*e != ':')
				continue;
			char lf[300];
			snprintf(lf, sizeof lf, "%.*s", (int)(e - q - 1), q + 1);
			if (parse_asm(as, lf, arch, &a) < 0) {
				diag_add(d, "--estimate: could not read %s in the assembly", lf);
				goto done;
			}
		}
	}
	/* layers: one per distinct label of the top-level statements, in order */
	int ns = p->body.n;
	int *stmt_layer = calloc((size_t)ns + 1, sizeof *stmt_layer);
	r->layers = calloc((size_t)ns + 2, sizeof *r->layers);
	if (!stmt_layer || !r->layers) {
		free(stmt_layer);
		diag_add(d, "out of memory");
		goto done;
	}
	snprintf(r->layers[0].label, sizeof r->layers[0].label, "(entry, checks, return)");
	r->n_layers = 1;
	for (int i = 0; i < ns; i++) {
		const char *lab = p->body.v[i]->label;
		if (!lab) {
			stmt_layer[i] = r->n_layers > 1 ? r->n_layers - 1 : 0;
			continue;
		}
		int found = -1;
		for (int j = 1; j < r->n_layers; j++)
			if (!strcmp(r->layers[j].label, lab)) {
				found = j;
				break;
			}
		if (found < 0) {
			found = r->n_layers++;
			snprintf(r->layers[found].label, sizeof r->layers[found].label, "%s", lab);
		}
		stmt_layer[i] = found;
	}
	/* block counts */
	r->n_mblocks = a.nbl;
	/* A preheader runs once per entry into its loop (arrivals at the header over edges that are not back
	 * edges), a merged backedge block once per other arrival; a block an IR block was split into by
	 * instruction selection runs as often as that block. */
	for (int i = 0; i < a.nbl; i++) {
		MBlock *b = &a.bl[i];
		if (b->ir < 0 || b->ir >= cnt.n_blocks) {
			b->ir = -1;
			b->derived = 0;
		} else if (b->derived == 1)
			b->count = cnt.entries[b->ir];
		else if (b->derived == 2)
			b->count = cnt.count[b->ir] - cnt.entries[b->ir];
		else if (b->derived == 0)
			b->count = cnt.count[b->ir];
	}
	r->nan_arms = zero_nan_arms(&a, arch);
	/* Machine blocks with no IR block (critical-edge splits) or an unknown derived one: the smaller count
	 * of their layout neighbours (a derived block at most its IR block's) */
	for (int i = 0; i < a.nbl; i++) {
		MBlock *b = &a.bl[i];
		if (b->ir >= 0 && b->derived != 3)
			continue;
		r->n_unmapped++;
		double prev = i > 0 ? a.bl[i - 1].count : 0, next = i + 1 < a.nbl ? a.bl[i + 1].count : prev;
		b->count = prev < next ? prev : next;
		if (b->ir >= 0 && b->count > cnt.count[b->ir])
			b->count = cnt.count[b->ir];
	}
	if (dump) { /* debugging: the machine blocks, their IR block and count */
		char bp[600];
		snprintf(bp, sizeof bp, "%.590s.blocks", dump);
		FILE *bf = fopen(bp, "w");
		if (bf) {
			for (int i = 0; i < a.nbl; i++)
				fprintf(bf, "%d %s %d %.0f %d %d %d\n", i, a.bl[i].label[0] ? a.bl[i].label : "-", a.bl[i].ir,
				        a.bl[i].count, a.bl[i].first, a.bl[i].n, a.bl[i].derived);
			fclose(bf);
		}
	}
	struct { char name[48]; double calls, instr; } lib[16];
	int nlib = 0;
	memset(lib, 0, sizeof lib);
	int mca_ok = mca && have_mca();
	double mca_total = 0, total_instr_all = 0;
	for (int i = 0; i < a.nbl; i++)
		total_instr_all += a.bl[i].count * a.bl[i].n;
	for (int i = 0; i < a.nbl; i++) {
		MBlock *b = &a.bl[i];
		int st = b->ir >= 0 && b->ir < cnt.n_blocks ? cnt.layer[b->ir] : -1;
		EstLayer *L = &r->layers[st >= 0 && st < ns ? stmt_layer[st] : 0];
		double cyc = 0, taken = 0, cyc_lib = 0;
		for (int j = b->first; j < b->first + b->n; j++) {
			const MInst *mi = &a.in[j];
			L->cls[mi->k] += b->count;
			L->instr += b->count;
			switch (mi->k) {
			case EC_ALU: cyc += prof->c_alu; break;
			case EC_LS: cyc += prof->c_ls; break;
			case EC_MUL: cyc += prof->c_mul; break;
			case EC_MAC: /* integer (SMLAD, MLA) or float (VMLA, VFMA): the M4 TRM has 1 and 3 cycles */
				cyc += arch == A_ARM && mi->m[0] == 'v' && prof->c_fmac > 0 ? prof->c_fmac : prof->c_mac;
				break;
			case EC_DIV: cyc += prof->c_div; break;
			case EC_FPU: cyc += prof->c_fpu; break;
			case EC_FDIV: cyc += prof->c_fdiv; break;
			case EC_CALL: cyc += prof->c_branch + prof->c_branch_taken; break;
			case EC_BRANCH: {
				cyc += prof->c_branch;
				char lb[40];
				const char *tl = branch_target(mi, lb, sizeof lb);
				int tb = tl ? label_block(&a, tl) : -1;
				int cond = arch == A_ARM ? (strcmp(mi->m, "b") && strcmp(mi->m, "b.w") && strcmp(mi->m, "b.n"))
				         : arch == A_RISCV ? mi->m[0] == 'b'
				         : arch == A_X86 ? strcmp(mi->m, "jmp") != 0
				                         : (pre(mi->m, "b.") || pre(mi->m, "cb") || pre(mi->m, "tb"));
				if (!cond || tb < 0) {
					taken += 1;
				} else if (b->count > 0) {
					double tk;
					if (tb <= i) { /* backward: every iteration but the last */
						double nxt = i + 1 < a.nbl ? a.bl[i + 1].count : 0;
						tk = a.bl[tb].count - nxt;
					} else {
						tk = 0.5 * (a.bl[tb].count < b->count ? a.bl[tb].count : b->count);
					}
					if (tk < 0)
						tk = 0;
					if (tk > b->count)
						tk = b->count;
					taken += tk / b->count;
				}
				break;
			}
			default: break;
			}
			if (mi->k == EC_CALL) {
				char f[96];
				callee(mi, f, sizeof f);
				if (is_layer_fn(f, o->prefix))
					continue; /* a layer's function: its blocks are counted themselves */
				const char *cf = canon_libcall(f);
				const LibCost *lc = libcost_find(prof->libc, cf);
				double per = lc ? lc->per_call : 50; /* unknown routine: a guess, reported */
				double bytes = 0;
				if (lc && lc->per_byte > 0 && b->ir >= 0 && !b->derived) {
					/* memcpy/memset: the bytes of this IR block's intrinsics of that kind */
					int kind = !strcmp(cf, "memset");
					double calls = 0, by = 0;
					for (int m = 0; m < cnt.n_mem; m++)
						if (cnt.mem[m].block == b->ir && cnt.mem[m].kind == kind)
							calls += cnt.mem[m].calls, by += cnt.mem[m].bytes;
					/* several calls of one kind in one IR block share the total */
					int same = 0;
					for (int q = b->first; q < b->first + b->n; q++)
						if (a.in[q].k == EC_CALL) {
							char g[96];
							callee(&a.in[q], g, sizeof g);
							same += !strcmp(canon_libcall(g), cf);
						}
					if (calls > 0 && same > 0)
						bytes = by / calls / same;
				}
				double li = b->count * (per + (lc ? lc->per_byte : 0) * bytes);
				L->libcall_instr += li;
				L->instr += li;
				/* routine CPI: mixed integer/FPU code, taken as 1.3 x the ALU cost */
				cyc_lib += (per + (lc ? lc->per_byte : 0) * bytes) * prof->c_alu * 1.3;
				if (b->count > 0) {
					int q = 0;
					while (q < nlib && strcmp(lib[q].name, cf))
						q++;
					if (q == nlib && nlib < 16)
						snprintf(lib[nlib++].name, sizeof lib[0].name, "%s%s", cf, lc ? "" : "(?)");
					if (q < 16) {
						lib[q].calls += b->count;
						lib[q].instr += li;
					}
				}
			}
		}
		cyc += cyc_lib + taken * prof->c_branch_taken;
		/* flash wait states not hidden: on taken branches and every 4th sequential fetch */
		cyc += (taken + b->n / 4.0) * prof->flash_ws * (1.0 - prof->flash_hit);
		L->cycles += cyc * b->count;
		if (mca_ok && b->count * b->n > total_instr_all * 0.002 && b->n > 0) {
			double mc = mca_block(mca_triple(march), prof->mcpu, &a, b, arch);
			double brc = 0;
			for (int j = b->first; j < b->first + b->n; j++)
				if (a.in[j].k == EC_BRANCH)
					brc += prof->c_branch;
			mca_total += (mc >= 0 ? mc + brc + cyc_lib + taken * prof->c_branch_taken : cyc) * b->count;
		} else {
			mca_total += cyc * b->count;
		}
	}
	free(stmt_layer);
	for (int q = 0; q < nlib; q++) {
		size_t k = strlen(r->libcalls);
		snprintf(r->libcalls + k, sizeof r->libcalls - k, "%s%s x %.0f (%.0f instr)", k ? ", " : "", lib[q].name,
		         lib[q].calls, lib[q].instr);
	}
	for (int i = 0; i < r->n_layers; i++) {
		EstLayer *L = &r->layers[i];
		r->total.instr += L->instr;
		r->total.cycles += L->cycles;
		r->total.libcall_instr += L->libcall_instr;
		for (int k = 0; k < EC_COUNT; k++)
			r->total.cls[k] += L->cls[k];
	}
	snprintf(r->total.label, sizeof r->total.label, "total");
	if (mca_ok)
		r->mca_cycles = mca_total;
	double cycles = r->mca_cycles > 0 ? r->mca_cycles : r->total.cycles;
	r->latency_s = cycles / (prof->clock_mhz * 1e6);
	r->energy_j = prof->ua_per_mhz > 0 ? cycles * prof->ua_per_mhz * 1e-6 * prof->volts / 1e6
	                                   : prof->watts * r->latency_s;
	rc = 0;
done:
	cg_est_counts_free(&cnt);
	free(as);
	free(obj);
	free(a.in);
	free(a.bl);
	return rc;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

void estimate_write(FILE *f, const EstResult *r, int json)
{
	const CoreProfile *pf = r->prof;
	double cycles = r->mca_cycles > 0 ? r->mca_cycles : r->total.cycles;
	long long ram = r->arena + (r->stack > 0 ? r->stack : 0);
	int fits = (!pf->flash_bytes || r->flash <= pf->flash_bytes) && (!pf->ram_bytes || ram <= pf->ram_bytes);
	if (json) {
		fprintf(f, "{\n  \"model\": "), json_str(f, r->model);
		fprintf(f, ", \"target\": "), json_str(f, r->target);
		fprintf(f, ", \"cpu\": "), json_str(f, r->cpu);
		fprintf(f, ",\n  \"profile\": {\"name\": "), json_str(f, pf->name);
		fprintf(f, ", \"core\": "), json_str(f, pf->core);
		fprintf(f, ", \"chip\": "), json_str(f, pf->chip);
		fprintf(f, ", \"clock_mhz\": %g, \"flash_ws\": %d, \"ua_per_mhz\": %g, \"volts\": %g, \"watts\": %g, "
		           "\"flash_bytes\": %lld, \"ram_bytes\": %lld},\n",
		        pf->clock_mhz, pf->flash_ws, pf->ua_per_mhz, pf->volts, pf->watts, pf->flash_bytes, pf->ram_bytes);
		fprintf(f, "  \"instructions\": %.0f, \"libcall_instructions\": %.0f, \"cycles\": %.0f, "
		           "\"cycles_class_model\": %.0f, \"cycles_llvm_mca\": %.0f,\n",
		        r->total.instr, r->total.libcall_instr, cycles, r->total.cycles, r->mca_cycles);
		fprintf(f, "  \"latency_s\": %.9g, \"energy_j\": %.9g, \"flash\": %lld, \"text\": %lld, \"rodata\": %lld, "
		           "\"arena\": %lld, \"stack\": %lld, \"ram\": %lld, \"fits\": %s,\n",
		        r->latency_s, r->energy_j, r->flash, r->text, r->rodata, r->arena, r->stack, ram,
		        fits ? "true" : "false");
		fprintf(f, "  \"machine_blocks\": %d, \"unmapped_blocks\": %d, \"nan_arm_blocks\": %d, "
		           "\"data_dependent_branches\": %.0f, \"libcalls\": ",
		        r->n_mblocks, r->n_unmapped, r->nan_arms, r->unknown_branches);
		json_str(f, r->libcalls);
		fprintf(f, ",\n  \"classes\": {");
		for (int k = 0; k < EC_COUNT; k++)
			fprintf(f, "%s\"%s\": %.0f", k ? ", " : "", class_names[k], r->total.cls[k]);
		fprintf(f, "},\n  \"layers\": [");
		for (int i = 0; i < r->n_layers; i++) {
			const EstLayer *L = &r->layers[i];
			fprintf(f, "%s\n    {\"layer\": ", i ? "," : "");
			json_str(f, L->label);
			fprintf(f, ", \"instructions\": %.0f, \"libcall_instructions\": %.0f, \"cycles\": %.0f, "
			           "\"latency_s\": %.9g}",
			        L->instr, L->libcall_instr, L->cycles, L->cycles / (pf->clock_mhz * 1e6));
		}
		fprintf(f, "\n  ]\n}\n");
		return;
	}
	fprintf(f, "nnllc estimate: %s on %s (-march=%s -mcpu=%s), %s at %g MHz, %d flash wait states\n", r->model,
	        pf->core, r->target, r->cpu, pf->chip, pf->clock_mhz, pf->flash_ws);
	fprintf(f, "%-40s %14s %14s %12s\n", "layer", "instructions", "cycles", "latency us");
	for (int i = 0; i < r->n_layers; i++) {
		const EstLayer *L = &r->layers[i];
		if (L->instr == 0 && i == 0)
			continue;
		fprintf(f, "%-40.40s %14.0f %14.0f %12.1f\n", L->label, L->instr, L->cycles,
		        L->cycles / pf->clock_mhz);
	}
	fprintf(f, "%-40s %14.0f %14.0f %12.1f\n", "total", r->total.instr, r->total.cycles,
	        r->total.cycles / pf->clock_mhz);
	fprintf(f, "classes         ");
	for (int k = 0; k < EC_COUNT; k++)
		fprintf(f, " %s %.1f%%", class_names[k], r->total.instr > 0 ? 100 * r->total.cls[k] / r->total.instr : 0);
	fprintf(f, "\nlibrary calls    %.0f instructions (%s)\n", r->total.libcall_instr,
	        r->libcalls[0] ? r->libcalls : "none");
	if (r->mca_cycles > 0)
		fprintf(f, "cycles (llvm-mca) %.0f  (class model %.0f)\n", r->mca_cycles, r->total.cycles);
	fprintf(f, "latency          %.3f ms at %g MHz\n", r->latency_s * 1e3, pf->clock_mhz);
	if (pf->ua_per_mhz > 0)
		fprintf(f, "energy           %.3f mJ  (%g uA/MHz x %g V)\n", r->energy_j * 1e3, pf->ua_per_mhz, pf->volts);
	else
		fprintf(f, "energy           %.3f mJ  (%g W)\n", r->energy_j * 1e3, pf->watts);
	fprintf(f, "flash            %lld B  (.text %lld + .rodata %lld)%s\n", r->flash, r->text, r->rodata,
	        pf->flash_bytes ? (r->flash <= pf->flash_bytes ? "  fits" : "  DOES NOT FIT") : "");
	fprintf(f, "RAM              %lld B  (arena %lld + stack %lld)%s\n", ram, r->arena, r->stack,
	        pf->ram_bytes ? (ram <= pf->ram_bytes ? "  fits" : "  DOES NOT FIT") : "");
	if (r->unknown_branches > 0)
		fprintf(f, "note: %.0f data-dependent branch executions, taken every other time\n", r->unknown_branches);
	(void)fits;
}
