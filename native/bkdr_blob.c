// The repository engine's per-byte work, off the JavaScript thread: content-defined
// cut points with SHA-256 ids, and blob records sealed (LZ4 + AES-256-GCM) or opened.
//
// Why native: on the JavaScript thread these steps serialise a backup onto one core
// (FastCDC's loop, SHA-256, the cipher and LZ4 were ~30 % of a profile, with the rest
// of the pipeline waiting on them). Here each call is one piece of libuv pool work,
// so reads, hashing and sealing of different chunks run on every core at once.
// The cryptography is Node's own OpenSSL (its headers ship with Node, its symbols are
// exported by the node binary), not code of ours.
//
// It also frames LZ4 for what is not a blob record (WAL segments; compression.ts). Not
// an npm LZ4 binding: lz4-napi handed its output to JavaScript as memory V8 was never
// told about, so a backup streaming gigabytes grew by hundreds of MiB. Every result here
// is an ordinary Node Buffer (counted by V8) and scratch memory is reused.
//
// Records, decoded blobs and small files' data go straight into a Buffer the caller passes
// (`into`, usually reused from its pool) when it has room: copying them over on the
// JavaScript thread was 12 % of that thread's time on restore. Otherwise they are copied.
//
// Record format (docs/repository-format.md), unchanged:
//   plain:     tag byte || payload
//   encrypted: nonce(12) || AES-256-GCM(tag byte || payload) || auth tag(16)
// where tag 0 is raw and tag 1 is LZ4 (uint32 LE uncompressed size || LZ4 block).
#define _GNU_SOURCE  // O_NOATIME
#include <node_api.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include "vendor/lz4/lz4.h"
#include "gzip.h"
#include "index_scan.h"

#define NONCE_BYTES 12
#define AUTH_TAG_BYTES 16
#define KEY_BYTES 32
#define TAG_NONE 0
#define TAG_LZ4 1
#define TAG_GZIP 2
#define LZ4_PREFIX 4
// Stored raw unless LZ4 saves at least this share: decompressing would cost time for nothing.
#define MIN_SAVING_PERCENT 3
// How OP_SEAL compresses (its `compress`): not at all, LZ4, or a gzip member.
#define COMPRESS_NONE 0
#define COMPRESS_LZ4 1
#define COMPRESS_GZIP 2

enum op { OP_CUT, OP_SEAL, OP_OPEN, OP_HASH, OP_READ_SMALL, OP_SEAL_MANY, OP_OPEN_MANY, OP_WRITE_FILES, OP_LZ4, OP_STAT_MANY, OP_WRITE_OBJECT, OP_READ_DIR, OP_SCAN_DIR, OP_SCAN_DIRS, OP_ENVELOPE, OP_APPEND_FILE };

// Per-path results of OP_STAT_MANY (lstat, then whether it has extended attributes), as doubles:
// errno, st_mode, uid, gid, nlink, size, blocks as doubles; mtime, atime and ctime in ns as
// int64, dev, ino and rdev as uint64 (in the doubles' bytes: they do not fit a double); and
// xattrs: 1 some, 0 none, -1 unknown (listing failed); 1 when a time does not fit int64 ns.
#define STAT_META 15

// Per-entry results of OP_SCAN_DIR: STAT_META slots as above, then the symlink target's read:
// errno (0 when read or not a symlink), its offset into the names buffer and its length.
#define SCAN_META (STAT_META + 3)
// Bytes of an entry's own digest (entry_digests): SHA-256's first 16.
#define ENTRY_DIGEST_BYTES 16

// Per-file metadata for OP_WRITE_FILES, as doubles: mode, uid, gid, atime s, atime ns, mtime s, mtime ns.
#define FILE_META 7

// Per-record results of OP_OPEN_MANY, as doubles: offset, length, tag, failure (0, 1 authentication, 2 decompression), decoded.
// With a destination, a decoded record's offset is into the destination, a gzip/brotli payload's into the returned buffer.
#define OPEN_META 5

// Per-file results of OP_READ_SMALL, as doubles: offset, length, errno, grew, then mtime s, mtime ns and size
// after the read, then the same as opened.
#define SMALL_META 10
// Per-file results of OP_READ_SMALL's sealing (seal_after_read), as doubles: the record's offset, its length
// (0: not sealed, for a file that failed, grew or is empty), compression tag.
#define SMALL_SEAL_META 3

// Per-record results of OP_SEAL_MANY, as doubles: offset, length, compression tag.
#define SEAL_MANY_META 3

// Per-file results of OP_WRITE_FILES, as doubles: errno, the step that failed.
#define WRITE_FILES_META 2

// The one path's results of OP_WRITE_OBJECT (errno, the step that failed, whether O_DIRECT
// was used) and of OP_READ_DIR (errno, the count of names).
#define WRITE_OBJECT_META 3
#define READ_DIR_META 2
// OP_APPEND_FILE's results: errno, the step that failed (as OP_WRITE_OBJECT's), the bytes this
// call wrote, and 1 when any of them went with O_DIRECT.
#define APPEND_FILE_META 4

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref refs[3];
  int nrefs;
  enum op op;
  // inputs
  const uint8_t *input;
  size_t input_length;
  uint8_t key[KEY_BYTES];
  int has_key;
  // OP_CUT
  const uint32_t *gear;
  uint32_t min_size, avg_size, max_size, mask_s, mask_l;
  uint32_t scanned;  // OP_CUT: bytes at the input's start searched for a cut before, without one
  int final;  // also OP_APPEND_FILE: the last append (then fsync and close)
  // OP_SEAL: COMPRESS_LZ4 or COMPRESS_GZIP (at `level`) when it saves enough, else store `tag` as given
  int compress;
  int level;
  int want_hash;
  int chown;  // OP_WRITE_FILES: set owners (root only)
  int direct;  // OP_WRITE_OBJECT: try O_DIRECT for the aligned part
  // OP_ENVELOPE: a second part sealed after `input` (the header and the payload of a side object)
  const uint8_t *input2;
  size_t input2_length;
  // outputs
  uint8_t *output;
  size_t output_length;
  int out_tag;
  int decoded;  // OP_OPEN: output is the decompressed data (tags none and lz4)
  // OP_SEAL, OP_OPEN, OP_READ_SMALL and the _MANY ops: output goes here (a caller's Buffer) rather than into a copy
  uint8_t *dest;
  size_t dest_capacity;
  int dest_exact;  // OP_OPEN: the data must fill the destination (it is handed back whole)
  int in_dest;
  uint8_t hash[SHA256_DIGEST_LENGTH];
  uint32_t *lengths;
  uint8_t *ids;
  size_t count;
  // OP_READ_SMALL (paths, expected sizes) and OP_SEAL_MANY (inputs): one pool job for many small items
  size_t items;
  char **paths;
  double *expected;  // OP_READ_SMALL: expected sizes; OP_WRITE_FILES: per-file metadata (FILE_META each)
  const uint8_t **inputs;
  size_t *input_lengths;
  double *meta;
  size_t meta_length;  // doubles in meta when not items times the op's per-item count (OP_SCAN_DIR)
  double max_stat;  // OP_SCAN_DIR: stat entries only up to this many
  int has_digest;  // `hash` holds OP_SCAN_DIR's listing digest (scan_digest), or OP_APPEND_FILE's file digest
  // OP_READ_SMALL: each file read is also sealed (as OP_SEAL with key, compress and level), its record
  // into dest2 (refs[dest2_ref]) when that holds them all at their largest, else into output2
  int seal_after_read;
  uint8_t *dest2;
  size_t dest2_capacity;
  int dest2_ref;
  int in_dest2;
  uint8_t *output2;
  size_t output2_length;
  double *meta2;
  void *scans;  // OP_SCAN_DIRS: one OP_SCAN_DIR job per path (jobs, `items` of them)
  // OP_SCAN_DIR: the scan of the directory's only subdirectory (entry lone_index), made in the
  // same trip (follow_lone_subdir); how many more such scans down the chain it may make, and
  // the entries they may hold before it stops following
  void *lone;
  size_t lone_index;
  int lone_depth;
  double lone_entries;
  void *appended;  // OP_APPEND_FILE: the file (appended_file), marked busy while the job lives
  const char *error;
  const char *error_code;
} job;

// ---- pure work (no JavaScript; runs on a pool thread or inline) ----

// The gear hash's bytes before a position that decide it: each step shifts the 32-bit hash left by one.
#define GEAR_WINDOW 32

// `scanned`: the chunk's first bytes were searched for a cut before (the tail of an earlier call),
// and held none before their last byte. That one is searched again: the earlier search answered
// the tail's length both for a cut there and for none. The search goes on from there, the hash
// taken again from the window before it.
static uint32_t cut_point(const job *j, const uint8_t *buf, size_t n, size_t scanned) {
  if (n <= j->min_size) return (uint32_t)n;
  if (n > j->max_size) n = j->max_size;
  size_t normal = n < j->avg_size ? n : j->avg_size;
  uint32_t hash = 0;
  size_t i = j->min_size;
  if (scanned > n) scanned = n;
  if (scanned > 0) scanned--;
  if (scanned >= j->min_size + GEAR_WINDOW) {
    for (i = scanned - GEAR_WINDOW; i < scanned; i++) hash = (hash << 1) + j->gear[buf[i]];
  }
  for (; i < normal; i++) {
    hash = (hash << 1) + j->gear[buf[i]];
    if ((hash & j->mask_s) == 0) return (uint32_t)(i + 1);
  }
  for (; i < n; i++) {
    hash = (hash << 1) + j->gear[buf[i]];
    if ((hash & j->mask_l) == 0) return (uint32_t)(i + 1);
  }
  return (uint32_t)n;
}

// Chunks whose end is certain: every cut when `final`, else those not touching the buffer's end
// (a cut depends only on bytes before it, but a chunk ending at the end may grow with more input).
static void run_cut(job *j) {
  size_t capacity = j->input_length / j->min_size + 2;
  j->lengths = malloc(capacity * sizeof(uint32_t));
  j->ids = malloc(capacity * SHA256_DIGEST_LENGTH);
  if (!j->lengths || !j->ids) { j->error = "out of memory"; return; }
  size_t pos = 0;
  while (pos < j->input_length) {
    size_t rest = j->input_length - pos;
    uint32_t len = cut_point(j, j->input + pos, rest, pos == 0 ? j->scanned : 0);
    if (len == rest && !j->final && rest < j->max_size) break;
    SHA256(j->input + pos, len, j->ids + j->count * SHA256_DIGEST_LENGTH);
    j->lengths[j->count++] = len;
    pos += len;
  }
}

// One cipher context per thread and direction, keyed once: OpenSSL 3's implicit algorithm
// fetch and the AES key schedule cost more than sealing a small file's few KiB.
typedef struct {
  EVP_CIPHER_CTX *ctx;
  uint8_t key[KEY_BYTES];
  int keyed;
} cipher_slot;

static __thread cipher_slot tls_cipher[2];
static EVP_CIPHER *aes_gcm;

static EVP_CIPHER_CTX *keyed_context(int encrypt, const uint8_t *key) {
  cipher_slot *slot = &tls_cipher[encrypt ? 1 : 0];
  if (!slot->ctx && !(slot->ctx = EVP_CIPHER_CTX_new())) return NULL;
  if (slot->keyed && memcmp(slot->key, key, KEY_BYTES) == 0) return slot->ctx;
  slot->keyed = 0;
  int ok = encrypt ? EVP_EncryptInit_ex(slot->ctx, aes_gcm, NULL, key, NULL) : EVP_DecryptInit_ex(slot->ctx, aes_gcm, NULL, key, NULL);
  if (ok != 1) return NULL;
  memcpy(slot->key, key, KEY_BYTES);
  slot->keyed = 1;
  return slot->ctx;
}

// Nonces come from a per-thread pool refilled 256 at a time: one CSPRNG call per record showed up.
static __thread uint8_t tls_nonces[NONCE_BYTES * 256];
static __thread size_t tls_nonce_offset = sizeof(tls_nonces);

static int fresh_nonce(uint8_t *out) {
  if (tls_nonce_offset + NONCE_BYTES > sizeof(tls_nonces)) {
    if (RAND_bytes(tls_nonces, sizeof(tls_nonces)) != 1) return 0;
    tls_nonce_offset = 0;
  }
  memcpy(out, tls_nonces + tls_nonce_offset, NONCE_BYTES);
  OPENSSL_cleanse(tls_nonces + tls_nonce_offset, NONCE_BYTES);
  tls_nonce_offset += NONCE_BYTES;
  return 1;
}

static int gcm(int encrypt, const uint8_t *key, const uint8_t *nonce, const uint8_t *in1, size_t n1, const uint8_t *in2, size_t n2, uint8_t *out, uint8_t *auth_tag) {
  EVP_CIPHER_CTX *ctx = keyed_context(encrypt, key);
  if (!ctx) return 0;
  int ok = 0, len = 0;
  if (encrypt) {
    ok = EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) == 1 &&
         EVP_EncryptUpdate(ctx, out, &len, in1, (int)n1) == 1 &&
         (n2 == 0 || EVP_EncryptUpdate(ctx, out + n1, &len, in2, (int)n2) == 1) &&
         EVP_EncryptFinal_ex(ctx, out + n1 + n2, &len) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, AUTH_TAG_BYTES, auth_tag) == 1;
  } else {
    ok = EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) == 1 &&
         EVP_DecryptUpdate(ctx, out, &len, in1, (int)n1) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, AUTH_TAG_BYTES, auth_tag) == 1 &&
         EVP_DecryptFinal_ex(ctx, out + n1, &len) == 1;
  }
  // A failed operation leaves the context in an unknown state: key it afresh next time.
  if (!ok) tls_cipher[encrypt ? 1 : 0].keyed = 0;
  return ok;
}

