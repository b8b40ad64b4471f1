/* fuzz_loop — libFuzzer target for the loop-IR text form.
 *
 * parse → print → parse → print must give the same text twice (the printer
 * and parser are inverses), and the verifier must accept or reject without
 * crashing. The interpreter is not run: a fuzzed loop nest can legitimately
 * take 2^62 iterations.
 */
#include "loop.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		return 0;
	memcpy(s, data, n);
	s[n] = 0;
	Diag d;
	diag_init(&d);
	LProgram *p = loop_parse(s, "fuzz.loop", &d);
	if (p) {
		char *t = loop_print(p);
		LProgram *q = t ? loop_parse(t, "printed.loop", &d) : NULL;
		if (t && !q)
			NNL_BUG("the printed text of a parsed program does not parse");
		char *t2 = q ? loop_print(q) : NULL;
		if (t && t2 && strcmp(t, t2) != 0)
			NNL_BUG("print(parse(print(p))) differs from print(p)");
		loop_verify(p, &d);
		free(t);
		free(t2);
		loop_free(q);
	}
	loop_free(p);
	diag_free(&d);
	free(s);
	return 0;
}
