// bkdr-wal: the command PostgreSQL runs per WAL file with `--async`, in C. It speaks the spool
// protocol of src/backup/wal-spool.ts and src/backup/wal-async-client.ts (the same files, the
// same answers) and starts the same worker (`bkdr wal push-worker` / `fetch-worker`). Node's
// own start-up took ~45 ms of every call, which capped archiving and replay near 20 files a
// second; this takes about a millisecond. Arguments are bkdr's: `bkdr-wal [-c <config>] [-q]
// wal push --async --spool <dir> %p`. Anything it does not know, it hands to bkdr itself
// (exec node bin/bkdr.js with the same arguments), which says what is wrong with it.
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 5
#define WORKER_CHECK_MS 250
// A worker started takes a Node start and a key derivation to hold its lock: not started twice meanwhile.
#define WORKER_START_MS 10000
#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
// wal fetch: the file may be archived but could not be fetched (ExitCode.WalFetchFailed). PostgreSQL
// reads any code up to 125 as "not archived" and would end recovery there; above, it stops.
#define EXIT_FETCH_FAILED 255

static char bin_path[PATH_MAX];
static char **original_argv;

/** Hands the call to bkdr itself: node bin/bkdr.js with the same arguments. */
static int exec_bkdr(void) {
  int argc = 0;
  while (original_argv[argc]) argc++;
  char **args = calloc((size_t)argc + 2, sizeof(char *));
  if (!args) return EXIT_FAILED;
  const char *node = getenv("BKDR_NODE");
  args[0] = (char *)(node && *node ? node : "node");
  args[1] = bin_path;
  for (int i = 1; i < argc; i++) args[i + 1] = original_argv[i];
  execvp(args[0], args);
  fprintf(stderr, "bkdr: cannot start %s: %s\n", args[0], strerror(errno));
  // As a shell's "command not found": above 125, so that PostgreSQL does not take it for "not archived".
  return EXIT_FETCH_FAILED;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/** A marker's content (NUL-terminated, at most cap-1 bytes); -1 when there is none. */
static ssize_t read_marker(const char *path, char *out, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, out, cap - 1);
  close(fd);
  if (n < 0) return -1;
  out[n] = 0;
  return n;
}

/** Written under a temporary name and renamed, as WalSpool.writeAtomic: a reader never sees half of it. */
static int write_atomic(const char *path, const char *content) {
  // '.<name>.<pid>.tmp': a worker listing a queue passes over names starting with a dot.
  char temp[PATH_MAX];
  const char *slash = strrchr(path, '/');
  snprintf(temp, sizeof temp, "%.*s/.%s.%d.tmp", (int)(slash - path), path, slash + 1, (int)getpid());
  int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  size_t len = strlen(content);
  ssize_t n = len ? write(fd, content, len) : 0;
  close(fd);
  if (n != (ssize_t)len || rename(temp, path) != 0) {
    unlink(temp);
    return -1;
  }
  return 0;
}

static int mkdirs(const char *dir) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s", dir);
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(path, 0700) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static int exists(const char *path) {
  return access(path, F_OK) == 0;
}

typedef struct {
  int push;  // else fetch
  const char *globals[16];
  int nglobals;
  char spool[PATH_MAX];
  const char *source;
  long timeout_ms;
  const char *prefetch;
  char path[PATH_MAX];
  const char *name;
  int quiet;
  char dir[PATH_MAX];  // <spool>/push or <spool>/fetch
} call_t;

static int absolute(const char *in, char *out) {
  if (in[0] == '/') {
    snprintf(out, PATH_MAX, "%s", in);
    return 0;
  }
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd) || strlen(cwd) + strlen(in) + 2 > PATH_MAX) return -1;
  snprintf(out, PATH_MAX, "%s/%s", cwd, in);
  return 0;
}

