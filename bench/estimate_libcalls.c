/* estimate_libcalls.c — instructions per call of the C-library routines the
 * generated code calls (libm, soft-float double, memcpy/memset), measured on
 * the emulated boards with the harness's exact counter (bench/estimate.py
 * --calibrate builds and runs it; the figures go into targets/profiles.c).
 * Each routine runs REPS times over spread inputs; the empty loop's cost is
 * subtracted. Prints "cost NAME PER_CALL" and "bytes NAME N INSTR". */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "board.h"

#define REPS 256
static volatile float sinkf;
static volatile double sinkd;
static float xs[REPS];
static double xd[REPS];
static uint32_t bufa[4096 / 4 + 4], bufb[4096 / 4 + 4];

#define MEASURE(name, expr)                                                                      \
	do {                                                                                         \
		uint64_t t0 = board_instructions();                                                      \
		for (int i = 0; i < REPS; i++)                                                           \
			expr;                                                                                \
		uint64_t t1 = board_instructions();                                                      \
		printf("cost %s %.1f\n", name, ((double)(t1 - t0) - (double)empty) / REPS);             \
	} while (0)

int main(void)
{
	board_counter_init();
	for (int i = 0; i < REPS; i++) {
		xs[i] = -1.0f + 2.0f * (float)i / REPS; /* pre-activations of normalized layers: mostly in [-1, 1] */
		xd[i] = xs[i] * 1.5 + 0.25;
	}
	uint64_t e0 = board_instructions();
	for (int i = 0; i < REPS; i++)
		sinkf = xs[i];
	uint64_t empty = board_instructions() - e0;
	MEASURE("expf", sinkf = expf(xs[i]));
	MEASURE("tanhf", sinkf = tanhf(xs[i]));
	MEASURE("erff", sinkf = erff(xs[i]));
	MEASURE("logf", sinkf = logf(xs[i] + 7.0f));
	MEASURE("log", sinkd = log(xd[i] + 10.0));
	MEASURE("exp", sinkd = exp(xd[i]));
	MEASURE("powf", sinkf = powf(xs[i] + 7.0f, 1.7f));
	MEASURE("fmodf", sinkf = fmodf(xs[i] * 3.0f, 1.3f));
	MEASURE("sqrtf", sinkf = sqrtf(xs[i] + 7.0f));
	MEASURE("dadd", sinkd = xd[i] + (double)xs[i]);
	MEASURE("dmul", sinkd = xd[i] * xd[REPS - 1 - i]);
	MEASURE("ddiv", sinkd = xd[i] / (xd[REPS - 1 - i] + 20.0));
	MEASURE("f2d", sinkd = (double)xs[i]);
	MEASURE("d2f", sinkf = (float)xd[i]);
	static const int sizes[] = {16, 64, 256, 1024, 4096};
	for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		int n = sizes[s];
		uint64_t t0 = board_instructions();
		for (int i = 0; i < 16; i++) {
			memcpy(bufa, bufb, (size_t)n);
			__asm__ volatile("" ::: "memory");
		}
		uint64_t t1 = board_instructions();
		for (int i = 0; i < 16; i++) {
			memset(bufa, 0, (size_t)n);
			__asm__ volatile("" ::: "memory");
		}
		uint64_t t2 = board_instructions();
		printf("bytes memcpy %d %.1f\n", n, (double)(t1 - t0) / 16);
		printf("bytes memset %d %.1f\n", n, (double)(t2 - t1) / 16);
	}
	printf("done\n");
	return 0;
}
