// What Node's fs cannot do and a faithful restore needs: nanosecond timestamps
// (fs.utimes takes a double), FIFOs and device nodes, extended attributes, and
// finding the holes of sparse files. Paths are Buffers: Linux filenames are bytes.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#define PATH_BUF 4096

static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  const char *code = NULL;
  switch (err) {
    case ENOENT: code = "ENOENT"; break;
    case EEXIST: code = "EEXIST"; break;
    case EACCES: code = "EACCES"; break;
    case EPERM: code = "EPERM"; break;
    case ENOTSUP: code = "ENOTSUP"; break;
    case ENODATA: code = "ENODATA"; break;
    case ENAMETOOLONG: code = "ENAMETOOLONG"; break;
    case ENOTDIR: code = "ENOTDIR"; break;
    case ELOOP: code = "ELOOP"; break;
    case EINVAL: code = "EINVAL"; break;
    case ENOSPC: code = "ENOSPC"; break;
    case ERANGE: code = "ERANGE"; break;
    case ENXIO: code = "ENXIO"; break;
    case EROFS: code = "EROFS"; break;
    case E2BIG: code = "E2BIG"; break;
    default: code = "EIO"; break;
  }
  char message[PATH_BUF + 256];
  snprintf(message, sizeof message, "%s: %s, %s '%s'", code, strerror(err), syscall, path ? path : "");
  napi_value msg, error, code_value, syscall_value, errno_value;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &error);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "code", code_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_throw(env, error);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "wrong number of arguments");
    return 0;
  }
  return 1;
}

/** Copies a Buffer argument into a NUL-terminated path. */
static int get_path(napi_env env, napi_value value, char *out) {
  void *data;
  size_t len;
  if (napi_get_buffer_info(env, value, &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "path must be a Buffer");
    return 0;
  }
  if (len >= PATH_BUF || memchr(data, 0, len) != NULL) {
    napi_throw_type_error(env, NULL, "path too long or contains NUL");
    return 0;
  }
  memcpy(out, data, len);
  out[len] = 0;
  return 1;
}

static int get_string(napi_env env, napi_value value, char *out, size_t cap) {
  size_t len;
  if (napi_get_value_string_utf8(env, value, out, cap, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a string");
    return 0;
  }
  return 1;
}

static int get_bigint(napi_env env, napi_value value, int64_t *out) {
  bool lossless;
  if (napi_get_value_bigint_int64(env, value, out, &lossless) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a bigint");
    return 0;
  }
  return 1;
}

// A time as seconds and nanoseconds (0 <= ns < 10^9): whole numbers of seconds a double holds
// exactly. Nanoseconds as one int64 (a BigInt) reached only 1677..2262; a time outside (a file
// dated 1601, as NTFS dates unknown ones) wrapped around silently.
static int get_timespec(napi_env env, napi_value seconds, napi_value nanoseconds, struct timespec *out) {
  double s, ns;
  if (napi_get_value_double(env, seconds, &s) != napi_ok || napi_get_value_double(env, nanoseconds, &ns) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected numbers of seconds and nanoseconds");
    return 0;
  }
  // Range first: casting a NaN or an out-of-range double to an integer is undefined.
  int whole = s >= -9007199254740992.0 && s <= 9007199254740992.0 && ns >= 0 && ns < 1e9 && s == (double)(int64_t)s && ns == (double)(long)ns;
  if (!whole) {
    napi_throw_range_error(env, NULL, "a time must be whole seconds (within 2^53) and 0 <= nanoseconds < 10^9");
    return 0;
  }
  out->tv_sec = (time_t)s;
  out->tv_nsec = (long)ns;
  return 1;
}

// setTimes(path: Buffer, atimeS: number, atimeNs: number, mtimeS: number, mtimeNs: number, followSymlinks: boolean)
static napi_value set_times(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  char path[PATH_BUF];
  struct timespec ts[2];
  bool follow;
  if (!get_args(env, info, 6, argv) || !get_path(env, argv[0], path) || !get_timespec(env, argv[1], argv[2], &ts[0]) || !get_timespec(env, argv[3], argv[4], &ts[1])) return NULL;
  napi_get_value_bool(env, argv[5], &follow);
  if (utimensat(AT_FDCWD, path, ts, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) return throw_errno(env, errno, "utimensat", path);
  return NULL;
}

// mknod(path: Buffer, mode: number, rdev: bigint)
static napi_value do_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char path[PATH_BUF];
  uint32_t mode;
  int64_t rdev;
  if (!get_args(env, info, 3, argv) || !get_path(env, argv[0], path) || !get_bigint(env, argv[2], &rdev)) return NULL;
  napi_get_value_uint32(env, argv[1], &mode);
  if (mknod(path, (mode_t)mode, (dev_t)rdev) != 0) return throw_errno(env, errno, "mknod", path);
  return NULL;
}

// listXattrs(path: Buffer): string[]
static napi_value list_xattrs(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char path[PATH_BUF];
  if (!get_args(env, info, 1, argv) || !get_path(env, argv[0], path)) return NULL;
  napi_create_array(env, &result);
  ssize_t size = llistxattr(path, NULL, 0);
  if (size < 0) {
    if (errno == ENOTSUP) return result;
    return throw_errno(env, errno, "llistxattr", path);
  }
  if (size == 0) return result;
  char *names = malloc((size_t)size);
  if (!names) return throw_errno(env, ENOMEM, "malloc", path);
  size = llistxattr(path, names, (size_t)size);
  if (size < 0) {
    int err = errno;
    free(names);
    return throw_errno(env, err, "llistxattr", path);
  }
  uint32_t index = 0;
  for (ssize_t off = 0; off < size;) {
    size_t len = strlen(names + off);
    napi_value name;
    napi_create_string_utf8(env, names + off, len, &name);
    napi_set_element(env, result, index++, name);
    off += (ssize_t)len + 1;
  }
  free(names);
  return result;
}

// getXattr(path: Buffer, name: string): Buffer
static napi_value get_xattr(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  char path[PATH_BUF], name[512];
  if (!get_args(env, info, 2, argv) || !get_path(env, argv[0], path) || !get_string(env, argv[1], name, sizeof name)) return NULL;
  ssize_t size = lgetxattr(path, name, NULL, 0);
  if (size < 0) return throw_errno(env, errno, "lgetxattr", path);
  void *data;
  napi_create_buffer(env, (size_t)size, &data, &result);
  if (size > 0 && lgetxattr(path, name, data, (size_t)size) < 0) return throw_errno(env, errno, "lgetxattr", path);
  return result;
}

// setXattr(path: Buffer, name: string, value: Buffer)
static napi_value set_xattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  char path[PATH_BUF], name[512];
  void *data;
  size_t len;
  if (!get_args(env, info, 3, argv) || !get_path(env, argv[0], path) || !get_string(env, argv[1], name, sizeof name)) return NULL;
  if (napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "value must be a Buffer");
    return NULL;
  }
  if (lsetxattr(path, name, data, len, 0) != 0) return throw_errno(env, errno, "lsetxattr", path);
  return NULL;
}

