// Index files read straight into the arrays the blob index keeps (src/repo/blob-index.ts).
//
// Why native: the index is loaded at the start of every backup and restore. Through
// JSON.parse, 20 000 blobs became 20 000 objects and 40 000 hex strings, only to be
// copied into typed arrays and collected: 0.1–0.2 s of a restore. A scanner in
// JavaScript saved little, since it runs once per process and so mostly unoptimized.
//
// It takes the text gzipped (format 2) or not, and inflates the one gzip member bkdr writes
// into a buffer of the size its trailer gives: Node's zlib took 37 ms for 1 MiB in a fresh
// process, in 16 KiB pieces joined after.
//
// Only the form bkdr writes is scanned: no white space, no escapes, only an index file's
// keys (in any order; those that matter once), lowercase hex ids, plain non-negative
// integers. Anything else (or gzip other than one whole member) returns null and the caller
// parses the text with JSON.parse, which decides what it means; so this never has to agree
// with JSON on odd input. Running out of memory throws.
#include "index_scan.h"
#include "gzip.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ID_BYTES 32
// Per blob: pack number (into the file's pack list), offset, stored length, plaintext
// length, type (1 tree, 0 data): BLOB_FIELDS in src/repo/index-file-scan.ts.
#define FIELDS 5
// Larger gzipped text is left to Node's zlib (an index file of a million blobs is ~150 MiB).
#define MAX_INFLATED ((size_t)1 << 30)
// More digits could lose precision in a double, which JSON.parse would then give.
#define MAX_DIGITS 15

typedef struct {
  const uint8_t *b;
  size_t n, p;
  uint8_t *ids;
  uint32_t *fields;
  size_t count, capacity;
  // Where each pack's id starts in the text (SIZE_MAX until its "id" is read).
  size_t *pack_ids;
  size_t packs, pack_capacity;
  // Set when an array could not grow: the scan stops, and this is an error, not "not plain".
  bool out_of_memory;
} scan;

enum key { K_VERSION, K_PACKS, K_ID, K_SIZE, K_BLOBS, K_TYPE, K_OFFSET, K_LENGTH, K_RAW_LENGTH, K_COMPRESSION, K_NONE };
static const struct {
  const char *text;
  size_t length;
} key_text[] = {
    {"\"version\":", 10}, {"\"packs\":", 8},  {"\"id\":", 5},     {"\"size\":", 7},          {"\"blobs\":", 8},
    {"\"type\":", 7},     {"\"offset\":", 9}, {"\"length\":", 9}, {"\"rawLength\":", 12}, {"\"compression\":", 14},
};

static bool literal(scan *s, const char *text, size_t length) {
  if (s->n - s->p < length || memcmp(s->b + s->p, text, length) != 0) return false;
  s->p += length;
  return true;
}

static bool byte(scan *s, uint8_t c) {
  if (s->p >= s->n || s->b[s->p] != c) return false;
  s->p++;
  return true;
}

// The key at the position, with its colon; the keys differ in their first letter.
static enum key key(scan *s) {
  if (s->n - s->p < 2 || s->b[s->p] != '"') return K_NONE;
  enum key k;
  switch (s->b[s->p + 1]) {
    case 'v': k = K_VERSION; break;
    case 'p': k = K_PACKS; break;
    case 'i': k = K_ID; break;
    case 's': k = K_SIZE; break;
    case 'b': k = K_BLOBS; break;
    case 't': k = K_TYPE; break;
    case 'o': k = K_OFFSET; break;
    case 'l': k = K_LENGTH; break;
    case 'r': k = K_RAW_LENGTH; break;
    case 'c': k = K_COMPRESSION; break;
    default: return K_NONE;
  }
  return literal(s, key_text[k].text, key_text[k].length) ? k : K_NONE;
}

// After a value: true and *closed when the object ends, true when a comma follows.
static bool next_member(scan *s, bool *closed) {
  if (s->p >= s->n) return false;
  uint8_t c = s->b[s->p++];
  *closed = c == '}';
  return c == '}' || c == ',';
}

// A JSON number with no sign, fraction, exponent or leading zero, stored as a
// Uint32Array stores a number (modulo 2^32).
static bool integer(scan *s, uint32_t *out) {
  size_t start = s->p;
  uint64_t value = 0;
  while (s->p < s->n && s->b[s->p] >= '0' && s->b[s->p] <= '9') value = value * 10 + (uint64_t)(s->b[s->p++] - '0');
  size_t digits = s->p - start;
  if (digits == 0 || digits > MAX_DIGITS || (digits > 1 && s->b[start] == '0')) return false;
  if (out) *out = (uint32_t)value;
  return true;
}