static int is_flag_without_value(const char *a) {
  static const char *flags[] = {"-q", "--quiet", "-v", "--verbose", "--json", "-y", "--yes", "--no-color", NULL};
  for (int i = 0; flags[i]; i++)
    if (strcmp(a, flags[i]) == 0) return 1;
  return 0;
}

/** parseAsyncWalCall's rules: 0 when the call is one this answers, -1 for anything else. */
static int parse(int argc, char **argv, call_t *c) {
  memset(c, 0, sizeof *c);
  int at = -1;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "wal") == 0) { at = i; break; }
  if (at < 0 || at + 1 >= argc) return -1;
  if (strcmp(argv[at + 1], "push") == 0) c->push = 1;
  else if (strcmp(argv[at + 1], "fetch") != 0) return -1;
  for (int i = 1; i < at; i++) {
    if (c->nglobals >= 14) return -1;
    if (is_flag_without_value(argv[i]) || strncmp(argv[i], "--config=", 9) == 0) {
      if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0) c->quiet = 1;
      c->globals[c->nglobals++] = argv[i];
    } else if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < at) {
      c->globals[c->nglobals++] = argv[i];
      c->globals[c->nglobals++] = argv[++i];
    } else return -1;
  }
  int async = 0;
  const char *spool = NULL, *timeout = NULL, *positional[2];
  int npositional = 0;
  for (int i = at + 2; i < argc; i++) {
    const char *a = argv[i];
    const char *value = NULL;
    char key[32] = "";
    if (strcmp(a, "--async") == 0) { async = 1; continue; }
    if (strncmp(a, "--", 2) == 0 && strchr(a, '=')) {
      size_t n = (size_t)(strchr(a, '=') - a - 2);
      if (n >= sizeof key) return -1;
      memcpy(key, a + 2, n);
      key[n] = 0;
      value = strchr(a, '=') + 1;
    } else if ((strcmp(a, "--spool") == 0 || strcmp(a, "--source") == 0 || strcmp(a, "--timeout") == 0 || strcmp(a, "--prefetch") == 0) && i + 1 < argc) {
      snprintf(key, sizeof key, "%s", a + 2);
      value = argv[++i];
    } else if (a[0] == '-') return -1;
    else {
      if (npositional >= 2) return -1;
      positional[npositional++] = a;
      continue;
    }
    if (strcmp(key, "spool") == 0) spool = value;
    else if (strcmp(key, "source") == 0) c->source = value;
    else if (strcmp(key, "timeout") == 0) timeout = value;
    else if (strcmp(key, "prefetch") == 0) c->prefetch = value;
    else return -1;
  }
  if (!async || !spool || npositional != (c->push ? 1 : 2)) return -1;
  char *end;
  double seconds = timeout ? strtod(timeout, &end) : (c->push ? 60 : 300);
  if (timeout && (*end || !(seconds > 0) || seconds > 86400)) return -1;
  c->timeout_ms = (long)(seconds * 1000);
  if (c->prefetch) {
    long n = strtol(c->prefetch, &end, 10);
    if (*end || n < 1) return -1;
  }
  // Every path made below is the spool's, a name and at most 24 bytes more: refused here when that
  // could pass PATH_MAX (bkdr then says so), so none of the snprintf calls can cut one short.
  const char *target = c->push ? positional[0] : positional[1];
  if (strlen(spool) + strlen(target) + 2 * 256 + 64 >= PATH_MAX || absolute(spool, c->spool) || absolute(target, c->path)) return -1;
  if (c->push) {
    const char *slash = strrchr(c->path, '/');
    c->name = slash ? slash + 1 : c->path;
  } else c->name = positional[0];
  // A file name, nothing that could reach outside the spool's directories (as parseAsyncWalCall).
  if (!*c->name || strlen(c->name) > 255 || c->name[0] == '.' || strncmp(c->name, "worker.", 7) == 0 || strlen(c->spool) + 2 * 256 + 64 >= PATH_MAX) return -1;
  for (const char *p = c->name; *p; p++)
    if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-')) return -1;
  snprintf(c->dir, sizeof c->dir, "%s/%s", c->spool, c->push ? "push" : "fetch");
  return 0;
}