// Scratch for LZ4 output, per thread, grown as needed and kept: a malloc per record was measurable.
static __thread uint8_t *tls_scratch;
static __thread size_t tls_scratch_size;

static uint8_t *scratch(size_t size) {
  if (size > tls_scratch_size) {
    free(tls_scratch);
    tls_scratch = malloc(size);
    tls_scratch_size = tls_scratch ? size : 0;
  }
  return tls_scratch;
}

// Scratch up to this size stays with its thread between jobs. Kept at the size of the
// largest chunk (8 MiB), four pool threads held 32 MiB or more for the whole run; a large
// record's fresh allocation costs far less than its sealing or opening.
#define SCRATCH_KEPT (1024 * 1024)

static void trim_scratch(void) {
  if (tls_scratch_size <= SCRATCH_KEPT) return;
  free(tls_scratch);
  tls_scratch = NULL;
  tls_scratch_size = 0;
}

// LZ4 in bkdr's framing: the uncompressed size (uint32 LE), then one block. `out` holds
// LZ4_PREFIX + LZ4_compressBound(n); returns the framed length, or 0 on failure.
static size_t lz4_frame(const uint8_t *in, size_t n, uint8_t *out) {
  if (n > (size_t)LZ4_MAX_INPUT_SIZE) return 0;
  out[0] = n & 0xff; out[1] = (n >> 8) & 0xff; out[2] = (n >> 16) & 0xff; out[3] = (n >> 24) & 0xff;
  int written = LZ4_compress_default((const char *)in, (char *)out + LZ4_PREFIX, (int)n, LZ4_compressBound((int)n));
  return written > 0 ? (size_t)written + LZ4_PREFIX : 0;
}

// The uncompressed size a framed block declares, or -1 when it cannot be one.
static int64_t lz4_framed_size(const uint8_t *in, size_t length) {
  if (length < LZ4_PREFIX) return -1;
  uint32_t n = (uint32_t)in[0] | ((uint32_t)in[1] << 8) | ((uint32_t)in[2] << 16) | ((uint32_t)in[3] << 24);
  return n > (uint32_t)LZ4_MAX_INPUT_SIZE ? -1 : (int64_t)n;
}

// Decompresses a framed block of declared size `n` into `out`; 0 when the data is corrupt.
static int lz4_unframe_into(const uint8_t *in, size_t length, uint8_t *out, int64_t n) {
  int got = LZ4_decompress_safe((const char *)in + LZ4_PREFIX, (char *)out, (int)(length - LZ4_PREFIX), (int)n);
  return got >= 0 && (int64_t)got == n;
}

// The inverse of lz4_frame: a malloc'd buffer of the framed size, or NULL when the data is corrupt.
static uint8_t *lz4_unframe(const uint8_t *in, size_t length, size_t *out_length) {
  int64_t n = lz4_framed_size(in, length);
  if (n < 0) return NULL;
  uint8_t *out = malloc(n > 0 ? (size_t)n : 1);
  if (!out) return NULL;
  if (!lz4_unframe_into(in, length, out, n)) {
    free(out);
    return NULL;
  }
  *out_length = (size_t)n;
  return out;
}

// OP_LZ4: compress (or decompress) in bkdr's framing, for what is not a blob record (WAL segments).
static void run_lz4(job *j) {
  if (j->compress) {
    if (j->input_length > (size_t)LZ4_MAX_INPUT_SIZE) { j->error = "input too large for one LZ4 block"; return; }
    size_t bound = (size_t)LZ4_compressBound((int)j->input_length) + LZ4_PREFIX;
    // Into the caller's Buffer when it has room for the worst case: a fresh 16 MiB output
    // per WAL file was mapped and faulted in anew each time.
    j->in_dest = j->dest && bound <= j->dest_capacity;
    uint8_t *out = j->in_dest ? j->dest : (j->output = malloc(bound));
    if (!out) { j->error = "out of memory"; return; }
    j->output_length = lz4_frame(j->input, j->input_length, out);
    if (j->output_length == 0) j->error = "LZ4 compression failed";
  } else {
    j->output = lz4_unframe(j->input, j->input_length, &j->output_length);
    if (!j->output) j->error = "LZ4 data is corrupt";
  }
}

// The compressed payload of `j`'s input (in scratch), its length and tag; 0 when it does not pay
// (or cannot be made: then j->error says why).
static size_t compress_payload(job *j, uint8_t **payload, int *tag) {
  if (j->input_length < 64) return 0;
  size_t total = 0;
  if (j->compress == COMPRESS_LZ4 && j->input_length <= (size_t)LZ4_MAX_INPUT_SIZE) {
    *payload = scratch((size_t)LZ4_compressBound((int)j->input_length) + LZ4_PREFIX);
    if (!*payload) { j->error = "out of memory"; return 0; }
    total = lz4_frame(j->input, j->input_length, *payload);
    *tag = TAG_LZ4;
  } else if (j->compress == COMPRESS_GZIP) {
    size_t bound = gzip_bound(j->input_length);
    *payload = scratch(bound);
    if (!*payload) { j->error = "out of memory"; return 0; }
    if (!gzip_member(j->input, j->input_length, *payload, bound, j->level, &total)) { j->error = "gzip compression cannot start (a level outside 0-9?)"; return 0; }
    *tag = TAG_GZIP;
  }
  return total > 0 && total * 100 <= j->input_length * (100 - MIN_SAVING_PERCENT) ? total : 0;
}

static void run_seal(job *j) {
  if (j->want_hash) SHA256(j->input, j->input_length, j->hash);
  const uint8_t *payload = j->input;
  size_t payload_length = j->input_length;
  j->out_tag = j->compress ? TAG_NONE : j->out_tag;
  if (j->compress) {
    uint8_t *compressed = NULL;
    int tag = TAG_NONE;
    size_t total = compress_payload(j, &compressed, &tag);
    if (j->error) return;
    if (total > 0) {
      payload = compressed;
      payload_length = total;
      j->out_tag = tag;
    }
  }
  uint8_t tag_byte = (uint8_t)j->out_tag;
  j->output_length = (j->has_key ? NONCE_BYTES + AUTH_TAG_BYTES : 0) + 1 + payload_length;
  // Into the caller's Buffer when it has room (a seal_many item's `one` has no destination).
  j->in_dest = j->dest && j->output_length <= j->dest_capacity;
  uint8_t *out = j->in_dest ? j->dest : (j->output = malloc(j->output_length));
  if (!out) { j->error = "out of memory"; return; }
  if (j->has_key) {
    if (!fresh_nonce(out)) { j->error = "no random nonce"; return; }
    if (!gcm(1, j->key, out, &tag_byte, 1, payload, payload_length, out + NONCE_BYTES, out + j->output_length - AUTH_TAG_BYTES)) j->error = "encryption failed";
  } else {
    out[0] = tag_byte;
    memcpy(out + 1, payload, payload_length);
  }
}

// A gzip member (trees; data blobs when gzip is configured) inflated straight into the
// caller's Buffer: in JavaScript each record was two more trips to the pool (zlib, then
// the hash), and a restore plan waited for each. Only the plain case, one member that
// fills the size its trailer gives: anything else is left to the caller's zlib, which
// decides whether it is damage.
static int gunzip_into(job *j, const uint8_t *payload, size_t payload_length) {
  size_t n = gunzip_size(payload, payload_length);
  if (n == 0 || n > j->dest_capacity || (j->dest_exact && n != j->dest_capacity)) return 0;
  if (!gunzip_member(payload, payload_length, j->dest, n)) return 0;
  j->output_length = n;
  return 1;
}

static void run_open(job *j) {
  const uint8_t *plain = j->input;
  size_t plain_length = j->input_length;
  uint8_t *decrypted = NULL;
  if (j->has_key) {
    if (j->input_length < NONCE_BYTES + AUTH_TAG_BYTES + 1) { j->error = "sealed record too short"; j->error_code = "EAUTH"; return; }
    plain_length = j->input_length - NONCE_BYTES - AUTH_TAG_BYTES;
    decrypted = scratch(plain_length);
    if (!decrypted) { j->error = "out of memory"; return; }
    uint8_t auth_tag[AUTH_TAG_BYTES];
    memcpy(auth_tag, j->input + j->input_length - AUTH_TAG_BYTES, AUTH_TAG_BYTES);
    if (!gcm(0, j->key, j->input, j->input + NONCE_BYTES, plain_length, NULL, 0, decrypted, auth_tag)) {
      j->error = "record fails authentication";
      j->error_code = "EAUTH";
      return;
    }
    plain = decrypted;
  }
  if (plain_length < 1) { j->error = "record is empty"; j->error_code = "ECOMPRESSION"; return; }
  j->out_tag = plain[0];
  const uint8_t *payload = plain + 1;
  size_t payload_length = plain_length - 1;
  if (j->dest && (j->out_tag == TAG_LZ4 || j->out_tag == TAG_NONE)) {
    // Straight into the caller's Buffer: no copy for the JavaScript thread to make.
    int64_t n = j->out_tag == TAG_LZ4 ? lz4_framed_size(payload, payload_length) : (int64_t)payload_length;
    if (n < 0 || (size_t)n > j->dest_capacity || (j->dest_exact && (size_t)n != j->dest_capacity) || (j->out_tag == TAG_LZ4 && !lz4_unframe_into(payload, payload_length, j->dest, n))) {
      j->error = j->out_tag == TAG_LZ4 ? "LZ4 data is corrupt" : "record's size differs from its index entry";
      j->error_code = "ECOMPRESSION";
      return;
    }
    if (j->out_tag == TAG_NONE) memcpy(j->dest, payload, payload_length);
    j->output_length = (size_t)n;
    j->in_dest = 1;
    j->decoded = 1;
  } else if (j->out_tag == TAG_LZ4) {
    j->output = lz4_unframe(payload, payload_length, &j->output_length);
    if (!j->output) {
      j->error = "LZ4 data is corrupt";
      j->error_code = "ECOMPRESSION";
      return;
    }
    j->decoded = 1;
  } else if (j->dest && j->out_tag == TAG_GZIP && gunzip_into(j, payload, payload_length)) {
    j->in_dest = 1;
    j->decoded = 1;
  } else {
    // Raw, brotli, or gzip that gunzip_into left alone, which the caller decodes with zlib: hand back the payload.
    j->output = malloc(payload_length > 0 ? payload_length : 1);
    if (!j->output) { j->error = "out of memory"; return; }
    memcpy(j->output, payload, payload_length);
    j->output_length = payload_length;
    j->decoded = j->out_tag == TAG_NONE;
  }
  if (j->decoded) SHA256(j->in_dest ? j->dest : j->output, j->output_length, j->hash);
}

// The most a record of `length` bytes of input takes: the raw input sealed (run_seal keeps a
// compressed payload only when it is shorter).
static size_t record_bound(size_t length) {
  return NONCE_BYTES + 1 + AUTH_TAG_BYTES + length;
}

// Seals one input as run_seal does, with `j`'s key and compression, into `out` at `*used`
// (room for record_bound of it), and notes the record's offset, length and compression tag in
// `record` (SEAL_MANY_META doubles); false, with j->error set, when it fails.
static int seal_into(job *j, const uint8_t *input, size_t length, uint8_t *out, size_t *used, double *record) {
  job one = {0};
  one.input = input;
  one.input_length = length;
  memcpy(one.key, j->key, KEY_BYTES);
  one.has_key = j->has_key;
  one.compress = j->compress;
  one.level = j->level;
  one.out_tag = j->out_tag;
  one.dest = out + *used;
  one.dest_capacity = record_bound(length);
  run_seal(&one);
  OPENSSL_cleanse(one.key, KEY_BYTES);
  free(one.output);
  if (one.error) {
    j->error = one.error;
    return 0;
  }
  record[0] = (double)*used;
  record[1] = (double)one.output_length;
  record[2] = one.out_tag;
  *used += one.output_length;
  return 1;
}

// OP_READ_SMALL's second half when seal_after_read: the records of the files read (not those
// that failed, grew or are empty), one after another, so that a batch of small files is one
// trip to the pool instead of two (read and hash, then seal).
static void seal_reads(job *j, const uint8_t *data) {
  size_t capacity = 0;
  for (size_t i = 0; i < j->items; i++) capacity += record_bound((size_t)j->expected[i]);
  j->in_dest2 = j->dest2 && capacity <= j->dest2_capacity;
  uint8_t *all = j->in_dest2 ? j->dest2 : (j->output2 = malloc(capacity > 0 ? capacity : 1));
  j->meta2 = calloc(j->items * SMALL_SEAL_META + 1, sizeof(double));
  if (!all || !j->meta2) { j->error = "out of memory"; return; }
  size_t used = 0;
  for (size_t i = 0; i < j->items; i++) {
    const double *m = j->meta + i * SMALL_META;
    if (m[2] != 0 || m[3] != 0 || m[1] == 0) continue;
    if (!seal_into(j, data + (size_t)m[0], (size_t)m[1], all, &used, j->meta2 + i * SMALL_SEAL_META)) break;
  }
  j->output2_length = used;
}

