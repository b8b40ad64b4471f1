/* targets.c — the target table (see targets.h). Pure data: no LLVM here.
 *
 * Choices, per row:
 *   x86-64     cpu x86-64-v2 (SSE4.2, POPCNT: every x86-64 CPU since 2009, the
 *              baseline of current enterprise distributions) so an object runs
 *              wherever it is linked; -mcpu=x86-64-v3 (AVX2+FMA) or
 *              -march=native for speed on a known machine.
 *   aarch64    cpu generic (Armv8-A with NEON, tuned for current cores): runs
 *              on every 64-bit Arm Linux machine; name a core for its tuning.
 *   thumbv7em  Cortex-M4F, hard float: the eabihf triple passes floats in s0..;
 *              +vfp4d16sp is what the M4's FPU has (single precision only) and
 *              is stated rather than left to the cpu, so a cpu without FPU
 *              cannot silently turn the hard-float ABI into soft-float code.
 *              -slowfpvmlx: LLVM's cortex-m4 model marks VMLA.F32 slow and
 *              splits it into VMUL+VADD; on the M4 the chained (not fused)
 *              VMLA rounds exactly like the pair, costs the same cycles and
 *              saves one instruction per MAC (measured: see docs/targets.md).
 *   thumbv6m   Cortex-M0+, no FPU: soft float, floats in integer registers.
 *   thumbv8m.main Cortex-M33 with its single-precision FPv5 and DSP.
 *   riscv32    rv32imafc, ABI ilp32f (what picolibc's rv32imafc multilib uses).
 *   riscv64    rv64imafdc (RV64GC minus Zifencei), ABI lp64d: Debian's riscv64.
 *   native     the host's triple, cpu and features, read from LLVM at compile time.
 * The cpu lists are the cores LLVM 19 knows for each architecture, limited to
 * the ones that implement it (a Cortex-A is no -mcpu for thumbv7em, an
 * rv64 core none for riscv32): LLVM only warns on a bad cpu and carries on,
 * so the list is checked before a target machine is created.
 */
#include "targets.h"

#include <stdio.h>
#include <string.h>

static const char *const cpus_x86_64[] = {
	"x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4", "generic",
	"nocona", "core2", "penryn", "nehalem", "westmere", "corei7", "sandybridge", "corei7-avx",
	"ivybridge", "core-avx-i", "haswell", "core-avx2", "broadwell", "skylake", "skylake-avx512", "skx",
	"cascadelake", "cooperlake", "cannonlake", "icelake-client", "icelake-server", "rocketlake",
	"tigerlake", "sapphirerapids", "alderlake", "raptorlake", "meteorlake", "arrowlake", "arrowlake-s",
	"lunarlake", "pantherlake", "graniterapids", "graniterapids-d", "emeraldrapids", "sierraforest",
	"grandridge", "clearwaterforest", "bonnell", "atom", "silvermont", "slm", "goldmont",
	"goldmont-plus", "tremont", "gracemont", "knl", "knm",
	"k8", "k8-sse3", "opteron", "opteron-sse3", "athlon64", "athlon64-sse3", "athlon-fx", "amdfam10",
	"barcelona", "btver1", "btver2", "bdver1", "bdver2", "bdver3", "bdver4",
	"znver1", "znver2", "znver3", "znver4", "znver5", NULL,
};

static const char *const cpus_aarch64[] = {
	"generic", "cortex-a34", "cortex-a35", "cortex-a53", "cortex-a55", "cortex-a57", "cortex-a65",
	"cortex-a65ae", "cortex-a72", "cortex-a73", "cortex-a75", "cortex-a76", "cortex-a76ae",
	"cortex-a77", "cortex-a78", "cortex-a78ae", "cortex-a78c", "cortex-a510", "cortex-a520",
	"cortex-a520ae", "cortex-a710", "cortex-a715", "cortex-a720", "cortex-a720ae", "cortex-a725",
	"cortex-r82", "cortex-r82ae", "cortex-x1", "cortex-x1c", "cortex-x2", "cortex-x3", "cortex-x4",
	"cortex-x925", "neoverse-e1", "neoverse-n1", "neoverse-n2", "neoverse-n3", "neoverse-v1",
	"neoverse-v2", "neoverse-v3", "neoverse-v3ae", "neoverse-512tvb", "a64fx", "ampere1", "ampere1a",
	"ampere1b", "apple-a7", "apple-a10", "apple-a11", "apple-a12", "apple-a13", "apple-a14",
	"apple-a15", "apple-a16", "apple-a17", "apple-m4", "carmel", "exynos-m3", "exynos-m4",
	"exynos-m5", "falkor", "kryo", "oryon-1", "saphira", "thunderx", "thunderx2t99",
	"thunderx3t110", "thunderxt81", "thunderxt83", "thunderxt88", "tsv110", NULL,
};

