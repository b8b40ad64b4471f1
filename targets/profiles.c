/* profiles.c — the board/core profiles and C-library routine costs of
 * nnllc --estimate (see profiles.h). Sources of every figure:
 * docs/estimation.md, "Profiles" and "Library routines". */
#include "profiles.h"

#include <stdio.h>
#include <string.h>

static const CoreProfile profiles[] = {
	{
		/* Cortex-M0+ TRM (DDI0484C) §3.3: 2 cycles for loads/stores and taken
		 * branches (2-stage pipeline), 1-cycle multiplier option; no divider,
		 * no FPU (soft-float calls). STM32L053: 32 MHz, 1 WS, 88 µA/MHz. */
		.name = "cortex-m0plus", .core = "Cortex-M0+", .chip = "STM32L053R8 (NUCLEO-L053R8)",
		.march = "thumbv6m", .mcpu = "cortex-m0plus", .clock_mhz = 32, .flash_ws = 1, .flash_hit = 0.5,
		.c_alu = 1, .c_ls = 2, .c_mul = 1, .c_mac = 2, .c_div = 34, .c_branch = 1, .c_branch_taken = 1,
		.c_fpu = 1, .c_fdiv = 1, .ua_per_mhz = 88, .volts = 3.0, .libc = "newlib-armv6m",
		.flash_bytes = 64 * 1024, .ram_bytes = 8 * 1024,
	},
	{
		/* Cortex-M4 TRM (DDI0439B) Table 3-1 / FPU TRM: LDR 2, STR 1-2, MUL/MLA/
		 * SMLAD 1, SDIV 2-12, taken branch 1+P (P 1-3), VADD/VMUL 1, VMLA 3,
		 * VDIV/VSQRT 14. STM32L4R5ZI: 120 MHz, 5 WS with the ART accelerator,
		 * 110 µA/MHz at 3.3 V in Run range 1 (datasheet DS12023). */
		.name = "cortex-m4f", .core = "Cortex-M4F", .chip = "STM32L4R5ZI (NUCLEO-L4R5ZI)",
		.march = "thumbv7em", .mcpu = "cortex-m4", .clock_mhz = 120, .flash_ws = 5, .flash_hit = 0.9,
		.c_alu = 1, .c_ls = 1.6, .c_mul = 1, .c_mac = 1, .c_div = 7, .c_branch = 1, .c_branch_taken = 2,
		.c_fpu = 1, .c_fdiv = 14, .c_fmac = 3, .ua_per_mhz = 110, .volts = 3.3, .libc = "newlib-armv7em",
		.flash_bytes = 2048 * 1024, .ram_bytes = 640 * 1024,
	},
	{
		/* Cortex-M7: dual-issue, 6-stage; caches and TCM hide flash wait
		 * states. STM32F767ZI: 216 MHz, 7 WS, ART + 16 KiB I-cache, ~ 472 µA/MHz
		 * (102 mA at 216 MHz, all peripherals off, DS11532 Table 31). */
		.name = "cortex-m7", .core = "Cortex-M7", .chip = "STM32F767ZI (NUCLEO-F767ZI)",
		.march = "thumbv7em", .mcpu = "cortex-m7", .clock_mhz = 216, .flash_ws = 7, .flash_hit = 0.97,
		.c_alu = 0.6, .c_ls = 1, .c_mul = 1, .c_mac = 1, .c_div = 7, .c_branch = 0.6, .c_branch_taken = 1,
		.c_fpu = 0.6, .c_fdiv = 14, .ua_per_mhz = 472, .volts = 3.3, .libc = "newlib-armv7em",
		.flash_bytes = 2048 * 1024, .ram_bytes = 512 * 1024,
	},
	{
		/* Cortex-M33 TRM (100230): 3-stage pipeline, single-cycle MAC/DSP,
		 * FPv5 SP. STM32U585AI: 160 MHz, 4 WS + 8 KiB ICACHE, 19.5 µA/MHz
		 * (SMPS, 3.0 V, DS13086). */
		.name = "cortex-m33", .core = "Cortex-M33", .chip = "STM32U585AI (B-U585I-IOT02A)",
		.march = "thumbv8m.main", .mcpu = "cortex-m33", .clock_mhz = 160, .flash_ws = 4, .flash_hit = 0.95,
		.c_alu = 1, .c_ls = 1.6, .c_mul = 1, .c_mac = 1, .c_div = 7, .c_branch = 1, .c_branch_taken = 2,
		.c_fpu = 1, .c_fdiv = 14, .ua_per_mhz = 19.5, .volts = 3.0, .libc = "newlib-armv7em",
		.flash_bytes = 2048 * 1024, .ram_bytes = 786 * 1024,
	},
	{
		/* RV32IMAC: SiFive E31 (FE310-G002, HiFive1 Rev B) at 320 MHz, 16 KiB
		 * I-cache over QSPI flash; E31 manual: loads 2 cycles (3 for sub-word),
		 * MUL 1 (latency 2), DIV up to 34, taken branch 1-3; no FPU. Current: no
		 * per-MHz figure in the FE310 datasheet (see docs). */
		.name = "rv32imac", .core = "SiFive E31 (RV32IMAC)", .chip = "FE310-G002 (HiFive1 Rev B)",
		.march = "riscv32", .mcpu = "sifive-e31", .clock_mhz = 320, .flash_ws = 0, .flash_hit = 0.95,
		.c_alu = 1, .c_ls = 2, .c_mul = 1, .c_mac = 2, .c_div = 34, .c_branch = 1, .c_branch_taken = 3,
		.c_fpu = 1, .c_fdiv = 1, .ua_per_mhz = 160, .volts = 1.8, .libc = "picolibc-rv32",
		.flash_bytes = 4096 * 1024, .ram_bytes = 16 * 1024,
	},
	{
		/* RV32IMAFC: GigaDevice GD32VF103 is IMAC; the IMAFC part here is the
		 * WCH CH32V307 (QingKe V4F) at 144 MHz; the E31 class cycle counts with
		 * the F extension: FADD/FMUL/FMADD pipelined 1 per cycle, FDIV ~ 20. */
		.name = "rv32imafc", .core = "QingKe V4F (RV32IMAFC)", .chip = "WCH CH32V307VCT6",
		.march = "riscv32", .mcpu = "sifive-e76", .clock_mhz = 144, .flash_ws = 0, .flash_hit = 0.9,
		.c_alu = 1, .c_ls = 2, .c_mul = 1, .c_mac = 1, .c_div = 17, .c_branch = 1, .c_branch_taken = 2,
		.c_fpu = 1, .c_fdiv = 20, .ua_per_mhz = 300, .volts = 3.3, .libc = "picolibc-rv32",
		.flash_bytes = 256 * 1024, .ram_bytes = 64 * 1024,
	},
	{
		/* RV64GC: SiFive U74 (StarFive JH7110, VisionFive 2) at 1.5 GHz, dual-issue
		 * in-order; power: board-level ~ 1 W per busy core (not a datasheet figure). */
		.name = "rv64gc", .core = "SiFive U74 (RV64GC)", .chip = "StarFive JH7110 (VisionFive 2)",
		.march = "riscv64", .mcpu = "sifive-u74", .clock_mhz = 1500, .flash_ws = 0, .flash_hit = 1,
		.c_alu = 0.6, .c_ls = 1, .c_mul = 1, .c_mac = 1, .c_div = 20, .c_branch = 0.6, .c_branch_taken = 1,
		.c_fpu = 1, .c_fdiv = 20, .watts = 1.0, .libc = "glibc",
	},
	{
		/* x86-64: a desktop core at 3 GHz, ~ 0.35 IPC cost per simple op
		 * (4-wide), energy from a 15 W per-core package share (not a datasheet
		 * figure: see docs). */
		.name = "x86-64", .core = "x86-64 (x86-64-v2)", .chip = "generic desktop core",
		.march = "x86-64", .mcpu = "x86-64-v2", .clock_mhz = 3000, .flash_ws = 0, .flash_hit = 1,
		.c_alu = 0.3, .c_ls = 0.5, .c_mul = 1, .c_mac = 0.5, .c_div = 20, .c_branch = 0.5, .c_branch_taken = 0.5,
		.c_fpu = 0.5, .c_fdiv = 5, .watts = 15.0, .libc = "glibc",
	},
};