// Reads each small file whole (one byte more than expected tells one that grew), stats the
// open file after the read, and hashes it; the data of all files goes into one output buffer.
static void run_read_small(job *j) {
  size_t capacity = 0;
  for (size_t i = 0; i < j->items; i++) capacity += (size_t)j->expected[i] + 1;
  j->in_dest = j->dest && capacity <= j->dest_capacity;
  if (!j->in_dest) j->output = malloc(capacity > 0 ? capacity : 1);
  uint8_t *out = j->in_dest ? j->dest : j->output;
  j->ids = calloc(j->items * SHA256_DIGEST_LENGTH + 1, 1);
  j->meta = calloc(j->items * SMALL_META + 1, sizeof(double));
  if (!out || !j->ids || !j->meta) { j->error = "out of memory"; return; }
  size_t used = 0;
  for (size_t i = 0; i < j->items; i++) {
    double *m = j->meta + i * SMALL_META;
    size_t want = (size_t)j->expected[i] + 1;
    // O_NONBLOCK: were the file swapped for a FIFO since its stat, opening it must not wait for a writer.
    int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
    int fd = open(j->paths[i], flags | O_NOATIME);
    // O_NOATIME is for the file's owner (or root) only.
    if (fd < 0 && errno == EPERM) fd = open(j->paths[i], flags);
    if (fd < 0) { m[2] = errno; continue; }
    struct stat st;
    size_t length = 0;
    int failed = fstat(fd, &st) != 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : 0;
    if (!failed) {
      // As opened: the caller's stat may be older (its directory's window of stats), and only the file as opened was read.
      m[7] = (double)st.st_mtim.tv_sec;
      m[8] = (double)st.st_mtim.tv_nsec;
      m[9] = (double)st.st_size;
    }
    while (!failed && length < want) {
      ssize_t n = read(fd, out + used + length, want - length);
      if (n < 0) { if (errno == EINTR) continue; failed = errno; break; }
      if (n == 0) break;
      length += (size_t)n;
      // Short: usually the end. The stat after the read says so without another read; a file
      // system that returns short reads mid-file (FUSE, network) gets the rest read.
      if (length < want && (fstat(fd, &st) != 0 || (off_t)length >= st.st_size)) break;
    }
    close(fd);
    if (failed) { m[2] = failed; continue; }
    m[0] = (double)used;
    m[1] = (double)length;
    m[3] = length == want;
    m[4] = (double)st.st_mtim.tv_sec;
    m[5] = (double)st.st_mtim.tv_nsec;
    m[6] = (double)st.st_size;
    if (length == want) continue;
    SHA256(out + used, length, j->ids + i * SHA256_DIGEST_LENGTH);
    used += length;
  }
  j->output_length = used;
  if (j->seal_after_read) seal_reads(j, out);
}

// Seals each input as run_seal does; all records go into one output buffer.
// Per item, as doubles: offset, length, compression tag.
static void run_seal_many(job *j) {
  size_t capacity = 0;
  for (size_t i = 0; i < j->items; i++) capacity += record_bound(j->input_lengths[i]);
  j->in_dest = j->dest && capacity <= j->dest_capacity;
  uint8_t *all = j->in_dest ? j->dest : malloc(capacity > 0 ? capacity : 1);
  j->meta = calloc(j->items * SEAL_MANY_META + 1, sizeof(double));
  if (!all || !j->meta) { if (!j->in_dest) free(all); j->error = "out of memory"; return; }
  size_t used = 0;
  for (size_t i = 0; i < j->items; i++) {
    if (!seal_into(j, j->inputs[i], j->input_lengths[i], all, &used, j->meta + i * SEAL_MANY_META)) break;
  }
  if (!j->in_dest) j->output = all;
  j->output_length = used;
}

// Opens each record as run_open does; all data goes into one output buffer, hashes into ids.
static void run_open_many(job *j) {
  j->meta = calloc(j->items * OPEN_META + 1, sizeof(double));
  j->ids = calloc(j->items * SHA256_DIGEST_LENGTH + 1, 1);
  uint8_t **outputs = calloc(j->items + 1, sizeof(uint8_t *));
  if (!j->meta || !j->ids || !outputs) { free(outputs); j->error = "out of memory"; return; }
  size_t total = 0, in_dest = 0;
  for (size_t i = 0; i < j->items; i++) {
    job one = {0};
    one.input = j->inputs[i];
    one.input_length = j->input_lengths[i];
    memcpy(one.key, j->key, KEY_BYTES);
    one.has_key = j->has_key;
    if (j->dest) {
      one.dest = j->dest + in_dest;
      one.dest_capacity = j->dest_capacity - in_dest;
    }
    run_open(&one);
    OPENSSL_cleanse(one.key, KEY_BYTES);
    double *m = j->meta + i * OPEN_META;
    if (one.error) {
      m[3] = one.error_code && strcmp(one.error_code, "EAUTH") == 0 ? 1 : 2;
      free(one.output);
      continue;
    }
    m[1] = (double)one.output_length;
    m[2] = one.out_tag;
    m[4] = one.decoded;
    if (one.decoded) memcpy(j->ids + i * SHA256_DIGEST_LENGTH, one.hash, SHA256_DIGEST_LENGTH);
    if (one.in_dest) {
      m[0] = (double)in_dest;
      in_dest += one.output_length;
      continue;
    }
    outputs[i] = one.output;
    total += one.output_length;
  }
  j->output = malloc(total > 0 ? total : 1);
  if (!j->output) j->error = "out of memory";
  size_t used = 0;
  for (size_t i = 0; i < j->items; i++) {
    if (!outputs[i]) continue;  // failed, or decoded into the destination
    double *m = j->meta + i * OPEN_META;
    if (j->output) memcpy(j->output + used, outputs[i], (size_t)m[1]);
    m[0] = (double)used;
    used += (size_t)m[1];
    free(outputs[i]);
  }
  free(outputs);
  j->output_length = used;
}

// Writes all of `data` at the descriptor's position; 0 or an errno.
static int write_all(int fd, const uint8_t *data, size_t length, size_t *written) {
  while (*written < length) {
    ssize_t n = write(fd, data + *written, length - *written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    *written += (size_t)n;
  }
  return 0;
}

// The group a file created at `path` gets: its directory's when that directory is setgid, else
// the process's. The directory's answer is kept for the next path in it (a restore writes a
// directory's files together). -1 when the path has no directory part or it cannot be stat'ed.
typedef struct {
  char dir[4096];
  size_t length;
  int known;
  gid_t group;
} new_file_group;

static int group_of_new_file(new_file_group *g, const char *path, gid_t own_gid, gid_t *group) {
  const char *slash = strrchr(path, '/');
  if (!slash) return -1;
  size_t length = (size_t)(slash - path);
  if (!g->known || length != g->length || memcmp(path, g->dir, length) != 0) {
    g->known = 0;
    if (length >= sizeof(g->dir)) return -1;
    memcpy(g->dir, path, length);
    g->dir[length] = '\0';
    struct stat st;
    if (stat(length ? g->dir : "/", &st) != 0) return -1;
    g->length = length;
    g->group = (st.st_mode & S_ISGID) ? st.st_gid : own_gid;
    g->known = 1;
  }
  *group = g->group;
  return 0;
}

// Creates each file (never through a link, never over an existing one) with its whole content,
// then, when given, its metadata through the open descriptor (no second path lookup), in the
// restorer's order: owner (only when `chown`), mode (after chown, which clears set-id bits),
// times. Owner and mode are changed only where the new file's differ: each change is a journaled
// inode update on ext4, and most restored files are owned by whoever restores them.
// A file that keeps the owner and group it is created with is created with its permission bits
// (never a set-id bit), and needs an fchmod only when the umask cut some or it has set-id or
// sticky bits: created 0600, 46,747 of the bench's real tree's 46,825 files needed one. A file
// to be given to another owner or group (a setgid directory's group counts) is created 0600, so
// that until it has them, only its creator reads it.
// Per file: 0 or the errno of what failed.
static void run_write_files(job *j) {
  j->meta = calloc(j->items * WRITE_FILES_META + 1, sizeof(double));
  if (!j->meta) { j->error = "out of memory"; return; }
  uid_t own_uid = geteuid();
  gid_t own_gid = getegid();
  new_file_group group = {.known = 0};
  for (size_t i = 0; i < j->items; i++) {
    double *result = j->meta + i * WRITE_FILES_META;  // errno, and the step that failed (WRITE_STEPS)
    const double *m = j->expected ? j->expected + i * FILE_META : NULL;  // the file's metadata: FILE_META
    gid_t new_group;
    int keeps_owner_and_group = m && (!j->chown || ((uid_t)m[1] == own_uid && group_of_new_file(&group, j->paths[i], own_gid, &new_group) == 0 && (gid_t)m[2] == new_group));
    mode_t created = keeps_owner_and_group ? (mode_t)m[0] & 0777 : 0600;
    int fd = open(j->paths[i], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, created);
    if (fd < 0) { result[0] = errno; continue; }
    size_t written = 0;
    int failed = write_all(fd, j->inputs[i], j->input_lengths[i], &written), step = failed ? 1 : 0;
    if (!failed && m) {
      struct timespec times[2] = {{(time_t)m[3], (long)m[4]}, {(time_t)m[5], (long)m[6]}};
      struct stat st;
      int known = fstat(fd, &st) == 0;
      int owned = known && st.st_uid == (uid_t)m[1] && st.st_gid == (gid_t)m[2];
      // A chown clears set-id bits, so the mode is set again after one; otherwise only where the
      // file was not created with its mode (the umask, set-id or sticky bits, or 0600 above).
      int chowned = j->chown && !owned;
      if (chowned && fchown(fd, (uid_t)m[1], (gid_t)m[2]) != 0) failed = errno, step = 2;
      else if ((chowned || !known || (st.st_mode & 07777) != (mode_t)m[0]) && fchmod(fd, (mode_t)m[0]) != 0) failed = errno, step = 3;
      else if (futimens(fd, times) != 0) failed = errno, step = 4;
    }
    if (close(fd) != 0 && !failed) failed = errno, step = 5;
    result[0] = failed;
    result[1] = step;
  }
}

// listxattrat (Linux 6.13) lists an entry's extended attributes by its name in an open
// directory: llistxattr resolves the entry's whole path again, component by component, which
// in a deep tree cost as much as the fstatat. Its number is the same on every architecture.
#ifndef __NR_listxattrat
#define __NR_listxattrat 465
#endif
static int has_listxattrat = 1;

// Whether the entry has extended attributes: > 0 yes, 0 no, -1 the check failed (errno).
static ssize_t xattr_names_length(int dirfd, const char *name, const char *path) {
  if (dirfd >= 0 && __atomic_load_n(&has_listxattrat, __ATOMIC_RELAXED)) {
    ssize_t names = syscall(__NR_listxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, NULL, (size_t)0);
    // ENOSYS: an older kernel; EPERM: a seccomp filter that does not know it (older Docker).
    if (names >= 0 || (errno != ENOSYS && errno != EPERM)) return names;
    __atomic_store_n(&has_listxattrat, 0, __ATOMIC_RELAXED);
  }
  return llistxattr(path, NULL, 0);
}

// One lstat result into STAT_META slots at m (slot 0, errno, stays 0), with the check for
// extended attributes of the same entry: `name` in `dirfd`, or `path` when dirfd is -1.
static void stat_slots(double *m, const struct stat *st, int dirfd, const char *name, const char *path) {
  m[1] = st->st_mode; m[2] = st->st_uid; m[3] = st->st_gid; m[4] = (double)st->st_nlink;
  m[5] = (double)st->st_size; m[6] = (double)st->st_blocks;
  // 64-bit integers in the slots after: the caller reads them as one BigInt each, through a
  // BigInt64Array over the same bytes, where building them from halves took several apiece.
  const struct timespec *times[3] = {&st->st_mtim, &st->st_atim, &st->st_ctim};
  int64_t ns[3];
  int outside = 0;
  for (int k = 0; k < 3; k++) {
    // Outside 1677..2262 a time in ns passes int64: the caller stats that path itself (slot 14).
    if (__builtin_mul_overflow((int64_t)times[k]->tv_sec, (int64_t)1000000000, &ns[k]) || __builtin_add_overflow(ns[k], (int64_t)times[k]->tv_nsec, &ns[k])) outside = 1;
  }
  uint64_t wide[3] = {(uint64_t)st->st_dev, (uint64_t)st->st_ino, (uint64_t)st->st_rdev};
  memcpy(m + 7, ns, sizeof(ns));
  memcpy(m + 10, wide, sizeof(wide));
  ssize_t names = xattr_names_length(dirfd, name, path);
  m[13] = names > 0 ? 1 : names == 0 || errno == ENOTSUP ? 0 : -1;
  m[14] = outside;
}

// lstat of each path, and whether it has extended attributes: the archiver's walk did both on
// the JavaScript thread, one system call at a time (a third of a no-op backup's main thread).
static void run_stat_many(job *j) {
  j->meta = calloc(j->items * STAT_META + 1, sizeof(double));
  if (!j->meta) { j->error = "out of memory"; return; }
  for (size_t i = 0; i < j->items; i++) {
    double *m = j->meta + i * STAT_META;
    struct stat st;
    if (lstat(j->paths[i], &st) != 0) { m[0] = errno; continue; }
    stat_slots(m, &st, -1, NULL, j->paths[i]);
  }
}

// A directory's entry names, each ended by a NUL (a name holds none), with O_NOATIME where the
// kernel allows it (the owner's or root's): like a file's read, a backup's listing should not
// move the directory's atime, which its parent's listing records (with relatime, once a day:
// every tree above a directory would change with every daily backup). Results: errno, count.
static DIR *open_dir(const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return NULL;
  DIR *dir = fdopendir(fd);
  if (!dir) {
    int err = errno;
    close(fd);
    errno = err;
  }
  return dir;
}

// Appends every name of `dir` to *names (each ended by a NUL); `.` and `..` left out. Returns
// readdir's errno (0 at the end of the listing), -1 out of memory.
static int read_names(DIR *dir, uint8_t **names, size_t *length, size_t *count) {
  size_t capacity = 4096;
  *names = malloc(capacity);
  *length = *count = 0;
  if (!*names) return -1;
  for (;;) {
    errno = 0;
    struct dirent *entry = readdir(dir);
    if (!entry) return errno;
    if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) continue;
    size_t n = strlen(entry->d_name) + 1;
    if (*length + n > capacity) {
      uint8_t *grown = realloc(*names, capacity * 2 + n);
      if (!grown) return -1;
      *names = grown;
      capacity = capacity * 2 + n;
    }
    memcpy(*names + *length, entry->d_name, n);
    *length += n;
    (*count)++;
  }
}

