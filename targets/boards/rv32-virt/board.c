/* board.c — RV32 (rv32imafc, ilp32f) on qemu-system-riscv32 -M virt -bios
 * none, with picolibc's semihost crt0 (--crt0=semihost --oslib=semihost):
 * picolibc's crt0 sets up the stack, .data, .bss and the FPU, and exit()
 * ends QEMU through semihosting with main's status. printf output arrives on
 * QEMU's stderr. Link flags (see docs/boards.md):
 *   riscv64-unknown-elf-gcc -march=rv32imafc -mabi=ilp32f --specs=picolibc.specs
 *     --oslib=semihost --crt0=semihost -Wl,--defsym=__flash=0x80000000,
 *     --defsym=__flash_size=0x400000,--defsym=__ram=0x80400000,
 *     --defsym=__ram_size=0x400000,--defsym=__stack_size=0x10000
 *
 * Counter: minstret/minstreth (the code runs in M-mode), read high-low-high
 * so that a carry between the two halves is never mixed. Under qemu
 * -icount shift=0 it counts retired instructions exactly (without -icount
 * QEMU derives it from host time: always run with -icount).
 */
#include <stdint.h>

#include "board.h"

extern uint32_t __stack[];  /* top of the stack (picolibc.ld) */
extern uint32_t __heap_end[]; /* lowest stack address (picolibc.ld) */

void board_counter_init(void) {}

uint64_t board_instructions(void)
{
	uint32_t hi, lo, hi2;
	do {
		__asm__ volatile("csrr %0, minstreth" : "=r"(hi));
		__asm__ volatile("csrr %0, minstret" : "=r"(lo));
		__asm__ volatile("csrr %0, minstreth" : "=r"(hi2));
	} while (hi != hi2);
	return (uint64_t)hi << 32 | lo;
}

int board_has_instructions(void) { return 1; }
unsigned board_instruction_granularity(void) { return 1; }
uint64_t board_time_ns(void) { return 0; }

#define STACK_PATTERN 0xA5C3A5C3u

__attribute__((noinline)) void board_stack_paint(void)
{
	uintptr_t here;
	__asm__ volatile("mv %0, sp" : "=r"(here));
	uint32_t *p = __heap_end, *stop = (uint32_t *)(here - 256u);
	while (p < stop)
		*p++ = STACK_PATTERN;
}

uint32_t board_stack_used(void)
{
	const uint32_t *p = __heap_end;
	while (p < __stack && *p == STACK_PATTERN)
		p++;
	return (uint32_t)((uintptr_t)__stack - (uintptr_t)p);
}
