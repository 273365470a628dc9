#ifndef BKDR_GUNZIP_H
#define BKDR_GUNZIP_H
#include <stddef.h>
#include <stdint.h>

// The inflated size a gzip member's trailer gives (modulo 2^32), or 0 when it is too short to be one.
size_t gunzip_size(const uint8_t *member, size_t length);

// Inflates one gzip member into `dest`: 1 when it is exactly one member that inflates to
// exactly `size` bytes, 0 otherwise (damage, more members, or no zlib in this process:
// the caller then leaves it to Node's zlib, which decides whether it is damage).
int gunzip_member(const uint8_t *member, size_t length, uint8_t *dest, size_t size);

#endif