static void run_read_dir(job *j) {
  j->meta = calloc(READ_DIR_META, sizeof(double));
  if (!j->meta) { j->error = "out of memory"; return; }
  DIR *dir = open_dir(j->paths[0]);
  if (!dir) { j->meta[0] = errno; return; }
  uint8_t *names;
  size_t length, count;
  int failed = read_names(dir, &names, &length, &count);
  closedir(dir);
  if (failed < 0) { free(names); j->error = "out of memory"; return; }
  j->meta[0] = failed;
  j->meta[1] = (double)count;
  j->output = names;
  j->output_length = length;
}

static int compare_names(const void *a, const void *b) {
  // strcmp orders as unsigned bytes, a prefix first: Buffer.compare's order.
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// SHA-256 of a stat'ed listing: its names and symlink targets, then every entry's slots but
// two. The access time is left out (a read moves it; trees record the mtime in its place),
// and the device number is, but for hard-linked files (those trees record it for), reduced
// to whether the entry is on the directory's own file system: it changes at every mount of
// it (see sameFileIdentity), while a mount point below stays one. Two scans with the same
// digest list the same entries with the same lstat results: the archiver's directory cache
// (src/backup/dir-cache.ts) takes the tree it stored last time.
static int scan_digest(const uint8_t *names, size_t length, const double *meta, size_t count, dev_t dir_dev, uint8_t *out) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, names, length);
  for (size_t i = 0; ok && i < count; i++) {
    double m[SCAN_META];
    memcpy(m, meta + 2 + i * SCAN_META, sizeof(m));
    uint64_t dev;
    memcpy(&dev, m + 10, sizeof(dev));
    if (!(S_ISREG((mode_t)m[1]) && m[4] > 1)) dev = dev != (uint64_t)dir_dev;
    memcpy(m + 10, &dev, sizeof(dev));
    ok = EVP_DigestUpdate(ctx, m, 8 * sizeof(double)) && EVP_DigestUpdate(ctx, m + 9, (SCAN_META - 9) * sizeof(double));
  }
  unsigned int size = 0;
  ok = ok && EVP_DigestFinal_ex(ctx, out, &size);
  EVP_MD_CTX_free(ctx);
  return ok;
}

// Lone subdirectories scanned down a chain in one trip, at most (follow_lone_subdir), and the
// entries of a trip's scans past which none is followed (a trip's walk waits for all of it).
#define LONE_SUBDIRS_FOLLOWED 8
#define SCANS_ENTRIES 8192
static void follow_lone_subdir(job *j, dev_t own_dev);
static void free_scan(job *s);

// Frees what a scan job holds (its results, its lone subdirectory's scan; the paths when it owns them), not the job.
static void free_scan_results(job *s) {
  free(s->meta);
  free(s->output);
  s->meta = NULL;
  s->output = NULL;
  if (s->lone) free_scan(s->lone);
  s->lone = NULL;
}

// A scan job made by follow_lone_subdir: its results, its path and itself.
static void free_scan(job *s) {
  free_scan_results(s);
  free(s->paths[0]);
  free(s->paths);
  free(s);
}

// A directory's listing and the lstat of each entry, in one trip to the pool: listing and
// stat'ing apart, a no-op backup's walk took two trips per directory, and built and passed
// each entry's path. The listing as OP_READ_DIR's (O_NOATIME), sorted here; each entry
// fstatat'ed relative to the directory, a symlink's target read with readlinkat. Results:
// names sorted, each ended by a NUL, then the symlinks' targets; meta: errno, count, then
// SCAN_META per entry (none above `max_stat` entries: the caller stats those itself).
static void run_scan_dir(job *j) {
  j->meta = calloc(2, sizeof(double));
  j->meta_length = 2;
  if (!j->meta) { j->error = "out of memory"; return; }
  const char *path = j->paths[0];
  DIR *dir = open_dir(path);
  if (!dir) { j->meta[0] = errno; return; }
  uint8_t *raw;
  size_t length, count;
  int failed = read_names(dir, &raw, &length, &count);
  char **sorted = failed < 0 ? NULL : malloc((count + 1) * sizeof(char *));
  uint8_t *names = sorted ? malloc(length + 1) : NULL;
  if (!names) {
    free(raw);
    free(sorted);
    closedir(dir);
    j->error = "out of memory";
    return;
  }
  for (size_t i = 0, at = 0; i < count; i++) {
    sorted[i] = (char *)raw + at;
    at += strlen(sorted[i]) + 1;
  }
  qsort(sorted, count, sizeof(char *), compare_names);
  size_t at = 0;
  for (size_t i = 0; i < count; i++) {
    size_t n = strlen(sorted[i]) + 1;
    memcpy(names + at, sorted[i], n);
    at += n;
  }
  free(sorted);
  free(raw);
  j->meta[0] = failed;
  j->meta[1] = (double)count;
  j->output = names;
  j->output_length = length;
  if (failed || (double)count > j->max_stat) { closedir(dir); return; }
  double *meta = calloc(2 + count * SCAN_META, sizeof(double));
  // The entry's full path, for llistxattr where the kernel has no listxattrat (before 6.13): the directory's, then each name.
  size_t base = strlen(path);
  int root = base == 1 && path[0] == '/';
  size_t full_capacity = base + 2 + 256;
  char *full = malloc(full_capacity);
  if (!meta || !full) {
    free(meta);
    free(full);
    closedir(dir);
    j->error = "out of memory";
    return;
  }
  memcpy(meta, j->meta, 2 * sizeof(double));
  free(j->meta);
  j->meta = meta;
  j->meta_length = 2 + count * SCAN_META;
  memcpy(full, path, base);
  if (!root) full[base++] = '/';
  int fd = dirfd(dir);
  // Symlinks' targets go after the names.
  size_t targets_capacity = length, targets_length = length;
  for (size_t i = 0, offset = 0; i < count; i++) {
    const char *name = (const char *)j->output + offset;
    size_t n = strlen(name);
    offset += n + 1;
    double *m = meta + 2 + i * SCAN_META;
    struct stat st;
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) { m[0] = errno; continue; }
    if (base + n + 1 > full_capacity) {
      char *grown = realloc(full, base + n + 1);
      if (!grown) { j->error = "out of memory"; break; }
      full = grown;
      full_capacity = base + n + 1;
    }
    // The name from here on: `name` points into the output, which growing it for targets moves.
    memcpy(full + base, name, n + 1);
    stat_slots(m, &st, fd, full + base, full);
    if (!S_ISLNK(st.st_mode)) continue;
    // A target's length is the link's size (0 on some file systems: then from 256 bytes up).
    size_t want = st.st_size > 0 ? (size_t)st.st_size + 1 : 256;
    for (;;) {
      if (targets_length + want > targets_capacity) {
        size_t capacity = targets_capacity * 2 + want;
        uint8_t *grown = realloc(j->output, capacity);
        if (!grown) { j->error = "out of memory"; break; }
        j->output = grown;
        targets_capacity = capacity;
      }
      ssize_t got = readlinkat(fd, full + base, (char *)j->output + targets_length, want);
      if (got < 0) { m[15] = errno; break; }
      // Filled to the end: it may be longer (it changed since the fstatat).
      if ((size_t)got == want) { want *= 2; continue; }
      m[16] = (double)targets_length;
      m[17] = (double)got;
      targets_length += (size_t)got;
      break;
    }
    if (j->error) break;
  }
  free(full);
  struct stat own;
  int own_known = fstat(fd, &own) == 0;
  closedir(dir);
  j->output_length = targets_length;
  if (!j->error && own_known) j->has_digest = scan_digest(j->output, targets_length, meta, count, own.st_dev, j->hash);
  if (!j->error && own_known && j->lone_depth > 0) follow_lone_subdir(j, own.st_dev);
}

// A directory whose only subdirectory (on its own file system) the walk enters next: that one
// is scanned in the same trip, and its own only subdirectory after it, down to lone_depth and
// while the scans hold fewer than lone_entries. Package trees nest so (lib/, then src/ under
// it): in an incremental backup of the bench's real tree, 817 of its 1,579 scan trips were a
// lone subdirectory's, each made alone once the walk got there. The caller asks for it only
// where nothing can be excluded (ExcludeRules.mayExcludeIn); a .bkdrignore in the listing
// may exclude the subdirectory, so none is followed from there. A failed or short-of-memory
// follow is left out: the walk scans it.
static void follow_lone_subdir(job *j, dev_t own_dev) {
  size_t count = (size_t)j->meta[1];
  if (j->meta_length < 2 + count * SCAN_META || j->lone_entries - (double)count <= 0) return;
  size_t lone = count;
  const char *name = (const char *)j->output, *lone_name = NULL;
  for (size_t i = 0; i < count; i++, name += strlen(name) + 1) {
    if (strcmp(name, ".bkdrignore") == 0) return;
    const double *m = j->meta + 2 + i * SCAN_META;
    if (m[0] != 0 || !S_ISDIR((mode_t)m[1])) continue;
    if (lone < count) return;
    lone = i;
    lone_name = name;
  }
  if (lone == count) return;
  uint64_t dev;
  memcpy(&dev, j->meta + 2 + lone * SCAN_META + 10, sizeof(dev));
  if (dev != (uint64_t)own_dev) return;
  name = lone_name;
  const char *path = j->paths[0];
  size_t base = strlen(path), n = strlen(name);
  int root = base == 1 && path[0] == '/';
  job *f = calloc(1, sizeof(job));
  char **paths = f ? calloc(1, sizeof(char *)) : NULL;
  char *joined = paths ? malloc(base + n + 2) : NULL;
  if (!joined) {
    free(paths);
    free(f);
    return;
  }
  memcpy(joined, path, base);
  if (!root) joined[base++] = '/';
  memcpy(joined + base, name, n + 1);
  paths[0] = joined;
  f->op = OP_SCAN_DIR;
  f->items = 1;
  f->paths = paths;
  f->max_stat = j->max_stat;
  f->lone_depth = j->lone_depth - 1;
  f->lone_entries = j->lone_entries - (double)count;
  run_scan_dir(f);
  if (f->error || f->meta[0] != 0) {
    free_scan(f);
    return;
  }
  j->lone = f;
  j->lone_index = lone;
}

// Several directories' scans in one trip to the pool: a walk that has a directory's
// subdirectories to enter scans them all at once, where a trip each cost more than the
// scan of a small directory. Each as OP_SCAN_DIR's, its own result. Once the scans hold
// SCANS_ENTRIES entries, or one fails for want of memory, the rest are not scanned (their
// meta stays empty): the caller scans those alone.
static void run_scan_dirs(job *j) {
  job *scans = calloc(j->items ? j->items : 1, sizeof(job));
  j->scans = scans;
  if (!scans) { j->error = "out of memory"; return; }
  double entries = 0;
  for (size_t i = 0; i < j->items && entries < SCANS_ENTRIES; i++) {
    scans[i].op = OP_SCAN_DIR;
    scans[i].paths = j->paths + i;
    scans[i].max_stat = j->max_stat;
    scans[i].lone_depth = j->lone_depth;
    scans[i].lone_entries = SCANS_ENTRIES - entries;
    run_scan_dir(scans + i);
    if (scans[i].error) {
      free_scan_results(scans + i);
      memset(scans + i, 0, sizeof(job));
      break;
    }
    for (job *s = scans + i; s; s = s->lone) entries += s->meta[1];
  }
}

