/* board.h — what targets/harness/harness.c needs from a board file
 * (targets/boards/<board>/): an instruction counter and, on bare metal,
 * stack measurement. One implementation per board:
 *   mps2-an386/startup.c  Cortex-M4F, SysTick (1 tick = 40 instructions under
 *                         qemu -icount shift=0), wraps counted by its interrupt
 *   rv32-virt/board.c     RV32 picolibc, minstret/minstreth (exact)
 *   linux/board.c         hosted Linux: no instruction counter, a monotonic clock
 */
#ifndef NNL_BOARD_H
#define NNL_BOARD_H

#include <stdint.h>

/* Start the counter (called once, before any board_instructions()). */
void board_counter_init(void);

/* Monotonic count of retired instructions since board_counter_init, or 0
 * everywhere when the board has none (board_has_instructions() == 0). The
 * granularity is board_instruction_granularity() instructions. */
uint64_t board_instructions(void);
int board_has_instructions(void);
unsigned board_instruction_granularity(void);

/* Monotonic nanoseconds (hosted boards only; 0 on bare metal). */
uint64_t board_time_ns(void);

/* Stack high-water mark: board_stack_paint() fills the unused stack below
 * the caller's frame with a pattern, board_stack_used() returns the bytes of
 * stack touched since (from the top of the stack). 0 when not measured. */
void board_stack_paint(void);
uint32_t board_stack_used(void);

#endif
