/* selftest.h — a hand-written stand-in for an nnllc-generated header, used by
 * `run_bank.py --self-test` to prove the board recipes (link, QEMU run,
 * semihosting exit status, instruction counter, output parsing) without the
 * compiler. Same interface as a generated PREFIX.h. */
#ifndef SELFTEST_H
#define SELFTEST_H
#define SELFTEST_ARENA_BYTES 32
#define SELFTEST_INPUT_SIZE 16
#define SELFTEST_OUTPUT_SIZE 8
#define SELFTEST_ARENA_ALIGN 8
int selftest_run(const float *input, float *output, void *arena);
#endif