// Alignment O_DIRECT needs of a buffer's address, its length and the file offset (4096
// covers every logical block size Linux devices use).
#define DIRECT_ALIGN 4096
#define HUGE_PAGE (2 * 1024 * 1024)

// Creates one new file (never over an existing one, never through a link) holding `input`,
// durable when it returns (fsync). With `direct`, the 4096-aligned part of an aligned buffer
// goes to the device with O_DIRECT: a buffered write copied every pack into the page cache,
// a quarter of a large backup's CPU here, and evicted what the machine's own programs had
// cached. Where O_DIRECT is refused (tmpfs, some network file systems) it writes buffered.
// Results: errno, the step that failed (0 open, 1 write, 2 fsync, 3 close), and 1 when
// bytes went with O_DIRECT.
static void run_write_object(job *j) {
  j->meta = calloc(WRITE_OBJECT_META, sizeof(double));
  if (!j->meta) { j->error = "out of memory"; return; }
  int fd = open(j->paths[0], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) { j->meta[0] = errno; return; }
  size_t aligned = j->input_length - j->input_length % DIRECT_ALIGN;
  // Turned on after the open, not by it: an open with O_DIRECT that the file system refuses
  // (EINVAL) has created the file all the same, and a second O_EXCL open of it would fail.
  int flags = fcntl(fd, F_GETFL);
  int direct = j->direct && aligned > 0 && (uintptr_t)j->input % DIRECT_ALIGN == 0 && flags >= 0 &&
               fcntl(fd, F_SETFL, flags | O_DIRECT) == 0;
  size_t written = 0;
  int failed = 0, step = 1;
  if (direct) {
    failed = write_all(fd, j->input, aligned, &written);
    // Some file systems take O_DIRECT and refuse the write: go on buffered from where it stopped.
    if (failed == EINVAL) failed = 0;
    if (!failed && fcntl(fd, F_SETFL, flags) != 0) failed = errno;
  }
  j->meta[2] = written > 0;
  if (!failed) failed = write_all(fd, j->input, j->input_length, &written);
  if (!failed && fsync(fd) != 0) failed = errno, step = 2;
  if (close(fd) != 0 && !failed) failed = errno, step = 3;
  j->meta[0] = failed;
  j->meta[1] = failed ? step : 0;
}

// One new file written in several appends (OP_APPEND_FILE), so that a pack goes to disk as it
// fills rather than whole from memory. Owned by a JavaScript external (appendedFile); the
// pool thread of the one append running on it is its only other user (`busy`).
typedef struct {
  char *path;
  int fd;  // -1 before the first append and once closed
  int closed;  // closed (finished, or by closeAppendedFile): appends fail with EBADF
  int close_pending;  // closeAppendedFile came while an append ran: closed when that one ends
  int busy;  // an append is on the pool (set and cleared on the JavaScript thread)
  int direct;  // O_DIRECT is on; once off it stays off
  EVP_MD_CTX *sha;  // of every byte written, in order
  uint64_t size;
} appended_file;

static void close_appended(appended_file *f) {
  // A failed close still releases the descriptor on Linux: never retried.
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  f->closed = 1;
  f->close_pending = 0;
}

static int direct_off(appended_file *f) {
  if (!f->direct) return 0;
  int flags = fcntl(f->fd, F_GETFL);
  if (flags < 0 || fcntl(f->fd, F_SETFL, flags & ~O_DIRECT) != 0) return errno;
  f->direct = 0;
  return 0;
}

// Writes from the front of `input` as OP_APPEND_FILE says; 0 or an errno, `*step` the failing one.
static int append_bytes(job *j, appended_file *f, size_t *written, int *direct_used, int *step) {
  // Closed while this append waited for a pool thread: creating the file now would leave one the
  // caller already removed (closeAppendedFile, then unlink).
  if (f->closed || __atomic_load_n(&f->close_pending, __ATOMIC_ACQUIRE)) return EBADF;
  int aligned_address = (uintptr_t)j->input % DIRECT_ALIGN == 0;
  if (f->fd < 0) {
    // As run_write_object's open, O_DIRECT turned on after it. Not for data it could not carry.
    f->fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (f->fd < 0) { *step = 0; return errno; }
    // Closed between the check above and the open: the caller may have removed the path
    // already, so the file this open made (O_EXCL: ours) goes again.
    if (__atomic_load_n(&f->close_pending, __ATOMIC_ACQUIRE)) {
      unlink(f->path);
      close(f->fd);
      f->fd = -1;
      return EBADF;
    }
    int flags = fcntl(f->fd, F_GETFL);
    f->direct = aligned_address && !(j->final && j->input_length < DIRECT_ALIGN) && flags >= 0 &&
                fcntl(f->fd, F_SETFL, flags | O_DIRECT) == 0;
  }
  // O_DIRECT stays on only while every write so far was whole blocks from aligned memory: the
  // file offset then is aligned too. Data that cannot go direct turns it off for good.
  if (f->direct && aligned_address) {
    int failed = write_all(f->fd, j->input, j->input_length - j->input_length % DIRECT_ALIGN, written);
    *direct_used = *written > 0;
    // Some file systems take O_DIRECT and refuse the write: go on buffered from where it stopped.
    if (failed && failed != EINVAL) return failed;
    // Not final: the rest waits for the next call, to go direct with the data after it.
    if (!failed && !j->final) return 0;
  }
  if (*written == j->input_length) return 0;
  int failed = direct_off(f);
  return failed ? failed : write_all(f->fd, j->input, j->input_length, written);
}

// One append to an appended_file: not final, from the front of `input`, all of it, or only its
// whole 4096-byte blocks while O_DIRECT is on (the caller keeps the rest for the next call);
// final, all of it, then fsync and close, and the SHA-256 of the file's bytes into `hash`.
// After a failure the file is left as it is: the caller closes and removes it.
static void run_append_file(job *j) {
  appended_file *f = j->appended;
  j->meta = calloc(APPEND_FILE_META, sizeof(double));
  if (!j->meta) { j->error = "out of memory"; return; }
  size_t written = 0;
  int direct_used = 0, step = 1;
  int failed = append_bytes(j, f, &written, &direct_used, &step);
  f->size += written;
  // Exactly the bytes written, also those of a failed call: the hash stays the file's.
  if (written > 0 && EVP_DigestUpdate(f->sha, j->input, written) != 1) { j->error = "SHA-256 failed"; return; }
  if (!failed && j->final) {
    if (fsync(f->fd) != 0) failed = errno, step = 2;
    else {
      if (close(f->fd) != 0) failed = errno, step = 3;
      f->fd = -1;
      close_appended(f);
      unsigned int length = 0;
      if (!failed && EVP_DigestFinal_ex(f->sha, j->hash, &length) != 1) { j->error = "SHA-256 failed"; return; }
      j->has_digest = !failed;
    }
  }
  j->meta[0] = failed;
  j->meta[1] = failed ? step : 0;
  j->meta[2] = (double)written;
  j->meta[3] = direct_used;
}

// The envelope of side objects, index files and snapshots (src/repo/crypto.ts seal): nonce,
// AES-256-GCM of the parts in order, tag. The same bytes as JavaScript's, made on a pool thread:
// on the main thread a 16 MiB WAL file's encryption, hash and copies held up every other one.
static void run_envelope(job *j) {
  if (j->compress) {
    j->output_length = NONCE_BYTES + j->input_length + j->input2_length + AUTH_TAG_BYTES;
    j->output = malloc(j->output_length);
    if (!j->output) { j->error = "out of memory"; return; }
    if (!fresh_nonce(j->output)) { j->error = "no random nonce"; return; }
    if (!gcm(1, j->key, j->output, j->input, j->input_length, j->input2, j->input2_length, j->output + NONCE_BYTES, j->output + NONCE_BYTES + j->input_length + j->input2_length)) j->error = "encryption failed";
    return;
  }
  if (j->input_length < NONCE_BYTES + AUTH_TAG_BYTES) { j->error = "sealed message too short"; j->error_code = "EAUTH"; return; }
  j->output_length = j->input_length - NONCE_BYTES - AUTH_TAG_BYTES;
  // One byte at least: malloc(0) may return NULL.
  j->output = malloc(j->output_length + 1);
  if (!j->output) { j->error = "out of memory"; return; }
  if (!gcm(0, j->key, j->input, j->input + NONCE_BYTES, j->output_length, NULL, 0, j->output, (uint8_t *)j->input + j->input_length - AUTH_TAG_BYTES)) { j->error = "unsupported state or unable to authenticate data"; j->error_code = "EAUTH"; }
}

static void run(job *j) {
  switch (j->op) {
    case OP_CUT: run_cut(j); break;
    case OP_SEAL: run_seal(j); break;
    case OP_OPEN: run_open(j); break;
    case OP_HASH: SHA256(j->input, j->input_length, j->hash); break;
    case OP_READ_SMALL: run_read_small(j); break;
    case OP_SEAL_MANY: run_seal_many(j); break;
    case OP_OPEN_MANY: run_open_many(j); break;
    case OP_WRITE_FILES: run_write_files(j); break;
    case OP_LZ4: run_lz4(j); break;
    case OP_STAT_MANY: run_stat_many(j); break;
    case OP_ENVELOPE: run_envelope(j); break;
    case OP_WRITE_OBJECT: run_write_object(j); break;
    case OP_READ_DIR: run_read_dir(j); break;
    case OP_SCAN_DIR: run_scan_dir(j); break;
    case OP_SCAN_DIRS: run_scan_dirs(j); break;
    case OP_APPEND_FILE: run_append_file(j); break;
  }
}

// ---- JavaScript side ----

static int dest_arg(napi_env env, napi_value value, job *j);
static int dest_arg_into(napi_env env, napi_value value, job *j, uint8_t **dest, size_t *capacity, int *ref);

static napi_value make_error(napi_env env, const char *code, const char *message) {
  napi_value msg, code_value = NULL, error;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  if (code) napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_error(env, code_value, msg, &error);
  return error;
}

static napi_value buffer_copy(napi_env env, const void *data, size_t length) {
  napi_value result = NULL;
  void *copy;
  // On failure (no memory) the pending exception is what the caller's promise or call sees.
  if (napi_create_buffer_copy(env, length, length > 0 ? data : "", &copy, &result) != napi_ok) napi_get_undefined(env, &result);
  return result;
}

// A Float64Array holding a copy of `count` doubles. Without memory (an exception pending from an
// earlier copy) it is left empty, and the call rejects with that exception.
static napi_value float64_copy(napi_env env, const double *values, size_t count) {
  napi_value array_buffer, result;
  void *bytes = NULL;
  napi_create_arraybuffer(env, count * sizeof(double), &bytes, &array_buffer);
  if (bytes && count > 0) memcpy(bytes, values, count * sizeof(double));
  napi_create_typedarray(env, napi_float64_array, count, array_buffer, 0, &result);
  return result;
}

