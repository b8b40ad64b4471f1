/* board.c — hosted Linux (x86-64 natively, AArch64 and RISC-V 64 under
 * qemu-user): no instruction counter (qemu-user has no -icount), a monotonic
 * clock for wall time per inference, no stack measurement. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <time.h>

#include "board.h"

void board_counter_init(void) {}
uint64_t board_instructions(void) { return 0; }
int board_has_instructions(void) { return 0; }
unsigned board_instruction_granularity(void) { return 0; }

uint64_t board_time_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void board_stack_paint(void) {}
uint32_t board_stack_used(void) { return 0; }
