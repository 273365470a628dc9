// gzip members for the addon (gzip.h): trees are sealed and opened as gzip.
#include "gzip.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

// zlib as the node binary (or the libz it links) exports it, found at run time: Node builds
// differ in whether they export it and under which names (Chromium's zlib prefixes them
// Cr_z_), and an addon that named a missing symbol would take the process down on first
// use. Without it, gzip records are left to the caller's zlib.
typedef int (*inflate_init_fn)(z_streamp, int, const char *, int);
typedef int (*deflate_init_fn)(z_streamp, int, int, int, int, int, const char *, int);
typedef int (*stream_fn)(z_streamp, int);
typedef int (*end_fn)(z_streamp);
static struct {
  inflate_init_fn inflate_init;
  stream_fn inflate;
  end_fn inflate_end;
  deflate_init_fn deflate_init;
  stream_fn deflate;
  end_fn deflate_end;
} zlib_fns;
static pthread_once_t zlib_once = PTHREAD_ONCE_INIT;

static void *zlib_symbol(const char *prefix, const char *name) {
  char full[64];
  snprintf(full, sizeof full, "%s%s", prefix, name);
  return dlsym(RTLD_DEFAULT, full);
}

static void find_zlib(void) {
  static const char *const prefixes[] = {"", "Cr_z_"};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
    // Each direction's functions from one zlib, never a mix.
    void *f_init = zlib_symbol(prefixes[i], "inflateInit2_"), *f_inflate = zlib_symbol(prefixes[i], "inflate"), *f_end = zlib_symbol(prefixes[i], "inflateEnd");
    if (!f_init || !f_inflate || !f_end) continue;
    zlib_fns.inflate_init = (inflate_init_fn)f_init;
    zlib_fns.inflate = (stream_fn)f_inflate;
    zlib_fns.inflate_end = (end_fn)f_end;
    void *d_init = zlib_symbol(prefixes[i], "deflateInit2_"), *d_deflate = zlib_symbol(prefixes[i], "deflate"), *d_end = zlib_symbol(prefixes[i], "deflateEnd");
    if (d_init && d_deflate && d_end) {
      zlib_fns.deflate_init = (deflate_init_fn)d_init;
      zlib_fns.deflate = (stream_fn)d_deflate;
      zlib_fns.deflate_end = (end_fn)d_end;
    }
    return;
  }
}

int gzip_available(void) {
  pthread_once(&zlib_once, find_zlib);
  return zlib_fns.deflate_init != NULL;
}

size_t gzip_bound(size_t length) {
  // deflateBound's formula for stored blocks, with the gzip header and trailer.
  return length + (length >> 12) + (length >> 14) + (length >> 25) + 13 + 18;
}

int gzip_member(const uint8_t *in, size_t length, uint8_t *out, size_t capacity, int level, size_t *written) {
  *written = 0;
  if (length > UINT32_MAX || capacity > UINT32_MAX || !gzip_available()) return 0;
  z_stream z;
  memset(&z, 0, sizeof z);
  // Node's zlib.gzip with these options writes the same member: window 2^15, memLevel 8.
  if (zlib_fns.deflate_init(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, (int)sizeof(z_stream)) != Z_OK) return 0;
  z.next_in = (Bytef *)in;
  z.avail_in = (uInt)length;
  z.next_out = out;
  z.avail_out = (uInt)capacity;
  if (zlib_fns.deflate(&z, Z_FINISH) == Z_STREAM_END) *written = (size_t)z.total_out;
  zlib_fns.deflate_end(&z);
  return 1;
}

size_t gunzip_size(const uint8_t *member, size_t length) {
  if (length < 18 || length > UINT32_MAX) return 0;
  const uint8_t *trailer = member + length - 4;
  return (size_t)trailer[0] | (size_t)trailer[1] << 8 | (size_t)trailer[2] << 16 | (size_t)trailer[3] << 24;
}

int gunzip_member(const uint8_t *member, size_t length, uint8_t *dest, size_t size) {
  if (size == 0 || size > UINT32_MAX || length > UINT32_MAX) return 0;
  pthread_once(&zlib_once, find_zlib);
  if (!zlib_fns.inflate_init) return 0;
  z_stream z;
  memset(&z, 0, sizeof z);
  if (zlib_fns.inflate_init(&z, 16 + MAX_WBITS, ZLIB_VERSION, (int)sizeof(z_stream)) != Z_OK) return 0;
  z.next_in = (Bytef *)member;
  z.avail_in = (uInt)length;
  z.next_out = dest;
  z.avail_out = (uInt)size;
  int ok = zlib_fns.inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == size && z.avail_in == 0;
  zlib_fns.inflate_end(&z);
  return ok;
}
