// gzip inflation for the addon (gunzip.h).
#include "gunzip.h"
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
typedef int (*inflate_fn)(z_streamp, int);
typedef int (*inflate_end_fn)(z_streamp);
static struct {
  inflate_init_fn init;
  inflate_fn inflate;
  inflate_end_fn end;
} zlib_fns;
static pthread_once_t zlib_once = PTHREAD_ONCE_INIT;

static void find_zlib(void) {
  static const char *const prefixes[] = {"", "Cr_z_"};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
    char init[64], inflate_[64], end[64];
    snprintf(init, sizeof init, "%sinflateInit2_", prefixes[i]);
    snprintf(inflate_, sizeof inflate_, "%sinflate", prefixes[i]);
    snprintf(end, sizeof end, "%sinflateEnd", prefixes[i]);
    // All three from one zlib, never a mix.
    void *f_init = dlsym(RTLD_DEFAULT, init), *f_inflate = dlsym(RTLD_DEFAULT, inflate_), *f_end = dlsym(RTLD_DEFAULT, end);
    if (!f_init || !f_inflate || !f_end) continue;
    zlib_fns.init = (inflate_init_fn)f_init;
    zlib_fns.inflate = (inflate_fn)f_inflate;
    zlib_fns.end = (inflate_end_fn)f_end;
    return;
  }
}

size_t gunzip_size(const uint8_t *member, size_t length) {
  if (length < 18 || length > UINT32_MAX) return 0;
  const uint8_t *trailer = member + length - 4;
  return (size_t)trailer[0] | (size_t)trailer[1] << 8 | (size_t)trailer[2] << 16 | (size_t)trailer[3] << 24;
}

int gunzip_member(const uint8_t *member, size_t length, uint8_t *dest, size_t size) {
  if (size == 0 || size > UINT32_MAX || length > UINT32_MAX) return 0;
  pthread_once(&zlib_once, find_zlib);
  if (!zlib_fns.init) return 0;
  z_stream z;
  memset(&z, 0, sizeof z);
  if (zlib_fns.init(&z, 16 + MAX_WBITS, ZLIB_VERSION, (int)sizeof(z_stream)) != Z_OK) return 0;
  z.next_in = (Bytef *)member;
  z.avail_in = (uInt)length;
  z.next_out = dest;
  z.avail_out = (uInt)size;
  int ok = zlib_fns.inflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == size && z.avail_in == 0;
  zlib_fns.end(&z);
  return ok;
}