static void free_output(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

// One OP_SCAN_DIR's result, [names then symlink targets, Float64Array meta, digest when
// stat'ed, its lone subdirectory's result and index when made], its output freed.
static napi_value scan_result(napi_env env, job *s) {
  napi_value result, none;
  napi_get_undefined(env, &none);
  napi_create_array_with_length(env, 3, &result);
  napi_set_element(env, result, 0, buffer_copy(env, s->output, s->output_length));
  napi_set_element(env, result, 1, float64_copy(env, s->meta, s->meta_length));
  napi_set_element(env, result, 2, s->has_digest ? buffer_copy(env, s->hash, SHA256_DIGEST_LENGTH) : none);
  // Then the scan of its lone subdirectory and that entry's index, when made (follow_lone_subdir).
  if (s->lone) {
    napi_value index;
    napi_set_element(env, result, 3, scan_result(env, s->lone));
    napi_create_double(env, (double)s->lone_index, &index);
    napi_set_element(env, result, 4, index);
  }
  free(s->output);
  s->output = NULL;
  return result;
}

// The doubles per item an op's run allocates in j->meta, and take_result copies out: the two
// must agree. OP_SEAL_MANY once fell through to STAT_META here, and the copy read 12 doubles
// per record past its allocation (a crash whenever that ran off the heap's last page).
static size_t meta_per_item(enum op op) {
  switch (op) {
    case OP_READ_SMALL: return SMALL_META;
    case OP_SEAL_MANY: return SEAL_MANY_META;
    case OP_OPEN_MANY: return OPEN_META;
    case OP_WRITE_FILES: return WRITE_FILES_META;
    case OP_STAT_MANY: return STAT_META;
    case OP_WRITE_OBJECT: return WRITE_OBJECT_META;
    case OP_READ_DIR: return READ_DIR_META;
    case OP_APPEND_FILE: return APPEND_FILE_META;
    default: return 0;
  }
}

// Builds the value the call resolves to and frees the job's scratch memory.
static napi_value take_result(napi_env env, job *j, napi_value *error_out) {
  napi_value result = NULL;
  if (j->error) {
    *error_out = make_error(env, j->error_code, j->error);
  } else if (j->op == OP_CUT) {
    napi_value lengths;
    napi_create_array_with_length(env, j->count, &lengths);
    for (size_t i = 0; i < j->count; i++) {
      napi_value v;
      napi_create_uint32(env, j->lengths[i], &v);
      napi_set_element(env, lengths, (uint32_t)i, v);
    }
    napi_create_array_with_length(env, 2, &result);
    napi_set_element(env, result, 0, lengths);
    napi_set_element(env, result, 1, buffer_copy(env, j->ids, j->count * SHA256_DIGEST_LENGTH));
  } else if (j->op == OP_HASH) {
    result = buffer_copy(env, j->hash, SHA256_DIGEST_LENGTH);
  } else if (j->op == OP_LZ4 && j->in_dest) {
    // Compressed into the caller's Buffer: how much of it.
    napi_create_double(env, (double)j->output_length, &result);
  } else if (j->op == OP_LZ4 || j->op == OP_ENVELOPE) {
    // Handed over, not copied: these are whole WAL files, 16 MiB.
    if (napi_create_external_buffer(env, j->output_length, j->output, free_output, NULL, &result) == napi_ok) j->output = NULL;
    else result = buffer_copy(env, j->output, j->output_length);
  } else if (j->op == OP_SCAN_DIR) {
    result = scan_result(env, j);
  } else if (j->op == OP_SCAN_DIRS) {
    napi_create_array_with_length(env, j->items, &result);
    for (size_t i = 0; i < j->items; i++) {
      job *scan = (job *)j->scans + i;
      napi_value one;
      if (scan->meta) one = scan_result(env, scan);
      else napi_get_null(env, &one);
      napi_set_element(env, result, (uint32_t)i, one);
    }
  } else if (j->op == OP_READ_SMALL || j->op == OP_SEAL_MANY || j->op == OP_OPEN_MANY || j->op == OP_WRITE_FILES || j->op == OP_STAT_MANY || j->op == OP_WRITE_OBJECT || j->op == OP_READ_DIR || j->op == OP_APPEND_FILE) {
    // [all data or records, per-item numbers (Float64Array), ids (read and open)]
    size_t doubles = j->meta_length ? j->meta_length : j->items * meta_per_item(j->op);
    napi_value meta = float64_copy(env, j->meta, doubles);
    napi_value data;
    // OP_READ_SMALL and OP_SEAL_MANY into a destination: the destination itself.
    if (j->in_dest) napi_get_reference_value(env, j->refs[0], &data);
    // OP_APPEND_FILE: the file's SHA-256 once finished, else empty.
    else if (j->op == OP_APPEND_FILE) data = buffer_copy(env, j->hash, j->has_digest ? SHA256_DIGEST_LENGTH : 0);
    else data = buffer_copy(env, j->output, j->output_length);
    napi_create_array_with_length(env, 3, &result);
    napi_set_element(env, result, 0, data);
    napi_set_element(env, result, 1, meta);
    if (j->op == OP_READ_SMALL || j->op == OP_OPEN_MANY) napi_set_element(env, result, 2, buffer_copy(env, j->ids, j->items * SHA256_DIGEST_LENGTH));
    if (j->op == OP_READ_SMALL && j->seal_after_read) {
      // Then [records (dest2 itself when they went there), per-file record numbers (Float64Array)].
      napi_value records;
      if (j->in_dest2) napi_get_reference_value(env, j->refs[j->dest2_ref], &records);
      else records = buffer_copy(env, j->output2, j->output2_length);
      napi_set_element(env, result, 3, records);
      napi_set_element(env, result, 4, float64_copy(env, j->meta2, j->items * SMALL_SEAL_META));
    }
  } else {
    // [record or data, tag, id or null, length]: with a destination, the record or data is
    // the destination itself and fills its first `length` bytes
    napi_value tag, id, length;
    napi_value data;
    if (j->in_dest) napi_get_reference_value(env, j->refs[0], &data);
    else data = buffer_copy(env, j->output, j->output_length);
    napi_create_array_with_length(env, 4, &result);
    napi_set_element(env, result, 0, data);
    napi_create_uint32(env, (uint32_t)j->out_tag, &tag);
    napi_set_element(env, result, 1, tag);
    if ((j->op == OP_SEAL && j->want_hash) || (j->op == OP_OPEN && j->decoded)) id = buffer_copy(env, j->hash, SHA256_DIGEST_LENGTH);
    else napi_get_null(env, &id);
    napi_set_element(env, result, 2, id);
    napi_create_double(env, (double)j->output_length, &length);
    napi_set_element(env, result, 3, length);
  }
  free(j->output);
  free(j->output2);
  free(j->lengths);
  free(j->ids);
  j->output = NULL;
  j->output2 = NULL;
  j->lengths = NULL;
  j->ids = NULL;
  return result;
}

static void release(napi_env env, job *j) {
  // Before the references go: the one to the file keeps it from being finalized.
  if (j->appended) {
    appended_file *f = j->appended;
    f->busy = 0;
    if (f->close_pending) close_appended(f);
  }
  for (int i = 0; i < j->nrefs; i++) napi_delete_reference(env, j->refs[i]);
  if (j->paths) for (size_t i = 0; i < j->items; i++) free(j->paths[i]);
  free(j->paths);
  free(j->expected);
  free(j->inputs);
  free(j->input_lengths);
  free(j->meta);
  free(j->meta2);
  free(j->output2);
  if (j->scans) {
    job *scans = j->scans;
    for (size_t i = 0; i < j->items; i++) free_scan_results(scans + i);
    free(scans);
  }
  if (j->lone) free_scan(j->lone);
  if (j->work) napi_delete_async_work(env, j->work);
  OPENSSL_cleanse(j->key, KEY_BYTES);
  free(j);
}

static int buffer_arg(napi_env env, napi_value value, const uint8_t **data, size_t *length) {
  bool ok = false;
  if (napi_is_buffer(env, value, &ok) != napi_ok || !ok) {
    napi_throw_type_error(env, NULL, "expected a Buffer");
    return 0;
  }
  void *p = NULL;
  napi_get_buffer_info(env, value, &p, length);
  *data = p;
  return 1;
}

// The key argument: a 32-byte Buffer, or null/undefined for an unencrypted repository.
static int key_arg(napi_env env, napi_value value, job *j) {
  napi_valuetype type;
  napi_typeof(env, value, &type);
  if (type == napi_null || type == napi_undefined) return 1;
  const uint8_t *key;
  size_t length;
  if (!buffer_arg(env, value, &key, &length)) return 0;
  if (length != KEY_BYTES) {
    napi_throw_range_error(env, NULL, "key must be 32 bytes");
    return 0;
  }
  memcpy(j->key, key, KEY_BYTES);
  j->has_key = 1;
  return 1;
}

static uint32_t uint_arg(napi_env env, napi_value value) {
  uint32_t v = 0;
  napi_get_value_uint32(env, value, &v);
  return v;
}

static int bool_arg(napi_env env, napi_value value) {
  bool v = false;
  napi_get_value_bool(env, value, &v);
  return v;
}

// A seal's `compress`: one of COMPRESS_*. Gzip without a zlib to deflate with throws.
static int compress_arg(napi_env env, napi_value value, int *mode) {
  *mode = (int)uint_arg(env, value);
  if (*mode > COMPRESS_GZIP) {
    napi_throw_range_error(env, NULL, "unknown compression");
    return 0;
  }
  if (*mode == COMPRESS_GZIP && !gzip_available()) {
    napi_throw_error(env, NULL, "this process's zlib cannot deflate");
    return 0;
  }
  return 1;
}

static void execute(napi_env env, void *data) {
  (void)env;
  run((job *)data);
  trim_scratch();
}

static void complete(napi_env env, napi_status status, void *data) {
  job *j = data;
  napi_value error = NULL, result = NULL;
  if (status == napi_ok) result = take_result(env, j, &error);
  else error = make_error(env, NULL, "blob work was cancelled");
  if (error) napi_reject_deferred(env, j->deferred, error);
  else napi_resolve_deferred(env, j->deferred, result);
  release(env, j);
}

// Runs the job inline (`sync`) or on the pool; a pool job keeps its inputs alive with references.
static napi_value dispatch(napi_env env, job *j, napi_value *inputs, int ninputs, int sync) {
  if (sync) {
    run(j);
    napi_value error = NULL;
    napi_value result = take_result(env, j, &error);
    release(env, j);
    if (error) napi_throw(env, error);
    return result;
  }
  for (int i = 0; i < ninputs; i++) napi_create_reference(env, inputs[i], 1, &j->refs[j->nrefs++]);
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "bkdr.blob", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

static job *new_job(napi_env env, enum op op) {
  job *j = calloc(1, sizeof(job));
  if (!j) napi_throw_error(env, NULL, "out of memory");
  else j->op = op;
  return j;
}

// The common start of every entry point: `want` arguments into argv, and a new job (NULL after throwing).
static job *begin(napi_env env, napi_callback_info info, size_t want, napi_value *argv, enum op op, const char *name) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < want) {
    char message[80];
    snprintf(message, sizeof(message), "%s needs %zu arguments", name, want);
    napi_throw_type_error(env, NULL, message);
    return NULL;
  }
  return new_job(env, op);
}

// cutAndHash(data, gear: Uint32Array(256), min, avg, max, maskS, maskL, final, scanned) → Promise<[lengths, ids]>;
// `scanned`: bytes at data's start already searched for a cut without one (the tail of the call before)
static napi_value cut_and_hash(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  job *j = begin(env, info, 9, argv, OP_CUT, "cutAndHash");
  if (!j) return NULL;
  napi_typedarray_type type;
  size_t length = 0;
  void *gear = NULL;
  bool is_typed = false;
  napi_is_typedarray(env, argv[1], &is_typed);
  if (is_typed) napi_get_typedarray_info(env, argv[1], &type, &length, &gear, NULL, NULL);
  if (!is_typed || type != napi_uint32_array || length != 256) {
    free(j);
    napi_throw_type_error(env, NULL, "gear must be a Uint32Array of 256");
    return NULL;
  }
  if (!buffer_arg(env, argv[0], &j->input, &j->input_length)) { free(j); return NULL; }
  j->gear = gear;
  j->min_size = uint_arg(env, argv[2]);
  j->avg_size = uint_arg(env, argv[3]);
  j->max_size = uint_arg(env, argv[4]);
  j->mask_s = uint_arg(env, argv[5]);
  j->mask_l = uint_arg(env, argv[6]);
  j->final = bool_arg(env, argv[7]);
  j->scanned = uint_arg(env, argv[8]);
  if (j->min_size == 0 || j->min_size > j->avg_size || j->avg_size > j->max_size) {
    free(j);
    napi_throw_range_error(env, NULL, "chunker sizes must satisfy 0 < min <= avg <= max");
    return NULL;
  }
  napi_value inputs[2] = {argv[0], argv[1]};
  return dispatch(env, j, inputs, 2, 0);
}

// gzipAvailable() → whether seal and sealMany can make gzip records (else JavaScript's zlib makes them)
static napi_value gzip_available_js(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_get_boolean(env, gzip_available(), &result);
  return result;
}

// seal(data, key|null, compress, tag, wantHash, sync, into: Buffer|null, level) → [record, tag, id|null, length];
// the record is `into` itself (its first `length` bytes) when it has room
static napi_value seal(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  job *j = begin(env, info, 8, argv, OP_SEAL, "seal");
  if (!j) return NULL;
  if (!buffer_arg(env, argv[0], &j->input, &j->input_length) || !key_arg(env, argv[1], j) || !dest_arg(env, argv[6], j) || !compress_arg(env, argv[2], &j->compress)) { release(env, j); return NULL; }
  j->level = (int)uint_arg(env, argv[7]);
  j->out_tag = (int)uint_arg(env, argv[3]);
  j->want_hash = bool_arg(env, argv[4]);
  return dispatch(env, j, argv, 1, bool_arg(env, argv[5]));
}

// The destination argument: a Buffer that decoded data is written into (held by refs[0],
// which take_result hands back), or null/undefined for a copy.
static int dest_arg(napi_env env, napi_value value, job *j) {
  int ref;
  return dest_arg_into(env, value, j, &j->dest, &j->dest_capacity, &ref);
}

// A destination argument as dest_arg takes it, into `dest` and `capacity` (the job's own, or
// OP_READ_SMALL's for its records), held by refs[*ref].
static int dest_arg_into(napi_env env, napi_value value, job *j, uint8_t **dest, size_t *capacity, int *ref) {
  napi_valuetype type;
  napi_typeof(env, value, &type);
  if (type == napi_null || type == napi_undefined) return 1;
  const uint8_t *data;
  if (!buffer_arg(env, value, &data, capacity)) return 0;
  *dest = (uint8_t *)data;
  *ref = j->nrefs;
  napi_create_reference(env, value, 1, &j->refs[j->nrefs++]);
  return 1;
}

// open(record, key|null, sync, into: Buffer|null) → [data or payload, tag, id|null]; decoded
// data is `into` itself when given (sized from the index: a record that decodes to more fails)
static napi_value open_record(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  job *j = begin(env, info, 4, argv, OP_OPEN, "open");
  if (!j) return NULL;
  if (!buffer_arg(env, argv[0], &j->input, &j->input_length) || !key_arg(env, argv[1], j) || !dest_arg(env, argv[3], j)) { release(env, j); return NULL; }
  j->dest_exact = 1;
  return dispatch(env, j, argv, 1, bool_arg(env, argv[2]));
}