static const char *const cpus_thumbv7em[] = {"cortex-m4", "cortex-m7", NULL};
static const char *const cpus_thumbv6m[] = {"cortex-m0plus", "cortex-m0", "cortex-m1", NULL};
static const char *const cpus_thumbv8m_main[] = {"cortex-m33", "cortex-m35p", "cortex-m52", "cortex-m55",
                                                 "cortex-m85", NULL};

static const char *const cpus_riscv32[] = {
	"generic-rv32", "rocket-rv32", "sifive-e20", "sifive-e21", "sifive-e24", "sifive-e31",
	"sifive-e34", "sifive-e76", "syntacore-scr1-base", "syntacore-scr1-max", "syntacore-scr3-rv32", NULL,
};

static const char *const cpus_riscv64[] = {
	"generic-rv64", "rocket-rv64", "sifive-p450", "sifive-p670", "sifive-s21", "sifive-s51",
	"sifive-s54", "sifive-s76", "sifive-u54", "sifive-u74", "sifive-x280", "spacemit-x60",
	"syntacore-scr3-rv64", "veyron-v1", "xiangshan-nanhu", NULL,
};

static const Target targets[] = {
	{
		.name = "x86-64", .summary = "x86-64 Linux (SysV ABI), SSE4.2 baseline",
		.triple = "x86_64-unknown-linux-gnu", .cpu = "x86-64-v2", .features = "",
		.float_abi = TFA_HARD, .pointer_bytes = 8, .vector_bits = 128, .hosted = 1, .cpus = cpus_x86_64,
	},
	{
		.name = "aarch64", .summary = "64-bit Arm Linux, Armv8-A + NEON",
		.triple = "aarch64-unknown-linux-gnu", .cpu = "generic", .features = "+neon",
		.float_abi = TFA_HARD, .pointer_bytes = 8, .vector_bits = 128, .hosted = 1, .cpus = cpus_aarch64,
	},
	{
		.name = "thumbv7em", .summary = "Cortex-M4F/M7 bare metal, hard float (fpv4-sp-d16)",
		.triple = "thumbv7em-none-eabihf", .cpu = "cortex-m4", .features = "+vfp4d16sp,-slowfpvmlx",
		.float_abi = TFA_HARD, .pointer_bytes = 4, .vector_bits = 32, .cpus = cpus_thumbv7em,
	},
	{
		.name = "thumbv6m", .summary = "Cortex-M0/M0+ bare metal, soft float",
		.triple = "thumbv6m-none-eabi", .cpu = "cortex-m0plus", .features = "",
		.float_abi = TFA_SOFT, .pointer_bytes = 4, .vector_bits = 0, .cpus = cpus_thumbv6m,
	},
	{
		.name = "thumbv8m.main", .summary = "Cortex-M33 bare metal, hard float (fpv5-sp-d16), DSP",
		.triple = "thumbv8m.main-none-eabihf", .cpu = "cortex-m33", .features = "+fp-armv8d16sp,+dsp",
		.float_abi = TFA_HARD, .pointer_bytes = 4, .vector_bits = 32, .cpus = cpus_thumbv8m_main,
	},
	{
		.name = "riscv32", .summary = "RV32IMAFC bare metal, ABI ilp32f",
		.triple = "riscv32-unknown-elf", .cpu = "generic-rv32", .features = "+m,+a,+f,+c",
		.abi = "ilp32f", .float_abi = TFA_HARD, .pointer_bytes = 4, .vector_bits = 0, .cpus = cpus_riscv32,
	},
	{
		.name = "riscv64", .summary = "RV64IMAFDC Linux, ABI lp64d",
		.triple = "riscv64-unknown-linux-gnu", .cpu = "generic-rv64", .features = "+m,+a,+f,+d,+c",
		.abi = "lp64d", .float_abi = TFA_HARD, .pointer_bytes = 8, .vector_bits = 0, .hosted = 1,
		.cpus = cpus_riscv64,
	},
	{
		.name = "native", .summary = "the machine running nnllc: its triple, cpu and features",
		.features = "", .float_abi = TFA_HARD, .pointer_bytes = 8, .vector_bits = 128, .hosted = 1,
		.is_native = 1,
	},
};