// lockFile(path: Buffer): number | null — the file (created when missing) opened and locked with
// flock(LOCK_EX | LOCK_NB), its fd kept open by the caller for as long as it holds the lock (the
// kernel drops it when the process ends, however it ends); null when another process holds it.
// A spool's worker lock: a pid in a file outlived crashes and named whatever process came next.
static napi_value lock_file(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char path[PATH_BUF];
  if (!get_args(env, info, 1, argv) || !get_path(env, argv[0], path)) return NULL;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return throw_errno(env, errno, "open", path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    close(fd);
    if (err == EWOULDBLOCK) {
      napi_get_null(env, &result);
      return result;
    }
    return throw_errno(env, err, "flock", path);
  }
  napi_create_int32(env, fd, &result);
  return result;
}

// lockHeld(path: Buffer): boolean — whether a process holds lockFile's lock on the file.
static napi_value lock_held(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char path[PATH_BUF];
  if (!get_args(env, info, 1, argv) || !get_path(env, argv[0], path)) return NULL;
  int held = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
  }
  napi_get_boolean(env, held, &result);
  return result;
}

// Whether RWF_NOWAIT is worth asking for: cleared once refused (a kernel before 4.14, a file system without it).
static int nowait_reads = 1;

// readCached(fd, buffer, offset, length, position) → bytes read from the page cache alone (preadv2
// with RWF_NOWAIT), or -1 when that would wait for the disk, or the kernel cannot tell, or the read
// fails: the caller then reads the usual way, on the pool, which also reports a failure. A few KiB of
// a pack already cached (a parent snapshot's tree) cost less read here than one trip to the pool.
static napi_value read_cached(napi_env env, napi_callback_info info) {
  napi_value argv[5], result;
  if (!get_args(env, info, 5, argv)) return NULL;
  int32_t fd = -1;
  double offset = 0, length = 0, position = 0;
  void *data = NULL;
  size_t capacity = 0;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_buffer_info(env, argv[1], &data, &capacity) != napi_ok ||
      napi_get_value_double(env, argv[2], &offset) != napi_ok || napi_get_value_double(env, argv[3], &length) != napi_ok ||
      napi_get_value_double(env, argv[4], &position) != napi_ok || !(offset >= 0) || !(length >= 0) || !(position >= 0) || offset + length > (double)capacity) {
    napi_throw_range_error(env, NULL, "readCached needs a descriptor, a Buffer, and an offset, length and position within it");
    return NULL;
  }
  ssize_t n = -1;
#ifdef RWF_NOWAIT
  if (nowait_reads) {
    struct iovec iov = {(char *)data + (size_t)offset, (size_t)length};
    do n = preadv2(fd, &iov, 1, (off_t)position, RWF_NOWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) nowait_reads = 0;
    if (n < 0) n = -1;
  }
#endif
  napi_create_double(env, (double)n, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"setTimes", NULL, set_times, NULL, NULL, NULL, napi_default, NULL},
    {"mknod", NULL, do_mknod, NULL, NULL, NULL, napi_default, NULL},
    {"listXattrs", NULL, list_xattrs, NULL, NULL, NULL, napi_default, NULL},
    {"getXattr", NULL, get_xattr, NULL, NULL, NULL, napi_default, NULL},
    {"setXattr", NULL, set_xattr, NULL, NULL, NULL, napi_default, NULL},
    {"lockFile", NULL, lock_file, NULL, NULL, NULL, napi_default, NULL},
    {"lockHeld", NULL, lock_held, NULL, NULL, NULL, napi_default, NULL},
    {"readCached", NULL, read_cached, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