// entryDigests(data, meta, count) → Buffer of ENTRY_DIGEST_BYTES per entry of a stat'ed scan
// (scanDir's names and targets, and its SCAN_META slots per entry without the two before
// them): SHA-256 of the entry's name, its symlink target and its slots but the access time
// and the target's offset, with the device number, but for hard-linked files, as 0 (trees
// record it so). An entry with the digest it had when its directory's tree was stored is
// stored as it was there (the archiver's directory cache, src/backup/dir-cache.ts). On the
// caller's thread, and only for the directories that need them: 0.13 us an entry.
static napi_value entry_digests(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uint8_t *names = NULL;
  size_t length = 0;
  napi_typedarray_type type;
  size_t slots = 0;
  void *data = NULL;
  bool is_typed = false;
  double count = -1;
  if (argc == 3) napi_is_typedarray(env, argv[1], &is_typed);
  if (is_typed) napi_get_typedarray_info(env, argv[1], &type, &slots, &data, NULL, NULL);
  if (argc < 3 || napi_get_buffer_info(env, argv[0], (void **)&names, &length) != napi_ok || !is_typed || type != napi_float64_array ||
      napi_get_value_double(env, argv[2], &count) != napi_ok || !(count >= 0) || (size_t)count * SCAN_META > slots) {
    napi_throw_type_error(env, NULL, "entryDigests needs a scan's names, its Float64Array of slots and its count of entries");
    return NULL;
  }
  napi_value result;
  uint8_t *out;
  if (napi_create_buffer(env, (size_t)count * ENTRY_DIGEST_BYTES, (void **)&out, &result) != napi_ok) return NULL;
  const double *meta = data;
  size_t name_at = 0;
  for (size_t i = 0; i < (size_t)count; i++) {
    size_t name_length = strnlen((const char *)names + name_at, length - name_at);
    if (name_at + name_length >= length) {
      napi_throw_range_error(env, NULL, "entryDigests: fewer names than entries");
      return NULL;
    }
    name_length++;
    double m[SCAN_META];
    memcpy(m, meta + i * SCAN_META, sizeof(m));
    size_t target_at = (size_t)m[16], target_length = (size_t)m[17];
    if (target_at + target_length > length) target_at = target_length = 0;
    if (!(S_ISREG((mode_t)m[1]) && m[4] > 1)) memset(m + 10, 0, sizeof(double));
    m[16] = 0;
    // The low-level calls: SHA256() fetches the algorithm anew at each call (OpenSSL 3), four times as long here.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    SHA256_CTX c;
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256_Init(&c);
    SHA256_Update(&c, names + name_at, name_length);
    SHA256_Update(&c, names + target_at, target_length);
    SHA256_Update(&c, m, 8 * sizeof(double));
    SHA256_Update(&c, m + 9, (SCAN_META - 9) * sizeof(double));
    SHA256_Final(digest, &c);
#pragma GCC diagnostic pop
    memcpy(out + i * ENTRY_DIGEST_BYTES, digest, ENTRY_DIGEST_BYTES);
    name_at += name_length;
  }
  return result;
}

// matchDigests(entries, nodes) → Int32Array: per digest of `entries` (ENTRY_DIGEST_BYTES each),
// the position of the same digest in `nodes`, or -1. Found through a table of the nodes'
// digests: in JavaScript, a Map of them per changed directory cost 40 ms of an incremental
// backup of the bench's real tree.
static napi_value match_digests(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const uint8_t *entries = NULL, *nodes = NULL;
  size_t entries_length = 0, nodes_length = 0;
  if (argc < 2 || napi_get_buffer_info(env, argv[0], (void **)&entries, &entries_length) != napi_ok ||
      napi_get_buffer_info(env, argv[1], (void **)&nodes, &nodes_length) != napi_ok || entries_length % ENTRY_DIGEST_BYTES || nodes_length % ENTRY_DIGEST_BYTES) {
    napi_throw_type_error(env, NULL, "matchDigests needs two Buffers of whole digests");
    return NULL;
  }
  size_t count = entries_length / ENTRY_DIGEST_BYTES, node_count = nodes_length / ENTRY_DIGEST_BYTES;
  napi_value array_buffer, result;
  int32_t *out;
  if (napi_create_arraybuffer(env, count * sizeof(int32_t), (void **)&out, &array_buffer) != napi_ok) return NULL;
  napi_create_typedarray(env, napi_int32_array, count, array_buffer, 0, &result);
  size_t slots = 16;
  while (slots < node_count * 2) slots *= 2;
  // Each slot: a node's position + 1 (0: empty), found by the digest's first 8 bytes.
  uint32_t *table = calloc(slots, sizeof(uint32_t));
  if (!table) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  for (size_t p = 0; p < node_count; p++) {
    uint64_t key;
    memcpy(&key, nodes + p * ENTRY_DIGEST_BYTES, sizeof(key));
    size_t at = (size_t)key & (slots - 1);
    while (table[at]) at = (at + 1) & (slots - 1);
    table[at] = (uint32_t)p + 1;
  }
  for (size_t i = 0; i < count; i++) {
    const uint8_t *digest = entries + i * ENTRY_DIGEST_BYTES;
    uint64_t key;
    memcpy(&key, digest, sizeof(key));
    out[i] = -1;
    for (size_t at = (size_t)key & (slots - 1); table[at]; at = (at + 1) & (slots - 1)) {
      if (memcmp(nodes + (table[at] - 1) * ENTRY_DIGEST_BYTES, digest, ENTRY_DIGEST_BYTES) == 0) {
        out[i] = (int32_t)(table[at] - 1);
        break;
      }
    }
  }
  free(table);
  return result;
}

// hash(data, sync) → SHA-256 digest
static napi_value hash(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  job *j = begin(env, info, 2, argv, OP_HASH, "hash");
  if (!j) return NULL;
  if (!buffer_arg(env, argv[0], &j->input, &j->input_length)) { free(j); return NULL; }
  return dispatch(env, j, argv, 1, bool_arg(env, argv[1]));
}

// envelope(key, part, part2|null, seal) → Promise<Buffer>: with seal, nonce + AES-256-GCM of the parts + tag;
// else `part` opened (an error with code EAUTH when it fails authentication)
static napi_value envelope(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  job *j = begin(env, info, 4, argv, OP_ENVELOPE, "envelope");
  if (!j) return NULL;
  napi_valuetype type;
  napi_typeof(env, argv[2], &type);
  int two = type != napi_null && type != napi_undefined;
  if (!key_arg(env, argv[0], j) || !j->has_key || !buffer_arg(env, argv[1], &j->input, &j->input_length) || (two && !buffer_arg(env, argv[2], &j->input2, &j->input2_length))) {
    if (!j->has_key) napi_throw_type_error(env, NULL, "envelope needs a key");
    free(j);
    return NULL;
  }
  j->compress = bool_arg(env, argv[3]);
  return dispatch(env, j, argv + 1, two ? 2 : 1, 0);
}

// lz4(data, compress, sync, into: Buffer|null) → Buffer (framed when compressing); compressed into `into`
// when it holds the worst case: then the length written
static napi_value lz4(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  job *j = begin(env, info, 4, argv, OP_LZ4, "lz4");
  if (!j) return NULL;
  if (!buffer_arg(env, argv[0], &j->input, &j->input_length) || !dest_arg(env, argv[3], j)) { release(env, j); return NULL; }
  j->compress = bool_arg(env, argv[1]);
  return dispatch(env, j, argv, 1, bool_arg(env, argv[2]));
}

static uint32_t array_length(napi_env env, napi_value value) {
  bool is_array = false;
  uint32_t length = 0;
  napi_is_array(env, value, &is_array);
  if (is_array) napi_get_array_length(env, value, &length);
  return length;
}

static int paths_arg(napi_env env, napi_value array, job *j);

// readSmall(paths: Buffer[], expectedSizes: number[], into: Buffer|null, seal: boolean, key|null, compress, level,
// sealInto: Buffer|null) → Promise<[data, meta, ids]>, and with seal [data, meta, ids, records, recordMeta]; data
// is `into` itself when it holds the expected sizes plus one byte per file, records `sealInto` when it holds
// each file's expected size sealed raw
static napi_value read_small(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  job *j = begin(env, info, 8, argv, OP_READ_SMALL, "readSmall");
  if (!j) return NULL;
  // The read's destination first: take_result finds it as refs[0].
  if (!dest_arg(env, argv[2], j)) { release(env, j); return NULL; }
  j->seal_after_read = bool_arg(env, argv[3]);
  if (j->seal_after_read) {
    if (!key_arg(env, argv[4], j) || !compress_arg(env, argv[5], &j->compress)) { release(env, j); return NULL; }
    j->level = (int)uint_arg(env, argv[6]);
    if (!dest_arg_into(env, argv[7], j, &j->dest2, &j->dest2_capacity, &j->dest2_ref)) { release(env, j); return NULL; }
  }
  j->items = array_length(env, argv[0]);
  j->expected = calloc(j->items + 1, sizeof(double));
  if (!j->expected) { release(env, j); napi_throw_error(env, NULL, "out of memory"); return NULL; }
  if (!paths_arg(env, argv[0], j)) { release(env, j); return NULL; }
  for (size_t i = 0; i < j->items; i++) {
    napi_value size;
    napi_get_element(env, argv[1], (uint32_t)i, &size);
    napi_get_value_double(env, size, &j->expected[i]);
  }
  return dispatch(env, j, NULL, 0, 0);
}

// Fills j->inputs from an array of Buffers; the caller keeps the array alive with a reference.
static int buffers_arg(napi_env env, napi_value array, job *j) {
  j->items = array_length(env, array);
  j->inputs = calloc(j->items + 1, sizeof(uint8_t *));
  j->input_lengths = calloc(j->items + 1, sizeof(size_t));
  if (!j->inputs || !j->input_lengths) { napi_throw_error(env, NULL, "out of memory"); return 0; }
  for (size_t i = 0; i < j->items; i++) {
    napi_value item;
    napi_get_element(env, array, (uint32_t)i, &item);
    if (!buffer_arg(env, item, &j->inputs[i], &j->input_lengths[i])) return 0;
  }
  return 1;
}

// Copies an array of path Buffers into NUL-terminated strings.
static int paths_arg(napi_env env, napi_value array, job *j) {
  size_t count = array_length(env, array);
  j->paths = calloc(count + 1, sizeof(char *));
  if (!j->paths) { napi_throw_error(env, NULL, "out of memory"); return 0; }
  for (size_t i = 0; i < count; i++) {
    napi_value path;
    napi_get_element(env, array, (uint32_t)i, &path);
    const uint8_t *bytes;
    size_t length;
    if (!buffer_arg(env, path, &bytes, &length)) return 0;
    j->paths[i] = malloc(length + 1);
    if (!j->paths[i]) { napi_throw_error(env, NULL, "out of memory"); return 0; }
    memcpy(j->paths[i], bytes, length);
    j->paths[i][length] = 0;
  }
  return 1;
}

// sealMany(data: Buffer[], key|null, compress, into: Buffer|null, level) → Promise<[records, meta]>; records is
// `into` itself when it holds every record at its largest
static napi_value seal_many(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  job *j = begin(env, info, 5, argv, OP_SEAL_MANY, "sealMany");
  if (!j) return NULL;
  if (!dest_arg(env, argv[3], j) || !buffers_arg(env, argv[0], j) || !key_arg(env, argv[1], j) || !compress_arg(env, argv[2], &j->compress)) { release(env, j); return NULL; }
  j->level = (int)uint_arg(env, argv[4]);
  // The array (and so every Buffer in it) stays alive until the job is done.
  return dispatch(env, j, argv, 1, 0);
}

// openMany(records: Buffer[], key|null, into: Buffer|null) → Promise<[data, meta, ids]>; decoded
// records are written one after the other into `into` when given
static napi_value open_many(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  job *j = begin(env, info, 3, argv, OP_OPEN_MANY, "openMany");
  if (!j) return NULL;
  if (!buffers_arg(env, argv[0], j) || !key_arg(env, argv[1], j) || !dest_arg(env, argv[2], j)) { release(env, j); return NULL; }
  return dispatch(env, j, argv, 1, 0);
}

// writeFiles(paths: Buffer[], data: Buffer[], metadata: Float64Array | null, chown) → Promise<[empty, errnos]>
static napi_value write_files(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  job *j = begin(env, info, 4, argv, OP_WRITE_FILES, "writeFiles");
  if (!j) return NULL;
  if (!buffers_arg(env, argv[1], j)) { release(env, j); return NULL; }
  if (array_length(env, argv[0]) != j->items) { release(env, j); napi_throw_range_error(env, NULL, "writeFiles needs one Buffer per path"); return NULL; }
  if (!paths_arg(env, argv[0], j)) { release(env, j); return NULL; }
  napi_valuetype type;
  napi_typeof(env, argv[2], &type);
  if (type != napi_null && type != napi_undefined) {
    bool is_typed = false;
    napi_typedarray_type kind;
    size_t length = 0;
    void *data = NULL;
    napi_is_typedarray(env, argv[2], &is_typed);
    if (is_typed) napi_get_typedarray_info(env, argv[2], &kind, &length, &data, NULL, NULL);
    if (!is_typed || kind != napi_float64_array || length != j->items * FILE_META) {
      release(env, j);
      napi_throw_type_error(env, NULL, "writeFiles metadata must be a Float64Array of 7 numbers per file");
      return NULL;
    }
    j->expected = malloc(length * sizeof(double) + 1);
    if (!j->expected) { release(env, j); napi_throw_error(env, NULL, "out of memory"); return NULL; }
    memcpy(j->expected, data, length * sizeof(double));
  }
  j->chown = bool_arg(env, argv[3]);
  return dispatch(env, j, argv + 1, 1, 0);
}

