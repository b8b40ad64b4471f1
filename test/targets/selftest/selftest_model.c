/* selftest_model.c — dense 16 -> 8 + ReLU with weights ((7i + 3j) mod 11 - 5)/8
 * and bias (j - 3)/4. With the small dyadic inputs of the self-test every
 * product and sum is exact in float32, so every target must give the same
 * bits as run_bank.py's Python formula, whatever the order or FMA use. */
#include "selftest.h"

int selftest_run(const float *input, float *output, void *arena)
{
	float *h = (float *)arena;
	if (!input || !output || !arena)
		return 1;
	for (int j = 0; j < 8; j++) {
		float acc = 0.25f * (float)(j - 3);
		for (int i = 0; i < 16; i++)
			acc += input[i] * ((float)((i * 7 + j * 3) % 11 - 5) * 0.125f);
		h[j] = acc > 0.0f ? acc : 0.0f;
	}
	for (int j = 0; j < 8; j++)
		output[j] = h[j];
	return 0;
}
