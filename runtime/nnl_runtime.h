/* nnl_runtime.h — the device-side runtime of nnllc-generated code.
 *
 * Freestanding C11: needs only <stddef.h> and <stdint.h>, no libc, no malloc,
 * no global or static mutable state, so every function is re-entrant and may
 * be called from any thread or interrupt. It depends on nothing of the
 * compiler; the compiler links the same file for the host-side writer.
 *
 * Status codes
 *   Every function that can fail returns one of the NNL_* codes below; 0 is
 *   success, every failure is a small positive number (generated
 *   PREFIX_run functions return the same codes). nnl_status_str() names them.
 *
 * External weights blob (-weights=external), all integers little-endian:
 *
 *   offset size field
 *        0    4 magic         "NNLW" (bytes 0x4E 0x4E 0x4C 0x57)
 *        4    4 version       NNL_WEIGHTS_VERSION (1)
 *        8    4 header_size   bytes before the payload: >= 32, multiple of 16
 *       12    4 model_hash    identifies the model the blob was written for
 *       16    4 payload_size  bytes of payload
 *       20    4 checksum      CRC-32 (IEEE 802.3, as zlib's crc32) of the payload
 *       24    4 flags         0 (reserved for later versions)
 *       28    4 reserved      0
 *   header_size  payload_size payload: the const buffers of the model, each at
 *                the offset the compiler chose, every offset a multiple of
 *                NNL_WEIGHTS_ALIGN from the start of the payload.
 *
 * The blob itself must be NNL_WEIGHTS_ALIGN-aligned in memory, so that every
 * buffer inside it is aligned for the vector loads of the generated code.
 * The header is read byte by byte: the checks work on any-endian hosts.
 */
#ifndef NNL_RUNTIME_H
#define NNL_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. */
enum {
	NNL_OK = 0,          /* success */
	NNL_ERR_NULL = 1,    /* a required pointer argument is NULL */
	NNL_ERR_ALIGN = 2,   /* the blob (or arena) is not NNL_WEIGHTS_ALIGN-aligned */
	NNL_ERR_MAGIC = 3,   /* the blob does not start with "NNLW": not a weights blob */
	NNL_ERR_VERSION = 4, /* blob format version, header size or flags this runtime does not know */
	NNL_ERR_SIZE = 5,    /* blob shorter than its header says, or payload size differs
	                        from the one the model was compiled with */
	NNL_ERR_CHECKSUM = 6,/* payload CRC-32 differs from the header's: corrupted or truncated copy */
	NNL_ERR_MODEL = 7,   /* blob written for another model (model hash differs) */
	NNL_STATUS_COUNT = 8
};

#define NNL_WEIGHTS_MAGIC0 0x4Eu /* 'N' */
#define NNL_WEIGHTS_MAGIC1 0x4Eu /* 'N' */
#define NNL_WEIGHTS_MAGIC2 0x4Cu /* 'L' */
#define NNL_WEIGHTS_MAGIC3 0x57u /* 'W' */
#define NNL_WEIGHTS_VERSION 1u
#define NNL_WEIGHTS_HEADER_BYTES 32u /* header size this version writes */
#define NNL_WEIGHTS_ALIGN 16u        /* blob and payload buffer alignment */

/* A constant string naming a status code ("ok", "null pointer", ...);
 * "unknown status" for any other value. Never NULL. */
const char *nnl_status_str(int status);

/* Check a weights blob of `size` bytes at `blob` against what the generated
 * code expects: its model hash and payload size (both in PREFIX.h).
 * Checks, in this order: NULL → NNL_ERR_NULL; alignment → NNL_ERR_ALIGN;
 * size < 4 → NNL_ERR_SIZE; magic → NNL_ERR_MAGIC; size < 32 → NNL_ERR_SIZE;
 * version, header size, flags → NNL_ERR_VERSION; model hash → NNL_ERR_MODEL;
 * payload size in header != payload_size → NNL_ERR_SIZE; size < header size +
 * payload size → NNL_ERR_SIZE; CRC-32 → NNL_ERR_CHECKSUM. Bytes after the
 * payload (padding of flash pages) are allowed and ignored. */
int nnl_weights_check(const void *blob, size_t size, uint32_t model_hash, uint32_t payload_size);

/* nnl_weights_check, then *payload = the first payload byte (the base the
 * generated code adds its buffer offsets to). *payload is set to NULL on
 * failure. */
int nnl_weights_bind(const void *blob, size_t size, uint32_t model_hash, uint32_t payload_size,
                     const void **payload);

/* CRC-32 (reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF;
 * crc32("123456789") = 0xCBF43926). Chain calls by passing the previous result
 * as `crc`; start with 0. Uses a 16-entry const table (64 bytes of flash). */
uint32_t nnl_crc32(uint32_t crc, const void *data, size_t n);

/* FNV-1a 32-bit hash, for the compiler to derive a model hash from the
 * model's canonical text. Chain with the previous result; start with
 * NNL_FNV1A_INIT. */
#define NNL_FNV1A_INIT 0x811C9DC5u
uint32_t nnl_fnv1a32(uint32_t h, const void *data, size_t n);

/* ---- host side (plain C, also usable on a device) ------------------------ */

/* Round `offset` up to the next multiple of NNL_WEIGHTS_ALIGN: where the
 * writer places the next const buffer in the payload. SIZE_MAX on overflow. */
size_t nnl_weights_align(size_t offset);

/* Total blob size for a payload of payload_size bytes (header + payload). */
size_t nnl_weights_blob_size(uint32_t payload_size);

/* Write the 32-byte header into dst (dst_size >= NNL_WEIGHTS_HEADER_BYTES)
 * for the payload_size bytes at `payload` (CRC-32 computed here). The caller
 * copies the payload to dst + NNL_WEIGHTS_HEADER_BYTES (it may already be
 * there: payload may point inside dst). NNL_ERR_NULL, NNL_ERR_SIZE (dst too
 * small) or NNL_OK. */
int nnl_weights_write_header(void *dst, size_t dst_size, uint32_t model_hash, const void *payload,
                             uint32_t payload_size);

#ifdef __cplusplus
}
#endif

#endif