// statMany(paths: Buffer[]) → Promise<[empty, meta (STAT_META per path)]>
static napi_value stat_many(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  job *j = begin(env, info, 1, argv, OP_STAT_MANY, "statMany");
  if (!j) return NULL;
  j->items = array_length(env, argv[0]);
  if (!paths_arg(env, argv[0], j)) { release(env, j); return NULL; }
  return dispatch(env, j, NULL, 0, 0);
}

// The job's one path, for the calls that take a single path rather than an array of them.
static int one_path_arg(napi_env env, napi_value path, job *j) {
  napi_value paths;
  napi_create_array_with_length(env, 1, &paths);
  napi_set_element(env, paths, 0, path);
  j->items = 1;
  return paths_arg(env, paths, j);
}

// writeObject(path: Buffer, data: Buffer, direct) → Promise<[empty, [errno, step, direct used]]>
static napi_value write_object(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  job *j = begin(env, info, 3, argv, OP_WRITE_OBJECT, "writeObject");
  if (!j) return NULL;
  if (!buffer_arg(env, argv[1], &j->input, &j->input_length) || !one_path_arg(env, argv[0], j)) { release(env, j); return NULL; }
  j->direct = bool_arg(env, argv[2]);
  return dispatch(env, j, argv + 1, 1, 0);
}

// Tells this addon's appended_file externals from any other external.
static const napi_type_tag appended_file_tag = {0x6b64725f61707065ULL, 0x6e6465645f66696cULL};

static void free_appended(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  appended_file *f = data;
  // A file never finished nor closed: its descriptor would leak with it.
  if (f->fd >= 0) close(f->fd);
  EVP_MD_CTX_free(f->sha);
  free(f->path);
  free(f);
}

// appendedFile(path: Buffer) → an external for appendFile; no I/O (the first append creates the file).
static napi_value appended_file_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const uint8_t *bytes;
  size_t length;
  if (argc < 1) { napi_throw_type_error(env, NULL, "appendedFile needs a path"); return NULL; }
  if (!buffer_arg(env, argv[0], &bytes, &length)) return NULL;
  appended_file *f = calloc(1, sizeof(appended_file));
  if (f) {
    f->fd = -1;
    f->path = malloc(length + 1);
    f->sha = EVP_MD_CTX_new();
  }
  if (!f || !f->path || !f->sha || EVP_DigestInit_ex(f->sha, EVP_sha256(), NULL) != 1) {
    if (f) free_appended(env, f, NULL);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  memcpy(f->path, bytes, length);
  f->path[length] = 0;
  if (napi_create_external(env, f, free_appended, NULL, &result) != napi_ok) {
    free_appended(env, f, NULL);
    return NULL;
  }
  napi_type_tag_object(env, result, &appended_file_tag);
  return result;
}

// The appended_file of an appendedFile external, or NULL after throwing.
static appended_file *appended_arg(napi_env env, napi_value value) {
  bool ours = false;
  void *f = NULL;
  if (napi_check_object_type_tag(env, value, &appended_file_tag, &ours) != napi_ok || !ours || napi_get_value_external(env, value, &f) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a file from appendedFile");
    return NULL;
  }
  return f;
}

// appendFile(file, data: Buffer, final) → Promise<[SHA-256 when final (else empty), [errno, step, bytes written, direct used]]>
static napi_value append_file(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  job *j = begin(env, info, 3, argv, OP_APPEND_FILE, "appendFile");
  if (!j) return NULL;
  appended_file *f = appended_arg(env, argv[0]);
  if (!f || !buffer_arg(env, argv[1], &j->input, &j->input_length)) { release(env, j); return NULL; }
  // Two appends at once would write the file and its hash from two threads.
  if (f->busy) {
    release(env, j);
    napi_throw(env, make_error(env, "EBUSY", "an append to this file is still running"));
    return NULL;
  }
  f->busy = 1;
  j->appended = f;
  j->final = bool_arg(env, argv[2]);
  j->items = 1;
  return dispatch(env, j, argv, 2, 0);
}

// closeAppendedFile(file): closes it when open (after the append running on it, if any); idempotent.
static napi_value close_appended_file(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) { napi_throw_type_error(env, NULL, "closeAppendedFile needs a file"); return NULL; }
  appended_file *f = appended_arg(env, argv[0]);
  if (!f) return NULL;
  // Not under a running write: its descriptor could be reused by another open meanwhile.
  if (f->busy) __atomic_store_n(&f->close_pending, 1, __ATOMIC_RELEASE);
  else close_appended(f);
  return NULL;
}

// readDir(path: Buffer) → Promise<[names (each ended by a NUL), [errno, count]]>
static napi_value read_dir(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  job *j = begin(env, info, 1, argv, OP_READ_DIR, "readDir");
  if (!j) return NULL;
  if (!one_path_arg(env, argv[0], j)) { release(env, j); return NULL; }
  return dispatch(env, j, NULL, 0, 0);
}

// A scan's `maxStat`: entries are stat'ed only up to this many.
static int max_stat_arg(napi_env env, napi_value value, job *j) {
  if (napi_get_value_double(env, value, &j->max_stat) == napi_ok) return 1;
  napi_throw_type_error(env, NULL, "a scan needs the most entries to stat, a number");
  return 0;
}

// scanDir(path: Buffer, maxStat, followLone) → Promise<[names sorted (each ended by a NUL) then
// symlink targets, [errno, count, then SCAN_META per entry unless more than maxStat], the digest
// when stat'ed (else undefined), then, when followLone and it was made (follow_lone_subdir), the
// lone subdirectory's scan as this and its entry's index]>
static napi_value scan_dir(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  job *j = begin(env, info, 3, argv, OP_SCAN_DIR, "scanDir");
  if (!j) return NULL;
  j->lone_depth = bool_arg(env, argv[2]) ? LONE_SUBDIRS_FOLLOWED : 0;
  j->lone_entries = SCANS_ENTRIES;
  if (!one_path_arg(env, argv[0], j) || !max_stat_arg(env, argv[1], j)) { release(env, j); return NULL; }
  return dispatch(env, j, NULL, 0, 0);
}

// scanDirs(paths: Buffer[], maxStat, followLone) → Promise<per path, what scanDir resolves to, or null: not scanned>
static napi_value scan_dirs(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  job *j = begin(env, info, 3, argv, OP_SCAN_DIRS, "scanDirs");
  if (!j) return NULL;
  j->lone_depth = bool_arg(env, argv[2]) ? LONE_SUBDIRS_FOLLOWED : 0;
  j->items = array_length(env, argv[0]);
  if (!paths_arg(env, argv[0], j) || !max_stat_arg(env, argv[1], j)) { release(env, j); return NULL; }
  return dispatch(env, j, NULL, 0, 0);
}

static void free_aligned(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

// alignedBuffer(size) → a Buffer whose memory starts on a 4096-byte boundary (for writeObject's O_DIRECT).
// From 2 MiB on it is aligned to 2 MiB and asks for transparent huge pages: a pack buffer's
// first fill faulted in 6 000 small pages, a fifth of a first backup's page faults.
static napi_value aligned_buffer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  double size = 0;
  if (argc < 1 || napi_get_value_double(env, argv[0], &size) != napi_ok || !(size >= 1) || size > 4294967296.0) {
    napi_throw_range_error(env, NULL, "alignedBuffer needs a size from 1 byte to 4 GiB");
    return NULL;
  }
  void *memory = NULL;
  size_t alignment = size >= HUGE_PAGE ? HUGE_PAGE : DIRECT_ALIGN;
  if (posix_memalign(&memory, alignment, (size_t)size) != 0) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
#ifdef MADV_HUGEPAGE
  if (alignment == HUGE_PAGE) madvise(memory, (size_t)size - (size_t)size % HUGE_PAGE, MADV_HUGEPAGE);
#endif
  // V8 counts the memory as it does any ArrayBuffer's (see the file's head), and frees it
  // through free_aligned, also when creating the Buffer fails after taking it.
  napi_value result;
  napi_status status = napi_create_external_buffer(env, (size_t)size, memory, free_aligned, NULL, &result);
  if (status == napi_ok) return result;
  if (status == napi_no_external_buffers_allowed) free(memory);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, NULL, "cannot make an aligned Buffer");
  return NULL;
}

// Hands a buffer's whole pages back to the kernel (MADV_DONTNEED), keeping the buffer: its
// next use faults in zeroed pages. For pooled buffers that sit idle, which otherwise count
// in the resident set as long as the pool keeps them.
static napi_value discard_pages(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *data = NULL;
  size_t length = 0;
  if (argc < 1 || napi_get_buffer_info(env, argv[0], &data, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "discardPages needs a Buffer");
    return NULL;
  }
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t start = ((uintptr_t)data + page - 1) & ~(page - 1);
  uintptr_t end = ((uintptr_t)data + length) & ~(page - 1);
  if (end > start) madvise((void *)start, end - start, MADV_DONTNEED);
  return NULL;
}

// Hands the free memory inside malloc's heaps back to the kernel (malloc_trim): the
// thresholds set in init keep it there for reuse, also after a garbage collection has
// freed many Buffers at once, which leaves holes no trim of the heap's top reaches.
static napi_value trim_malloc(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
#ifdef __GLIBC__
  malloc_trim(0);
#endif
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
#ifdef __GLIBC__
  // Records, spans and decoded blobs of 128 KiB to 16 MiB come and go all through a run.
  // glibc's defaults hand each back to the kernel when freed (munmap, or trimming the heap
  // top), so the next one faults in fresh zeroed pages: a 2 GiB restore took 200 000 page
  // faults (restic: 44 000) and 0.4 s more system time. Kept in the heap they are reused.
  mallopt(M_MMAP_THRESHOLD, 16 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
  // glibc gives a thread an arena of its own on its first malloc (up to 8 per
  // core), and a buffer freed in one is reused only by the threads of that arena: with
  // the thresholds above, each pool thread kept its own MiB of freed records. Two arenas
  // (the main thread's, one shared by the pool) cut a first backup's peak RSS by 10 MiB
  // and a restore's by 6, no slower. Process-wide, like the thresholds: a program that
  // embeds bkdr gets it when the addon first loads.
  mallopt(M_ARENA_MAX, 2);
#endif
  // Fetched once, explicitly: an implicit fetch on every EVP init walks the provider tables.
  if (!aes_gcm) aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
  if (!aes_gcm) {
    napi_throw_error(env, NULL, "OpenSSL has no AES-256-GCM");
    return NULL;
  }
  napi_property_descriptor props[] = {
    {"cutAndHash", NULL, cut_and_hash, NULL, NULL, NULL, napi_default, NULL},
    {"seal", NULL, seal, NULL, NULL, NULL, napi_default, NULL},
    {"open", NULL, open_record, NULL, NULL, NULL, napi_default, NULL},
    {"hash", NULL, hash, NULL, NULL, NULL, napi_default, NULL},
    {"readSmall", NULL, read_small, NULL, NULL, NULL, napi_default, NULL},
    {"sealMany", NULL, seal_many, NULL, NULL, NULL, napi_default, NULL},
    {"openMany", NULL, open_many, NULL, NULL, NULL, napi_default, NULL},
    {"writeFiles", NULL, write_files, NULL, NULL, NULL, napi_default, NULL},
    {"lz4", NULL, lz4, NULL, NULL, NULL, napi_default, NULL},
    {"envelope", NULL, envelope, NULL, NULL, NULL, napi_default, NULL},
    {"statMany", NULL, stat_many, NULL, NULL, NULL, napi_default, NULL},
    {"writeObject", NULL, write_object, NULL, NULL, NULL, napi_default, NULL},
    {"appendedFile", NULL, appended_file_js, NULL, NULL, NULL, napi_default, NULL},
    {"appendFile", NULL, append_file, NULL, NULL, NULL, napi_default, NULL},
    {"closeAppendedFile", NULL, close_appended_file, NULL, NULL, NULL, napi_default, NULL},
    {"readDir", NULL, read_dir, NULL, NULL, NULL, napi_default, NULL},
    {"scanDir", NULL, scan_dir, NULL, NULL, NULL, napi_default, NULL},
    {"scanDirs", NULL, scan_dirs, NULL, NULL, NULL, napi_default, NULL},
    {"entryDigests", NULL, entry_digests, NULL, NULL, NULL, napi_default, NULL},
    {"matchDigests", NULL, match_digests, NULL, NULL, NULL, napi_default, NULL},
    {"alignedBuffer", NULL, aligned_buffer, NULL, NULL, NULL, napi_default, NULL},
    {"discardPages", NULL, discard_pages, NULL, NULL, NULL, napi_default, NULL},
    {"trimMalloc", NULL, trim_malloc, NULL, NULL, NULL, napi_default, NULL},
    {"gzipAvailable", NULL, gzip_available_js, NULL, NULL, NULL, napi_default, NULL},
    index_scan_export(),
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
