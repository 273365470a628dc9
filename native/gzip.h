#ifndef BKDR_GZIP_H
#define BKDR_GZIP_H
#include <stddef.h>
#include <stdint.h>

// The inflated size a gzip member's trailer gives (modulo 2^32), or 0 when it is too short to be one.
size_t gunzip_size(const uint8_t *member, size_t length);

// Inflates one gzip member into `dest`: 1 when it is exactly one member that inflates to
// exactly `size` bytes, 0 otherwise (damage, more members, or no zlib in this process:
// the caller then leaves it to Node's zlib, which decides whether it is damage).
int gunzip_member(const uint8_t *member, size_t length, uint8_t *dest, size_t size);

// Whether this process's zlib can deflate (gzip_member never writes without it).
int gzip_available(void);

// Room gzip_member needs for `length` bytes at the worst (data that does not compress).
size_t gzip_bound(size_t length);

// `length` bytes as one gzip member at `level`, into `out`: 1, with its length in `*written`
// (0 when it does not fit `capacity`); 0 when zlib cannot start (none in this process to
// deflate with, a level outside -1..9, no memory).
int gzip_member(const uint8_t *in, size_t length, uint8_t *out, size_t capacity, int level, size_t *written);

#endif