int profile_count(void) { return (int)(sizeof profiles / sizeof profiles[0]); }
const CoreProfile *profile_at(int i) { return i >= 0 && i < profile_count() ? &profiles[i] : NULL; }

const CoreProfile *profile_find(const char *name)
{
	for (int i = 0; i < profile_count(); i++)
		if (!strcmp(profiles[i].name, name))
			return &profiles[i];
	return NULL;
}

const CoreProfile *profile_for_target(const char *march, const char *mcpu)
{
	if (mcpu)
		for (int i = 0; i < profile_count(); i++)
			if (!strcmp(profiles[i].march, march) && !strcmp(profiles[i].mcpu, mcpu))
				return &profiles[i];
	static const struct { const char *march, *profile; } def[] = {
		{"thumbv6m", "cortex-m0plus"}, {"thumbv7em", "cortex-m4f"}, {"thumbv8m.main", "cortex-m33"},
		{"riscv32", "rv32imafc"}, {"riscv64", "rv64gc"}, {"x86-64", "x86-64"}, {"native", "x86-64"},
		{"aarch64", "x86-64"},
	};
	for (size_t i = 0; i < sizeof def / sizeof def[0]; i++)
		if (!strcmp(def[i].march, march))
			return profile_find(def[i].profile);
	return NULL;
}