// One more than a lowercase hex digit's value, 0 for any other byte: a table, since
// random digits made a branch on their range mispredict about every other byte.
static const uint8_t hex_value_plus_one[256] = {
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
    ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

// A quoted 64-digit id, written in binary to `into` when given.
static bool hex_id(scan *s, uint8_t *into) {
  if (s->n - s->p < ID_BYTES * 2 + 2 || s->b[s->p] != '"' || s->b[s->p + ID_BYTES * 2 + 1] != '"') return false;
  const uint8_t *digits = s->b + s->p + 1;
  int bad = 0;
  uint8_t binary[ID_BYTES];
  for (int i = 0; i < ID_BYTES; i++) {
    int hi = hex_value_plus_one[digits[2 * i]] - 1, lo = hex_value_plus_one[digits[2 * i + 1]] - 1;
    bad |= hi | lo;
    binary[i] = (uint8_t)(hi << 4 | lo);
  }
  if (bad < 0) return false;
  if (into) memcpy(into, binary, ID_BYTES);
  s->p += ID_BYTES * 2 + 2;
  return true;
}

static bool grow_blobs(scan *s) {
  size_t capacity = s->capacity * 2;
  uint8_t *ids = realloc(s->ids, capacity * ID_BYTES);
  if (ids) s->ids = ids;
  uint32_t *fields = realloc(s->fields, capacity * FIELDS * sizeof(uint32_t));
  if (fields) s->fields = fields;
  if (!ids || !fields) {
    s->out_of_memory = true;
    return false;
  }
  s->capacity = capacity;
  return true;
}

static bool blob(scan *s, uint32_t pack) {
  if (s->count == s->capacity && !grow_blobs(s)) return false;
  uint8_t *id = s->ids + s->count * ID_BYTES;
  uint32_t *f = s->fields + s->count * FIELDS;
  // A bit per key: each once, all but compression required.
  unsigned seen = 0;
  bool closed = false;
  if (!byte(s, '{')) return false;
  while (!closed) {
    enum key k = key(s);
    unsigned bit = 1u << k;
    bool ok;
    switch (k) {
      case K_ID: ok = hex_id(s, id); break;
      case K_TYPE:
        f[4] = literal(s, "\"tree\"", 6) ? 1 : 0;
        ok = f[4] == 1 || literal(s, "\"data\"", 6);
        break;
      case K_OFFSET: ok = integer(s, &f[1]); break;
      case K_LENGTH: ok = integer(s, &f[2]); break;
      case K_RAW_LENGTH: ok = integer(s, &f[3]); break;
      case K_COMPRESSION: ok = integer(s, NULL); break;
      default: return false;
    }
    if (!ok || (seen & bit) || !next_member(s, &closed)) return false;
    seen |= bit;
  }
  const unsigned required = 1u << K_ID | 1u << K_TYPE | 1u << K_OFFSET | 1u << K_LENGTH | 1u << K_RAW_LENGTH;
  if ((seen & required) != required) return false;
  f[0] = pack;
  s->count++;
  return true;
}

// `[item,...]`, possibly empty; `pack` is passed on to each item.
static bool list(scan *s, bool (*item)(scan *, uint32_t), uint32_t pack) {
  if (!byte(s, '[')) return false;
  if (byte(s, ']')) return true;
  for (;;) {
    if (!item(s, pack) || s->p >= s->n) return false;
    uint8_t c = s->b[s->p++];
    if (c == ']') return true;
    if (c != ',') return false;
  }
}

static bool pack(scan *s, uint32_t unused) {
  (void)unused;
  if (s->packs == s->pack_capacity) {
    size_t *grown = realloc(s->pack_ids, s->pack_capacity * 2 * sizeof(size_t));
    if (!grown) {
      s->out_of_memory = true;
      return false;
    }
    s->pack_ids = grown;
    s->pack_capacity *= 2;
  }
  // Its blobs may come before its id: the number is taken now, the id found after.
  uint32_t number = (uint32_t)s->packs++;
  s->pack_ids[number] = SIZE_MAX;
  bool saw_blobs = false, closed = false;
  if (!byte(s, '{')) return false;
  while (!closed) {
    bool ok;
    switch (key(s)) {
      case K_ID:
        if (s->pack_ids[number] != SIZE_MAX) return false;
        s->pack_ids[number] = s->p + 1;
        ok = hex_id(s, NULL);
        break;
      case K_SIZE: ok = integer(s, NULL); break;
      case K_BLOBS:
        ok = !saw_blobs && list(s, blob, number);
        saw_blobs = true;
        break;
      default: return false;
    }
    if (!ok || !next_member(s, &closed)) return false;
  }
  return saw_blobs && s->pack_ids[number] != SIZE_MAX;
}

static bool index_file(scan *s) {
  bool saw_packs = false, closed = false;
  if (!byte(s, '{')) return false;
  while (!closed) {
    bool ok;
    switch (key(s)) {
      case K_VERSION: ok = integer(s, NULL); break;
      case K_PACKS:
        ok = !saw_packs && list(s, pack, 0);
        saw_packs = true;
        break;
      default: return false;
    }
    if (!ok || !next_member(s, &closed)) return false;
  }
  return saw_packs && s->p == s->n;
}

// scanIndex(metadata: Buffer) → null | [ids: Buffer, fields: Uint32Array, packIds: string[]]
static napi_value scan_index(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result = NULL;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  bool is_buffer = false;
  if (argc < 1 || napi_is_buffer(env, argv[0], &is_buffer) != napi_ok || !is_buffer) {
    napi_throw_type_error(env, NULL, "expected a Buffer");
    return NULL;
  }
  void *stored = NULL;
  size_t length = 0;
  napi_get_buffer_info(env, argv[0], &stored, &length);
  const uint8_t *text = stored;
  uint8_t *inflated = NULL;
  if (length >= 2 && text[0] == 0x1f && text[1] == 0x8b) {
    size_t size = gunzip_size(text, length);
    inflated = size > 0 && size <= MAX_INFLATED ? malloc(size) : NULL;
    if (!inflated && size > 0 && size <= MAX_INFLATED) {
      napi_throw_error(env, NULL, "out of memory");
      return NULL;
    }
    if (!inflated || !gunzip_member(text, length, inflated, size)) {
      free(inflated);
      napi_get_null(env, &result);
      return result;
    }
    text = inflated;
    length = size;
  }
  // Each blob takes over 150 bytes of text; growing is for files that surprise.
  scan s = {.b = text, .n = length, .capacity = length / 150 + 16, .pack_capacity = 64};
  s.ids = malloc(s.capacity * ID_BYTES);
  s.fields = malloc(s.capacity * FIELDS * sizeof(uint32_t));
  s.pack_ids = malloc(s.pack_capacity * sizeof(size_t));
  if (!s.ids || !s.fields || !s.pack_ids) {
    napi_throw_error(env, NULL, "out of memory");
  } else if (!index_file(&s)) {
    if (s.out_of_memory) napi_throw_error(env, NULL, "out of memory");
    else napi_get_null(env, &result);
  } else {
    napi_value ids, fields_buffer, fields, pack_ids;
    void *data = NULL;
    bool ok = napi_create_buffer_copy(env, s.count * ID_BYTES, s.ids, NULL, &ids) == napi_ok &&
              napi_create_arraybuffer(env, s.count * FIELDS * sizeof(uint32_t), &data, &fields_buffer) == napi_ok &&
              napi_create_typedarray(env, napi_uint32_array, s.count * FIELDS, fields_buffer, 0, &fields) == napi_ok &&
              napi_create_array_with_length(env, s.packs, &pack_ids) == napi_ok && napi_create_array_with_length(env, 3, &result) == napi_ok;
    if (ok && s.count > 0) memcpy(data, s.fields, s.count * FIELDS * sizeof(uint32_t));
    for (size_t i = 0; ok && i < s.packs; i++) {
      napi_value id;
      ok = napi_create_string_latin1(env, (const char *)s.b + s.pack_ids[i], ID_BYTES * 2, &id) == napi_ok && napi_set_element(env, pack_ids, (uint32_t)i, id) == napi_ok;
    }
    ok = ok && napi_set_element(env, result, 0, ids) == napi_ok && napi_set_element(env, result, 1, fields) == napi_ok && napi_set_element(env, result, 2, pack_ids) == napi_ok;
    if (!ok) result = NULL;  // the failed call left an exception pending
  }
  free(s.ids);
  free(s.fields);
  free(s.pack_ids);
  free(inflated);
  return result;
}

napi_property_descriptor index_scan_export(void) {
  return (napi_property_descriptor){"scanIndex", NULL, scan_index, NULL, NULL, NULL, napi_default, NULL};
}