static int fail(int code, const char *message) {
  fprintf(stderr, "bkdr: %s\n", message);
  return code;
}

static int fetching;

/** A failure marker ("<code>\t<message>"), as WalSpool.writeFailure writes it: said and removed; -1 when there is none. A fetch's failure stops recovery. */
static int take_failure(const char *path) {
  char text[4096];
  if (read_marker(path, text, sizeof text) < 0) return -1;
  unlink(path);
  char *tab = strchr(text, '\t');
  int code = atoi(text);
  return fail(fetching ? EXIT_FETCH_FAILED : code ? code : EXIT_FAILED, tab ? tab + 1 : text);
}

/** Whether a worker holds the spool's lock (flock on worker.pid, as WalSpool.lock takes it). */
static int worker_alive(const call_t *c) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/worker.pid", c->dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return 0;
  int held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd);
  return held;
}

/** Starts the spool's worker, detached in its own session (PostgreSQL waits for this command, not for it). */
static void start_worker(const call_t *c) {
  pid_t child = fork();
  if (child < 0) return;
  if (child > 0) {
    waitpid(child, NULL, 0);
    return;
  }
  // The middle process exits at once: the worker is nobody's child to reap.
  if (fork() != 0) _exit(0);
  setsid();
  // Nothing of PostgreSQL's: its descriptors closed, its signal mask and ignored signals reset.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  for (int fd = 3; fd < 1024; fd++) close(fd);
  char log[PATH_MAX];
  snprintf(log, sizeof log, "%s/worker.log", c->dir);
  int devnull = open("/dev/null", O_RDONLY);
  // Its warnings (why a file failed) go to the spool's worker.log, which the timeout message names.
  int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (devnull >= 0) dup2(devnull, 0);
  if (out >= 0) {
    dup2(out, 1);
    dup2(out, 2);
  }
  if (devnull > 2) close(devnull);
  if (out > 2) close(out);
  const char *args[32];
  int n = 0;
  const char *node = getenv("BKDR_NODE");
  args[n++] = node && *node ? node : "node";
  args[n++] = bin_path;
  for (int i = 0; i < c->nglobals; i++) args[n++] = c->globals[i];
  args[n++] = "wal";
  args[n++] = c->push ? "push-worker" : "fetch-worker";
  args[n++] = "--spool";
  args[n++] = c->spool;
  if (c->source) {
    args[n++] = "--source";
    args[n++] = c->source;
  }
  if (!c->push) {
    args[n++] = "--prefetch";
    args[n++] = c->prefetch ? c->prefetch : "8";
  }
  args[n] = NULL;
  execvp(args[0], (char **)args);
  char path[PATH_MAX], message[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/worker.error", c->dir);
  snprintf(message, sizeof message, "%d\tcannot start the spool's worker: %s: %s", EXIT_FAILED, args[0], strerror(errno));
  write_atomic(path, message);
  _exit(127);
}

/** The worker check of waitFor: its start-up failure said, else started when none runs. Returns an exit code or -1. */
static int check_worker(const call_t *c) {
  static long long started_at = -WORKER_START_MS;
  if (worker_alive(c)) return -1;
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/worker.error", c->dir);
  int code = take_failure(path);
  if (code >= 0) return code;
  if (now_ms() - started_at < WORKER_START_MS) return -1;
  started_at = now_ms();
  start_worker(c);
  return -1;
}

/** A worker.error from a start made for an earlier command that no longer waited is not this one's answer. */
static void forget_stale_worker_error(const call_t *c) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/worker.error", c->dir);
  if (!worker_alive(c)) unlink(path);
}