const char *profile_names(char *buf, int size)
{
	int k = 0;
	if (size > 0)
		buf[0] = 0;
	for (int i = 0; i < profile_count() && k < size; i++) {
		int n = snprintf(buf + k, (size_t)(size - k), "%s%s", i ? ", " : "", profiles[i].name);
		if (n < 0)
			break;
		k += n;
	}
	return buf;
}

/* Instructions per call (+ per byte) measured on the emulated boards with
 * bench/estimate_libcalls.c (QEMU -icount, exact counters; 256 calls over
 * inputs spread evenly in [-1, 1], where normalized pre-activations mostly are); soft-float double routines as used by f64
 * accumulators. newlib-armv6m and glibc: no emulated board here, figures are
 * the armv7em ones scaled as documented (rough). */
static const LibCost libcosts[] = {
	{"newlib-armv7em", "expf", 62, 0}, {"newlib-armv7em", "tanhf", 95, 0}, {"newlib-armv7em", "erff", 41, 0},
	{"newlib-armv7em", "logf", 77, 0}, {"newlib-armv7em", "log", 2204, 0}, {"newlib-armv7em", "exp", 1801, 0},
	{"newlib-armv7em", "powf", 256, 0}, {"newlib-armv7em", "fmodf", 58, 0}, {"newlib-armv7em", "sqrtf", 6, 0},
	{"newlib-armv7em", "__aeabi_dadd", 72, 0}, {"newlib-armv7em", "__aeabi_dsub", 72, 0},
	{"newlib-armv7em", "__aeabi_dmul", 50, 0}, {"newlib-armv7em", "__aeabi_ddiv", 648, 0},
	{"newlib-armv7em", "__aeabi_f2d", 10, 0}, {"newlib-armv7em", "__aeabi_d2f", 15, 0},
	{"newlib-armv7em", "memcpy", 21, 0.531}, {"newlib-armv7em", "memset", 37, 0.438},
	{"picolibc-rv32", "expf", 79, 0}, {"picolibc-rv32", "tanhf", 118, 0}, {"picolibc-rv32", "erff", 84, 0},
	{"picolibc-rv32", "logf", 107, 0}, {"picolibc-rv32", "log", 4553, 0}, {"picolibc-rv32", "exp", 3345, 0},
	{"picolibc-rv32", "powf", 302, 0}, {"picolibc-rv32", "fmodf", 66, 0}, {"picolibc-rv32", "sqrtf", 2, 0},
	{"picolibc-rv32", "__adddf3", 102, 0}, {"picolibc-rv32", "__subdf3", 102, 0},
	{"picolibc-rv32", "__muldf3", 207, 0}, {"picolibc-rv32", "__divdf3", 325, 0},
	{"picolibc-rv32", "__extendsfdf2", 36, 0}, {"picolibc-rv32", "__truncdfsf2", 41, 0},
	{"picolibc-rv32", "memcpy", 10, 6.0}, {"picolibc-rv32", "memset", 10, 4.0},
	/* rough: armv6m soft float is ~ 1.5-2x the v7em hard routines */
	{"newlib-armv6m", "expf", 300, 0}, {"newlib-armv6m", "tanhf", 400, 0}, {"newlib-armv6m", "memcpy", 25, 1.0},
	{"newlib-armv6m", "memset", 25, 0.75}, {"newlib-armv6m", "__aeabi_fadd", 50, 0},
	{"newlib-armv6m", "__aeabi_fsub", 50, 0}, {"newlib-armv6m", "__aeabi_fmul", 45, 0},
	{"newlib-armv6m", "__aeabi_fdiv", 120, 0}, {"newlib-armv6m", "__aeabi_fcmplt", 25, 0},
	{"glibc", "expf", 40, 0}, {"glibc", "tanhf", 60, 0}, {"glibc", "erff", 60, 0}, {"glibc", "logf", 40, 0},
	{"glibc", "memcpy", 20, 0.1}, {"glibc", "memset", 20, 0.08},
};

const LibCost *libcost_find(const char *libc, const char *fn)
{
	for (size_t i = 0; i < sizeof libcosts / sizeof libcosts[0]; i++)
		if (!strcmp(libcosts[i].libc, libc) && !strcmp(libcosts[i].fn, fn))
			return &libcosts[i];
	return NULL;
}
