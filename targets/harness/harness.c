/* harness.c — generic driver for an nnllc-compiled model on any board.
 *
 * Compiled together with the model object, its header, a board file
 * (targets/boards/<board>/) and a generated input_data.c that defines
 *     const unsigned nnl_test_count;        number of samples
 *     const unsigned nnl_test_input_size;   floats per sample
 *     const float nnl_test_input[];         count * input_size floats
 * The model is named by macros (test/targets/run_bank.py passes them):
 *     NNL_MODEL_HEADER   "model.h"           the header nnllc wrote
 *     NNL_PREFIX         model                -name= of nnllc; then by default
 *                                            NNL_RUN = model_run and, with
 *     NNL_PREFIX_UC      MODEL                NNL_ARENA_BYTES = MODEL_ARENA_BYTES,
 *                                            NNL_INPUT_SIZE, NNL_OUTPUT_SIZE, NNL_ARENA_ALIGN alike
 * or each of NNL_RUN, NNL_ARENA_BYTES, NNL_INPUT_SIZE, NNL_OUTPUT_SIZE given.
 *
 * For each sample it calls NNL_RUN once and prints (parsed by run_bank.py):
 *     nnl-harness model=NAME samples=N input=I output=O arena=A
 *     sample S status ST [instructions K] [time_ns T] [stack B]
 *     y S J: xxxxxxxx xxxxxxxx ...    output[J..] as IEEE-754 bit patterns (exact)
 *     done failed=F
 * and returns 0 when every run returned 0 (so QEMU's exit status tells).
 * On hosted boards, `harness R` runs each sample R more times and prints
 * the median wall time per inference (time_ns).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"

#ifndef NNL_MODEL_HEADER
#error "define NNL_MODEL_HEADER (the header nnllc wrote, as a quoted string)"
#endif
#include NNL_MODEL_HEADER

#define NNL_CAT_(a, b) a##b
#define NNL_CAT(a, b) NNL_CAT_(a, b)
#define NNL_STR_(a) #a
#define NNL_STR(a) NNL_STR_(a)

#if !defined(NNL_RUN) && defined(NNL_PREFIX)
#define NNL_RUN NNL_CAT(NNL_PREFIX, _run)
#endif
#if defined(NNL_PREFIX_UC)
#ifndef NNL_ARENA_BYTES
#define NNL_ARENA_BYTES NNL_CAT(NNL_PREFIX_UC, _ARENA_BYTES)
#endif
#ifndef NNL_INPUT_SIZE
#define NNL_INPUT_SIZE NNL_CAT(NNL_PREFIX_UC, _INPUT_SIZE)
#endif
#ifndef NNL_OUTPUT_SIZE
#define NNL_OUTPUT_SIZE NNL_CAT(NNL_PREFIX_UC, _OUTPUT_SIZE)
#endif
#endif
#if defined(NNL_PREFIX_UC) && !defined(NNL_ARENA_ALIGN)
#define NNL_ARENA_ALIGN NNL_CAT(NNL_PREFIX_UC, _ARENA_ALIGN)
#endif
#ifndef NNL_ARENA_ALIGN
#define NNL_ARENA_ALIGN 16
#endif
#if !defined(NNL_RUN) || !defined(NNL_ARENA_BYTES) || !defined(NNL_INPUT_SIZE) || !defined(NNL_OUTPUT_SIZE)
#error "define NNL_PREFIX and NNL_PREFIX_UC, or NNL_RUN, NNL_ARENA_BYTES, NNL_INPUT_SIZE and NNL_OUTPUT_SIZE"
#endif

extern const unsigned nnl_test_count;
extern const unsigned nnl_test_input_size;
extern const float nnl_test_input[];

static unsigned char arena[(NNL_ARENA_BYTES) > 0 ? (NNL_ARENA_BYTES) : 1] __attribute__((aligned(NNL_ARENA_ALIGN)));
static float output[NNL_OUTPUT_SIZE];

#define MAX_REPS 1001
static uint64_t rep_ns[MAX_REPS];

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void print_output(unsigned s)
{
	for (unsigned j = 0; j < (unsigned)(NNL_OUTPUT_SIZE); j++) {
		uint32_t bits;
		memcpy(&bits, &output[j], sizeof bits);
		if (j % 8 == 0)
			printf("y %u %u:", s, j);
		printf(" %08lx", (unsigned long)bits);
		if (j % 8 == 7 || j + 1 == (unsigned)(NNL_OUTPUT_SIZE))
			printf("\n");
	}
}

int main(int argc, char **argv)
{
	unsigned reps = 0;
	if (argc > 1 && argv && argv[1]) {
		reps = (unsigned)strtoul(argv[1], NULL, 10);
		if (reps > MAX_REPS)
			reps = MAX_REPS;
	}
	board_counter_init();
	/* the cost of reading the counter itself, taken off each measurement */
	uint64_t c0 = board_instructions();
	uint64_t overhead = board_instructions() - c0;

	printf("nnl-harness model=%s samples=%u input=%u output=%u arena=%lu\n", NNL_STR(NNL_RUN),
	       nnl_test_count, (unsigned)(NNL_INPUT_SIZE), (unsigned)(NNL_OUTPUT_SIZE),
	       (unsigned long)(NNL_ARENA_BYTES));
	if (nnl_test_input_size != (unsigned)(NNL_INPUT_SIZE)) {
		printf("error: input_data.c has %u floats per sample, the model takes %u\n", nnl_test_input_size,
		       (unsigned)(NNL_INPUT_SIZE));
		return 2;
	}
	unsigned failed = 0;
	for (unsigned s = 0; s < nnl_test_count; s++) {
		const float *x = nnl_test_input + (size_t)s * nnl_test_input_size;
		memset(output, 0xFF, sizeof output); /* NaN: an output never written shows */
		board_stack_paint();
		uint64_t t0 = board_time_ns();
		uint64_t i0 = board_instructions();
		int st = NNL_RUN(x, output, arena);
		uint64_t i1 = board_instructions();
		uint64_t t1 = board_time_ns();
		uint32_t stack = board_stack_used();
		if (st != 0)
			failed++;
		printf("sample %u status %d", s, st);
		if (board_has_instructions()) {
			uint64_t n = i1 - i0;
			n = n >= overhead ? n - overhead : 0;
			printf(" instructions %llu", (unsigned long long)n);
		}
		if (t1 > t0 || reps) {
			uint64_t ns = t1 - t0;
			if (reps) {
				for (unsigned r = 0; r < reps; r++) {
					uint64_t a = board_time_ns();
					NNL_RUN(x, output, arena);
					rep_ns[r] = board_time_ns() - a;
				}
				qsort(rep_ns, reps, sizeof rep_ns[0], cmp_u64);
				ns = rep_ns[reps / 2];
			}
			printf(" time_ns %llu", (unsigned long long)ns);
		}
		if (stack)
			printf(" stack %lu", (unsigned long)stack);
		printf("\n");
		print_output(s);
	}
	printf("done failed=%u\n", failed);
	fflush(stdout);
	return failed ? 1 : 0;
}