static int timed_out(const call_t *c) {
  char message[PATH_MAX + 256];
  snprintf(message, sizeof message, "wal %s %s: no answer from the spool's worker within %ld s (its log: %s/worker.log)", c->push ? "push" : "fetch", c->name, c->timeout_ms / 1000, c->dir);
  return fail(fetching ? EXIT_FETCH_FAILED : EXIT_FAILED, message);
}

/**
 * waitFor of wal-async-client.ts: asks `answer` (an exit code, or -1 for none yet) every POLL_MS,
 * starting the worker when none runs and saying its start-up failure; gives up at the timeout.
 */
static int wait_for(const call_t *c, int (*answer)(const call_t *, void *), void *state) {
  forget_stale_worker_error(c);
  long long deadline = now_ms() + c->timeout_ms, next_check = 0;
  for (;;) {
    int code = answer(c, state);
    if (code >= 0) return code;
    long long now = now_ms();
    if (now >= next_check) {
      next_check = now + WORKER_CHECK_MS;
      if ((code = check_worker(c)) >= 0) return code;
    }
    if (now >= deadline) return timed_out(c);
    sleep_ms(POLL_MS);
  }
}

typedef struct {
  char stamp[96], ok[PATH_MAX], queued[PATH_MAX], error[PATH_MAX];
} push_t;

/** 1 stored, 0 none, -1 the .ok of another file of that name (a cluster made again); the .ok is taken either way. */
static int acknowledgement(const push_t *p) {
  char found[128];
  if (read_marker(p->ok, found, sizeof found) < 0) return 0;
  unlink(p->ok);
  return strcmp(found, p->stamp) == 0 ? 1 : -1;
}

static int push_answer(const call_t *c, void *state) {
  (void)c;
  const push_t *p = state;
  int ack = acknowledgement(p);
  if (ack == 1) {
    // Stored as a ready file read ahead while this request waited: the request is answered too.
    unlink(p->queued);
    return EXIT_OK;
  }
  int code = take_failure(p->error);
  if (code >= 0) return code;
  // A stale .ok, or the worker took the request and its answer went astray: asked again (a push is idempotent).
  if ((ack == -1 || !exists(p->queued)) && write_atomic(p->queued, c->path) != 0) return fail(EXIT_FAILED, "cannot write to the spool");
  return -1;
}

