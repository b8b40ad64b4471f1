/* targets.h — the target table: one const description per -march value, as
 * data (no #ifdefs in codegen). The LLVM backend reads the triple, cpu,
 * features and ABI from here; the tools read the cpu lists for messages; the
 * tests and bench read the link-and-run recipes in docs/targets.md.
 *
 * Adding a target: a row in targets.c (and its cpu list), an LLVM
 * initializer in codegen/llvm/llvm_target.c if its backend is new, a line in
 * docs/targets.md. Nothing else refers to targets by name.
 */
#ifndef NNL_TARGETS_H
#define NNL_TARGETS_H

typedef enum TargetFloatAbi {
	TFA_SOFT,   /* floats in integer registers (and no FPU assumed) */
	TFA_HARD,   /* floats in FPU registers */
} TargetFloatAbi;

typedef struct Target {
	const char *name;      /* the -march value */
	const char *summary;   /* one line for --help */
	const char *triple;    /* LLVM target triple; NULL for native (the host's) */
	const char *cpu;       /* default -mcpu; NULL for native (the host's) */
	const char *features;  /* always-on -mattr features ("" for none), before the user's -mattr */
	const char *abi;       /* LLVM target ABI name ("ilp32f", "lp64d"), NULL for the triple's default */
	TargetFloatAbi float_abi;
	int pointer_bytes;
	int vector_bits;       /* widest SIMD register the loop IR's types can use, 0 if none */
	int hosted;            /* runs under an OS with glibc (C23 libm such as roundevenf); else bare metal, newlib/picolibc */
	int is_native;         /* triple, cpu and features come from the host at compile time */
	const char *const *cpus; /* valid -mcpu values, NULL-terminated */
} Target;

/* Does code for this triple, cpu and feature string (the row's and the
 * user's -mattr joined, later entries win) have the Arm DSP extension (SMLAD,
 * SXTB16, ...)? Armv7E-M always; Armv8-M/8.1-M Mainline with a core that has
 * it or "+dsp"; never with a later "-dsp". The int8 lowering uses dual 16-bit
 * MACs where this holds (codegen/lower_quant.c). */
int target_has_dsp(const char *triple, const char *cpu, const char *features);
/* The last "+name" or "-name" in a comma-separated feature list: 1, 0, or -1
 * when the list does not name it. */
int target_feature(const char *features, const char *name);

/* The table, in the order --help lists it. */
int target_count(void);
const Target *target_at(int i);
/* By -march name; NULL if unknown. */
const Target *target_find(const char *march);
/* The row whose triple has the same architecture (first component of the
 * triple, e.g. "x86_64", "thumbv7em"); native excluded. NULL if none. */
const Target *target_for_triple(const char *triple);
/* The row describing the machine this compiler runs on (by its default
 * triple, passed in because the table knows nothing of LLVM). */
const Target *target_host(const char *host_triple);
/* Whether cpu is one of t's valid -mcpu values (native: of its host row). */
int target_cpu_valid(const Target *t, const char *cpu);
/* "x86-64, aarch64, ..." / t's cpus joined with ", " into buf (truncated with
 * "..." if too small); returns buf. */
const char *target_names(char *buf, int size);
const char *target_cpu_names(const Target *t, char *buf, int size);

#endif
