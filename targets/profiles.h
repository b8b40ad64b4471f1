/* profiles.h — board/core profiles for nnllc --estimate, as data: clock,
 * flash wait states, cycles per instruction class, active current per MHz
 * and supply voltage (energy per cycle = µA/MHz × V), the C library whose
 * routine costs apply, and the chip's flash and RAM. Every figure's source
 * is in docs/estimation.md ("Profiles"); figures that could not be sourced
 * exactly are marked there. Pure data, no LLVM.
 */
#ifndef NNL_PROFILES_H
#define NNL_PROFILES_H

typedef struct CoreProfile {
	const char *name;       /* --profile=NAME */
	const char *core;       /* "Cortex-M4F" */
	const char *chip;       /* the part the clock, current and memories come from */
	const char *march;      /* target table row */
	const char *mcpu;       /* -mcpu (LLVM's scheduling model for llvm-mca) */
	double clock_mhz;
	int flash_ws;           /* flash wait states at that clock (0: none or cache/TCM assumed) */
	double flash_hit;       /* share of instruction fetches hidden by the prefetch/accelerator/cache (0..1) */
	/* cycles per instruction of each class (issue cost; taken branches add branch_taken) */
	double c_alu, c_ls, c_mul, c_mac, c_div, c_branch, c_branch_taken, c_fpu, c_fdiv;
	double c_fmac;  /* a float multiply-accumulate (VMLA, VFMA, …) when it differs from c_mac; 0: c_mac */
	double ua_per_mhz;      /* active run current, µA/MHz (0: power given in watts below) */
	double volts;
	double watts;           /* active power when ua_per_mhz is 0 (hosted CPUs) */
	const char *libc;       /* routine cost table: "newlib-armv7em", "picolibc-rv32", ... */
	long long flash_bytes, ram_bytes;  /* of the chip (0: not a constraint) */
} CoreProfile;

int profile_count(void);
const CoreProfile *profile_at(int i);
const CoreProfile *profile_find(const char *name);
/* The default profile for a -march (and -mcpu if it names one). */
const CoreProfile *profile_for_target(const char *march, const char *mcpu);
/* "cortex-m0plus, cortex-m4f, ..." into buf. */
const char *profile_names(char *buf, int size);

/* Instructions a library routine executes: per call + per byte (memcpy,
 * memset) in libc; -1 when the table has no entry (then `fallback`). */
typedef struct LibCost {
	const char *libc;
	const char *fn;
	double per_call, per_byte;
} LibCost;
/* Cost of fn in libc; NULL if unknown. */
const LibCost *libcost_find(const char *libc, const char *fn);

#endif