static int push(const call_t *c) {
  struct stat st;
  if (stat(c->path, &st) != 0) {
    char message[PATH_MAX + 64];
    snprintf(message, sizeof message, "cannot read WAL file %s: %s", c->path, errno == ENOENT ? "ENOENT" : strerror(errno));
    return fail(EXIT_USAGE, message);
  }
  push_t p;
  snprintf(p.stamp, sizeof p.stamp, "%lld:%lld:%llu", (long long)st.st_size, (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec, (unsigned long long)st.st_ino);
  snprintf(p.ok, sizeof p.ok, "%s/%s.ok", c->dir, c->name);
  snprintf(p.queued, sizeof p.queued, "%s/queue/%s", c->dir, c->name);
  snprintf(p.error, sizeof p.error, "%s/%s.error", c->dir, c->name);
  if (acknowledgement(&p) == 1) return EXIT_OK;
  char queue_dir[PATH_MAX];
  snprintf(queue_dir, sizeof queue_dir, "%s/queue", c->dir);
  if (mkdirs(queue_dir) != 0) return fail(EXIT_FAILED, "cannot create the spool directory");
  unlink(p.error);
  if (write_atomic(p.queued, c->path) != 0) return fail(EXIT_FAILED, "cannot write to the spool");
  return wait_for(c, push_answer, &p);
}

/** Renames the staged file to PostgreSQL's target (copied when on another file system); 0 when it went first. */
static int hand_over(const char *staged, const char *target) {
  if (rename(staged, target) == 0) return 1;
  if (errno == ENOENT) return 0;
  if (errno != EXDEV) return -1;
  char temp[PATH_MAX];
  const char *slash = strrchr(target, '/');
  snprintf(temp, sizeof temp, "%.*s/.%s.%d.tmp", (int)(slash - target), target, slash + 1, (int)getpid());
  int in = open(staged, O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno == ENOENT ? 0 : -1;
  int out = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    close(in);
    return -1;
  }
  char buf[1 << 16];
  ssize_t n;
  int ok = 1;
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (write(out, buf, (size_t)n) != n) { ok = 0; break; }
  if (n < 0) ok = 0;
  close(in);
  if (close(out) != 0) ok = 0;
  if (!ok || rename(temp, target) != 0) {
    unlink(temp);
    return -1;
  }
  // Taken: the worker counts a staged file taken when it is gone.
  unlink(staged);
  return 1;
}

typedef struct {
  char staged[PATH_MAX], missing[PATH_MAX], error[PATH_MAX], wanted[PATH_MAX];
} fetch_t;

/** The staged file moved into place: 1 done, 0 none (or only a dead worker's), -1 failed. Only a live worker's staging counts: after a crash, the next worker clears what it left. */
static int take_staged(const call_t *c, const fetch_t *f) {
  return exists(f->staged) && worker_alive(c) ? hand_over(f->staged, c->path) : 0;
}

static int fetch_answer(const call_t *c, void *state) {
  const fetch_t *f = state;
  int handed = take_staged(c, f);
  if (handed < 0) return fail(EXIT_FETCH_FAILED, "cannot move the staged WAL file into place");
  if (handed) {
    // Staged as read ahead while this request waited: it is answered too.
    unlink(f->wanted);
    return EXIT_OK;
  }
  if (exists(f->missing)) {
    unlink(f->missing);
    // As the synchronous fetch: PostgreSQL asks for files that may not exist (the next timeline's history).
    if (!c->quiet) fprintf(stderr, "wal fetch: %s is not archived\n", c->name);
    return EXIT_FAILED;
  }
  int code = take_failure(f->error);
  if (code >= 0) return code;
  // Taken off the queue without an answer (a worker that ended meanwhile): asked again.
  if (!exists(f->wanted) && write_atomic(f->wanted, "") != 0) return fail(EXIT_FETCH_FAILED, "cannot write to the spool");
  return -1;
}

static int fetch(const call_t *c) {
  fetch_t f;
  char want_dir[PATH_MAX];
  snprintf(f.staged, sizeof f.staged, "%s/%s", c->dir, c->name);
  snprintf(f.missing, sizeof f.missing, "%s/%s.missing", c->dir, c->name);
  snprintf(f.error, sizeof f.error, "%s/%s.error", c->dir, c->name);
  snprintf(want_dir, sizeof want_dir, "%s/want", c->dir);
  snprintf(f.wanted, sizeof f.wanted, "%s/%s", want_dir, c->name);
  int handed = take_staged(c, &f);
  if (handed < 0) return fail(EXIT_FETCH_FAILED, "cannot move the staged WAL file into place");
  if (handed) return EXIT_OK;
  if (mkdirs(want_dir) != 0) return fail(EXIT_FETCH_FAILED, "cannot create the spool directory");
  unlink(f.missing);
  unlink(f.error);
  if (write_atomic(f.wanted, "") != 0) return fail(EXIT_FETCH_FAILED, "cannot write to the spool");
  return wait_for(c, fetch_answer, &f);
}

int main(int argc, char **argv) {
  original_argv = argv;
  // bin/bkdr.js of this installation: this file is build/Release/bkdr-wal.
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return fail(EXIT_FAILED, "cannot find this installation (/proc/self/exe)");
  self[n] = 0;
  for (int up = 0; up < 3; up++) {
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
  }
  snprintf(bin_path, sizeof bin_path, "%s/bin/bkdr.js", self);
  call_t c;
  if (parse(argc, argv, &c) != 0) return exec_bkdr();
  signal(SIGPIPE, SIG_IGN);
  fetching = !c.push;
  return c.push ? push(&c) : fetch(&c);
}
