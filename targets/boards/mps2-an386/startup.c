/* startup.c — reset and vector table for the Cortex-M4F of mps2-an386 under
 * qemu-system-arm, with newlib + rdimon semihosting (printf and exit go to
 * the host through semihosting), and the instruction counter of board.h.
 *
 * Reset: copy .data from flash, zero .bss, enable the FPU (CPACR |= 0xF<<20;
 * must happen before any floating-point instruction, which is why this file
 * is compiled without -ffast-math tricks and uses none), start newlib's
 * semihosting (initialise_monitor_handles), run constructors, call main,
 * exit(main's result): newlib's exit flushes stdio and ends QEMU through
 * semihosting SYS_EXIT_EXTENDED, so QEMU's exit status is main's.
 * A fault ends QEMU with status 1 after a message on the semihosting console.
 *
 * Counter: SysTick from the processor clock (CSR = 7: enable, interrupt,
 * CLKSOURCE), reload 0xFFFFFF, so it wraps every 2^24 ticks; its interrupt
 * counts wraps, and board_instructions() combines the wrap count with the
 * current value exactly (see there). Under qemu -icount shift=0 one tick is
 * 40 instructions (25 MHz SysTick clock, 1 GHz virtual instruction rate).
 */
#include <stdint.h>
#include <stdlib.h>

#include "board.h"

extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__;
extern uint32_t __StackTop, __StackLimit;
extern void initialise_monitor_handles(void);
extern void __libc_init_array(void);
extern int main(int argc, char **argv);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_COUNTFLAG (1u << 16)
#define TICK_INSTRUCTIONS 40u

/* raw semihosting: r0 = operation, r1 = argument */
static int semihost(int op, const void *arg)
{
	register int r0 __asm__("r0") = op;
	register const void *r1 __asm__("r1") = arg;
	__asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
	return r0;
}

static void fault_exit(const char *msg)
{
	semihost(0x04 /* SYS_WRITE0 */, msg);
	static const uint32_t block[2] = {0x20026u /* ADP_Stopped_RunTimeErrorUnknown */, 1};
	semihost(0x20 /* SYS_EXIT_EXTENDED */, block);
	for (;;)
		;
}

void Reset_Handler(void) __attribute__((noreturn));
void Reset_Handler(void)
{
	uint32_t *src = &__data_load__, *dst = &__data_start__;
	while (dst < &__data_end__)
		*dst++ = *src++;
	for (dst = &__bss_start__; dst < &__bss_end__;)
		*dst++ = 0;
	SCB_CPACR |= 0xFu << 20; /* CP10, CP11: full access */
	__asm__ volatile("dsb\n\tisb" ::: "memory");
	initialise_monitor_handles();
	__libc_init_array();
	exit(main(0, 0));
}

static void HardFault_Handler(void) { fault_exit("mps2-an386: HardFault\n"); }
static void MemManage_Handler(void) { fault_exit("mps2-an386: MemManage fault\n"); }
static void BusFault_Handler(void) { fault_exit("mps2-an386: BusFault\n"); }
static void UsageFault_Handler(void) { fault_exit("mps2-an386: UsageFault\n"); }
static void Default_Handler(void) { fault_exit("mps2-an386: unexpected interrupt\n"); }

/* SysTick wraps since board_counter_init: only this handler writes it. */
static volatile uint32_t systick_wraps;

static void SysTick_Handler(void)
{
	(void)SYST_CSR; /* reading clears COUNTFLAG: it then means "wrap not yet counted" */
	systick_wraps++;
}

typedef void (*vector_t)(void);
__attribute__((section(".isr_vector"), used)) static const vector_t vectors[16 + 48] = {
	(vector_t)(uintptr_t)&__StackTop,
	Reset_Handler,
	Default_Handler, /* NMI */
	HardFault_Handler,
	MemManage_Handler,
	BusFault_Handler,
	UsageFault_Handler,
	0, 0, 0, 0,
	Default_Handler, /* SVCall */
	Default_Handler, /* DebugMon */
	0,
	Default_Handler, /* PendSV */
	SysTick_Handler,
	/* 48 external interrupts of the AN386 (none enabled) */
	Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
	Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
	Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
	Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
	Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
	Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
	Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
	Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler, Default_Handler,
};

/* Start from a clean state: the write to CVR makes the counter reload on the
 * next tick, and until then CVR reads 0 (which would look like a full period
 * elapsed). So, with interrupts masked, wait for the reload, then clear
 * COUNTFLAG, any pending SysTick interrupt and the wrap count. */
void board_counter_init(void)
{
	uint32_t primask;
	__asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
	SYST_CSR = 0;
	SYST_RVR = 0xFFFFFFu;
	SYST_CVR = 0;
	SYST_CSR = 7; /* ENABLE | TICKINT | CLKSOURCE=processor */
	while (SYST_CVR == 0)
		;
	(void)SYST_CSR;
	SCB_ICSR = 1u << 25; /* PENDSTCLR */
	systick_wraps = 0;
	__asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
}

/* Exact tick count: with interrupts masked, read the wrap count and the
 * current value; if COUNTFLAG is set a wrap happened that the (pending)
 * interrupt has not counted yet: count it here and re-read the value, which
 * is then after the wrap. Reading CSR cleared the flag, and the pending
 * interrupt still counts that wrap once interrupts are unmasked. */
uint64_t board_instructions(void)
{
	uint32_t primask;
	__asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask)::"memory");
	uint32_t w = systick_wraps;
	uint32_t v = SYST_CVR;
	if (SYST_CSR & SYST_COUNTFLAG) {
		v = SYST_CVR;
		w++;
	}
	__asm__ volatile("msr primask, %0" ::"r"(primask) : "memory");
	uint64_t ticks = ((uint64_t)w << 24) + (0xFFFFFFu - v);
	return ticks * TICK_INSTRUCTIONS;
}

int board_has_instructions(void) { return 1; }
unsigned board_instruction_granularity(void) { return TICK_INSTRUCTIONS; }
uint64_t board_time_ns(void) { return 0; }

#define STACK_PATTERN 0xA5C3A5C3u

/* Fill from the stack limit up to a margin below the current frame. */
__attribute__((noinline)) void board_stack_paint(void)
{
	uint32_t here;
	__asm__ volatile("mov %0, sp" : "=r"(here));
	uint32_t *p = &__StackLimit, *stop = (uint32_t *)(uintptr_t)(here - 256u);
	while (p < stop)
		*p++ = STACK_PATTERN;
}

uint32_t board_stack_used(void)
{
	const uint32_t *p = &__StackLimit;
	while (p < &__StackTop && *p == STACK_PATTERN)
		p++;
	return (uint32_t)((uintptr_t)&__StackTop - (uintptr_t)p);
}
