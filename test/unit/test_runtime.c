/* test_runtime — the freestanding runtime: weights-blob writer and checker,
 * CRC-32 (against zlib), status strings. A good blob binds; each kind of
 * corruption gives its own status code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>
#include <zlib.h>

/* The runtime is device code that the compiler library does not build; it is
 * compiled into this test directly (it has no dependency of its own). */
#include "../../runtime/nnl_runtime.c"

#define HASH 0xC0FFEE11u
#define PAYLOAD 200u

/* blob storage aligned for the checker: header + payload + slack */
static _Alignas(16) uint8_t store[NNL_WEIGHTS_HEADER_BYTES + PAYLOAD + 64];

static size_t make_blob(void)
{
	memset(store, 0xAA, sizeof store);
	uint8_t *payload = store + NNL_WEIGHTS_HEADER_BYTES;
	for (unsigned i = 0; i < PAYLOAD; i++)
		payload[i] = (uint8_t)(i * 37u + 5u);
	assert_int_equal(nnl_weights_write_header(store, sizeof store, HASH, payload, PAYLOAD), NNL_OK);
	return nnl_weights_blob_size(PAYLOAD);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void crc_matches_zlib(void **state)
{
	(void)state;
	assert_int_equal(nnl_crc32(0, "123456789", 9), 0xCBF43926u);
	assert_int_equal(nnl_crc32(0, NULL, 0), 0u);
	uint8_t buf[1000];
	for (unsigned i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(i * 131u ^ (i >> 3));
	uLong z = crc32(0L, buf, sizeof buf);
	assert_int_equal(nnl_crc32(0, buf, sizeof buf), (uint32_t)z);
	/* chaining */
	assert_int_equal(nnl_crc32(nnl_crc32(0, buf, 333), buf + 333, sizeof buf - 333), (uint32_t)z);
}

static void fnv_known_values(void **state)
{
	(void)state;
	assert_int_equal(nnl_fnv1a32(NNL_FNV1A_INIT, "", 0), 0x811C9DC5u);
	assert_int_equal(nnl_fnv1a32(NNL_FNV1A_INIT, "a", 1), 0xE40C292Cu);
	assert_int_equal(nnl_fnv1a32(NNL_FNV1A_INIT, "foobar", 6), 0xBF9CF968u);
}

static void header_layout(void **state)
{
	(void)state;
	size_t n = make_blob();
	assert_int_equal(n, NNL_WEIGHTS_HEADER_BYTES + PAYLOAD);
	assert_memory_equal(store, "NNLW", 4);
	const uint8_t want[] = {1, 0, 0, 0, 32, 0, 0, 0, 0x11, 0xEE, 0xFF, 0xC0, PAYLOAD, 0, 0, 0};
	assert_memory_equal(store + 4, want, sizeof want);
	uint32_t crc = nnl_crc32(0, store + 32, PAYLOAD);
	uint8_t c[4];
	put32(c, crc);
	assert_memory_equal(store + 20, c, 4);
	const uint8_t zero[8] = {0};
	assert_memory_equal(store + 24, zero, 8);
}

static void good_blob_binds(void **state)
{
	(void)state;
	size_t n = make_blob();
	assert_int_equal(nnl_weights_check(store, n, HASH, PAYLOAD), NNL_OK);
	/* trailing padding is allowed */
	assert_int_equal(nnl_weights_check(store, sizeof store, HASH, PAYLOAD), NNL_OK);
	const void *p = (const void *)1;
	assert_int_equal(nnl_weights_bind(store, n, HASH, PAYLOAD, &p), NNL_OK);
	assert_ptr_equal(p, store + NNL_WEIGHTS_HEADER_BYTES);
	assert_int_equal(((const uint8_t *)p)[1], 42);
}

static void empty_payload(void **state)
{
	(void)state;
	static _Alignas(16) uint8_t b[32];
	assert_int_equal(nnl_weights_write_header(b, sizeof b, 7, NULL, 0), NNL_OK);
	assert_int_equal(nnl_weights_check(b, sizeof b, 7, 0), NNL_OK);
}

static void larger_header_is_accepted(void **state)
{
	(void)state;
	/* a later writer may use a 48-byte header: payload starts at header_size */
	static _Alignas(16) uint8_t b[48 + 16];
	for (int i = 0; i < 16; i++)
		b[48 + i] = (uint8_t)i;
	assert_int_equal(nnl_weights_write_header(b, sizeof b, HASH, b + 48, 16), NNL_OK);
	put32(b + 8, 48);
	const void *p = NULL;
	assert_int_equal(nnl_weights_bind(b, sizeof b, HASH, 16, &p), NNL_OK);
	assert_ptr_equal(p, b + 48);
}

static void null_pointers(void **state)
{
	(void)state;
	size_t n = make_blob();
	assert_int_equal(nnl_weights_check(NULL, n, HASH, PAYLOAD), NNL_ERR_NULL);
	assert_int_equal(nnl_weights_bind(store, n, HASH, PAYLOAD, NULL), NNL_ERR_NULL);
	const void *p = store;
	assert_int_equal(nnl_weights_bind(NULL, n, HASH, PAYLOAD, &p), NNL_ERR_NULL);
	assert_null(p);
	assert_int_equal(nnl_weights_write_header(NULL, 64, HASH, store, 4), NNL_ERR_NULL);
	assert_int_equal(nnl_weights_write_header(store, 64, HASH, NULL, 4), NNL_ERR_NULL);
}

static void misaligned(void **state)
{
	(void)state;
	static _Alignas(16) uint8_t b[16 + sizeof store];
	size_t n = make_blob();
	for (int off = 1; off < 16; off++) {
		memcpy(b + off, store, n);
		assert_int_equal(nnl_weights_check(b + off, n, HASH, PAYLOAD), NNL_ERR_ALIGN);
	}
}

static void bad_magic(void **state)
{
	(void)state;
	size_t n = make_blob();
	for (int i = 0; i < 4; i++) {
		make_blob();
		store[i] ^= 0x20;
		assert_int_equal(nnl_weights_check(store, n, HASH, PAYLOAD), NNL_ERR_MAGIC);
	}
	make_blob();
	assert_int_equal(nnl_weights_check(store, 3, HASH, PAYLOAD), NNL_ERR_SIZE);
	/* a truncated header after a good magic */
	assert_int_equal(nnl_weights_check(store, 31, HASH, PAYLOAD), NNL_ERR_SIZE);
	assert_int_equal(nnl_weights_check(store, 4, HASH, PAYLOAD), NNL_ERR_SIZE);
}

static void bad_version(void **state)
{
	(void)state;
	size_t n = make_blob();
	put32(store + 4, 2);
	assert_int_equal(nnl_weights_check(store, n, HASH, PAYLOAD), NNL_ERR_VERSION);
	put32(store + 4, 0);
	assert_int_equal(nnl_weights_check(store, n, HASH, PAYLOAD), NNL_ERR_VERSION);
	/* header sizes that no version writes */
	make_blob();
	put32(store + 8, 16);
	assert_int_equal(nnl_weights_check(store, n, HASH, PAYLOAD), NNL_ERR_VERSION);
	put32(store + 8, 40);
	assert_int_equal(nnl_weights_check(store, n, HASH, PAYLOAD), NNL_ERR_VERSION);
	/* unknown flags */
	make_blob();
	put32(store + 24, 1);
	assert_int_equal(nnl_weights_check(store, n, HASH, PAYLOAD), NNL_ERR_VERSION);
}

static void wrong_model(void **state)
{
	(void)state;
	size_t n = make_blob();
	assert_int_equal(nnl_weights_check(store, n, HASH ^ 1u, PAYLOAD), NNL_ERR_MODEL);
	const void *p = store;
	assert_int_equal(nnl_weights_bind(store, n, 0, PAYLOAD, &p), NNL_ERR_MODEL);
	assert_null(p);
}

static void size_mismatch(void **state)
{
	(void)state;
	size_t n = make_blob();
	/* the model expects another payload size */
	assert_int_equal(nnl_weights_check(store, n, HASH, PAYLOAD - 4), NNL_ERR_SIZE);
	assert_int_equal(nnl_weights_check(store, n, HASH, PAYLOAD + 4), NNL_ERR_SIZE);
	/* truncated payload */
	assert_int_equal(nnl_weights_check(store, n - 1, HASH, PAYLOAD), NNL_ERR_SIZE);
	assert_int_equal(nnl_weights_check(store, 32, HASH, PAYLOAD), NNL_ERR_SIZE);
	/* header and model agree on a huge payload: no overflow, still a size error */
	put32(store + 16, 0xFFFFFFF0u);
	assert_int_equal(nnl_weights_check(store, n, HASH, 0xFFFFFFF0u), NNL_ERR_SIZE);
	/* a header size beyond the blob */
	make_blob();
	put32(store + 8, 0xFFFFFFF0u);
	assert_int_equal(nnl_weights_check(store, n, HASH, PAYLOAD), NNL_ERR_SIZE);
	/* writer: destination too small for the header */
	assert_int_equal(nnl_weights_write_header(store, 31, HASH, store + 32, 4), NNL_ERR_SIZE);
}

static void corrupted_payload(void **state)
{
	(void)state;
	size_t n = make_blob();
	for (unsigned i = 0; i < PAYLOAD; i += 17) {
		for (int bit = 0; bit < 8; bit += 3) {
			make_blob();
			store[NNL_WEIGHTS_HEADER_BYTES + i] ^= (uint8_t)(1u << bit);
			assert_int_equal(nnl_weights_check(store, n, HASH, PAYLOAD), NNL_ERR_CHECKSUM);
		}
	}
	/* corrupted checksum field */
	make_blob();
	store[21] ^= 0x80;
	assert_int_equal(nnl_weights_check(store, n, HASH, PAYLOAD), NNL_ERR_CHECKSUM);
	/* two swapped payload words (a checksum that only sums would miss it) */
	make_blob();
	uint8_t t[4];
	memcpy(t, store + 40, 4);
	memcpy(store + 40, store + 44, 4);
	memcpy(store + 44, t, 4);
	assert_int_equal(nnl_weights_check(store, n, HASH, PAYLOAD), NNL_ERR_CHECKSUM);
}

static void status_strings(void **state)
{
	(void)state;
	assert_string_equal(nnl_status_str(NNL_OK), "ok");
	for (int i = 0; i < NNL_STATUS_COUNT; i++) {
		assert_non_null(nnl_status_str(i));
		assert_string_not_equal(nnl_status_str(i), "unknown status");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(nnl_status_str(i), nnl_status_str(j));
	}
	assert_string_equal(nnl_status_str(-1), "unknown status");
	assert_string_equal(nnl_status_str(NNL_STATUS_COUNT), "unknown status");
	assert_string_equal(nnl_status_str(NNL_ERR_CHECKSUM), "weights checksum mismatch");
}

static void align_helper(void **state)
{
	(void)state;
	assert_int_equal(nnl_weights_align(0), 0);
	assert_int_equal(nnl_weights_align(1), 16);
	assert_int_equal(nnl_weights_align(16), 16);
	assert_int_equal(nnl_weights_align(17), 32);
	assert_true(nnl_weights_align((size_t)-1) == (size_t)-1);
	assert_true(nnl_weights_align((size_t)-20) == (size_t)-16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc_matches_zlib),
		cmocka_unit_test(fnv_known_values),
		cmocka_unit_test(header_layout),
		cmocka_unit_test(good_blob_binds),
		cmocka_unit_test(empty_payload),
		cmocka_unit_test(larger_header_is_accepted),
		cmocka_unit_test(null_pointers),
		cmocka_unit_test(misaligned),
		cmocka_unit_test(bad_magic),
		cmocka_unit_test(bad_version),
		cmocka_unit_test(wrong_model),
		cmocka_unit_test(size_mismatch),
		cmocka_unit_test(corrupted_payload),
		cmocka_unit_test(status_strings),
		cmocka_unit_test(align_helper),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