int target_count(void) { return (int)(sizeof targets / sizeof targets[0]); }

const Target *target_at(int i) { return i >= 0 && i < target_count() ? &targets[i] : NULL; }

const Target *target_find(const char *march)
{
	for (int i = 0; i < target_count(); i++)
		if (strcmp(targets[i].name, march) == 0)
			return &targets[i];
	return NULL;
}

/* Length of the architecture component of a triple. */
static size_t arch_len(const char *triple)
{
	const char *dash = strchr(triple, '-');
	return dash ? (size_t)(dash - triple) : strlen(triple);
}

const Target *target_for_triple(const char *triple)
{
	size_t n = arch_len(triple);
	for (int i = 0; i < target_count(); i++) {
		const Target *t = &targets[i];
		if (t->is_native)
			continue;
		if (arch_len(t->triple) == n && strncmp(t->triple, triple, n) == 0)
			return t;
	}
	return NULL;
}

const Target *target_host(const char *host_triple) { return target_for_triple(host_triple); }

int target_cpu_valid(const Target *t, const char *cpu)
{
	if (!t->cpus)
		return 0;
	for (const char *const *c = t->cpus; *c; c++)
		if (strcmp(*c, cpu) == 0)
			return 1;
	return 0;
}

/* Append s to buf[0..size) after *len bytes; "..." once full. */
static void append(char *buf, int size, int *len, const char *s)
{
	if (*len < 0)
		return;
	int n = snprintf(buf + *len, (size_t)(size - *len), "%s%s", *len ? ", " : "", s);
	if (n < 0 || *len + n >= size) {
		if (size >= 4)
			memcpy(buf + size - 4, "...", 4);
		*len = -1;
		return;
	}
	*len += n;
}

const char *target_names(char *buf, int size)
{
	int len = 0;
	if (size > 0)
		buf[0] = 0;
	for (int i = 0; i < target_count(); i++)
		append(buf, size, &len, targets[i].name);
	return buf;
}

const char *target_cpu_names(const Target *t, char *buf, int size)
{
	int len = 0;
	if (size > 0)
		buf[0] = 0;
	if (t->cpus)
		for (const char *const *c = t->cpus; *c; c++)
			append(buf, size, &len, *c);
	return buf;
}

/* the last "+name" or "-name" in a comma-separated feature list: 1, 0, or -1 if absent */
static int feature_state(const char *features, const char *name)
{
	int st = -1;
	size_t n = strlen(name);
	for (const char *f = features; f && *f;) {
		const char *e = strchr(f, ',');
		size_t len = e ? (size_t)(e - f) : strlen(f);
		if (len == n + 1 && (f[0] == '+' || f[0] == '-') && strncmp(f + 1, name, n) == 0)
			st = f[0] == '+';
		f = e ? e + 1 : f + len;
	}
	return st;
}

int target_feature(const char *features, const char *name)
{
	return feature_state(features, name);
}

int target_has_dsp(const char *triple, const char *cpu, const char *features)
{
	if (!triple)
		return 0;
	int st = feature_state(features, "dsp");
	if (st >= 0)
		return st;
	if (strncmp(triple, "thumbv7em", 9) == 0 || strncmp(triple, "armv7em", 7) == 0)
		return 1;
	if (strncmp(triple, "thumbv8m.main", 13) == 0 || strncmp(triple, "thumbv8.1m.main", 15) == 0) {
		static const char *const with[] = {"cortex-m33", "cortex-m35p", "cortex-m52", "cortex-m55", "cortex-m85"};
		for (size_t i = 0; cpu && i < sizeof with / sizeof *with; i++)
			if (strcmp(cpu, with[i]) == 0)
				return 1;
	}
	return 0;
}
