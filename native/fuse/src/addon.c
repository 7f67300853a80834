/*
 * N-API entry points: createSession, mount, unmount, and the libfuse log capture that turns
 * libfuse's messages into error text. Part of PALM's FUSE binding; forked from
 * @cocalc/fuse-native (MIT), see palm_fuse.h.
 */
#include "palm_fuse.h"
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pf_atexit (void);

/* ---- libfuse log capture: the last messages, for error text ---- */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_ring[2048];
static size_t log_len = 0;
static int log_debug = 0;

static void log_func (enum fuse_log_level level, const char *fmt, va_list ap) {
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  if (level >= FUSE_LOG_DEBUG) {
    if (log_debug) fputs(line, stderr);
    return;
  }
  pthread_mutex_lock(&log_lock);
  size_t n = strlen(line);
  if (n >= sizeof log_ring) n = sizeof log_ring - 1;
  if (log_len + n >= sizeof log_ring) log_len = 0; /* keep it simple: start over */
  memcpy(log_ring + log_len, line, n);
  log_len += n;
  log_ring[log_len] = 0;
  pthread_mutex_unlock(&log_lock);
  if (log_debug) fputs(line, stderr);
}

/* Copies and clears what libfuse logged since the last call. */
void pf_log_capture (char *dst, size_t cap) {
  pthread_mutex_lock(&log_lock);
  snprintf(dst, cap, "%s", log_ring);
  log_len = 0;
  log_ring[0] = 0;
  pthread_mutex_unlock(&log_lock);
}

void pf_throw_last (napi_env env, const char *what) {
  const napi_extended_error_info *e = NULL;
  napi_get_last_error_info(env, &e);
  char msg[256];
  snprintf(msg, sizeof msg, "palm-fuse: %s failed: %s", what, e && e->error_message ? e->error_message : "unknown");
  napi_throw_error(env, NULL, msg);
}

/* ---- session lifetime ---- */

static void free_session (pf_session *s) {
  for (uint32_t i = 0; s->slots != NULL && i < s->nslots; i++) free(s->slots[i].heap);
  while (s->buf_pool) { pf_buf *b = s->buf_pool; s->buf_pool = b->next; free(b); }
  while (s->notify_head) { pf_notify *n = s->notify_head; s->notify_head = n->next; free(n); }
  free(s->readers);
  free(s->slots);
  free(s->free_stack);
  free(s->ready);
  free(s->forgets);
  free(s->mountpoint);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->slot_cv);
  pthread_cond_destroy(&s->buf_cv);
  pthread_cond_destroy(&s->notify_cv);
  free(s);
}

static void release_memory (pf_session *s) {
  if (s->se != NULL) { fuse_session_destroy(s->se); s->se = NULL; }
  free_session(s);
}

static void finalize (napi_env env, void *data, void *hint) {
  (void) hint;
  pf_session *s = data;
  /* Only reachable once unmounted (a mounted session holds a strong reference to its object). */
  napi_ref refs[] = { s->dispatch_fn, s->forget_fn, s->event_fn, s->in_ab, s->out_ab, s->forget_ab, s->self };
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) if (refs[i]) napi_delete_reference(env, refs[i]);
  s->finalized = 1;
  if (s->mounted) return; /* cannot happen; leak rather than free memory threads may use */
  if (s->handles_open == 0) release_memory(s); /* else the last handle's close callback does */
}

static void on_handle_closed (uv_handle_t *h) {
  pf_session *s = h->data;
  if (--s->handles_open == 0 && s->finalized) release_memory(s);
}

static void close_handles (pf_session *s) {
  if (s->handles_open == 0 || s->handles_closing) return;
  s->handles_closing = 1;
  if (s->nthreads == 0) uv_close((uv_handle_t *) &s->poll, on_handle_closed);
  uv_close((uv_handle_t *) &s->async, on_handle_closed);
  uv_close((uv_handle_t *) &s->timer, on_handle_closed);
}

/* The environment is going away (a worker thread ends): stop, unmount, close the loop handles. */
static void env_cleanup (void *arg) {
  pf_session *s = arg;
  pf_live_remove(s);
  pf_session_stop_threads(s);
  s->closing = 1;
  close_handles(s);
}

/* JS thread, after the threads are gone: release libfuse and the loop handles. */
void pf_session_finish (pf_session *s) {
  if (s->closing) return;
  pf_reply_pending_eio(s);
  s->closing = 1;
  pf_live_remove(s);
  napi_remove_env_cleanup_hook(s->env, env_cleanup, s);
  close_handles(s);
  if (s->se != NULL) { fuse_session_destroy(s->se); s->se = NULL; }
  napi_async_destroy(s->env, s->async_ctx);
  uint32_t count = 0;
  napi_reference_unref(s->env, s->self, &count);
}

typedef struct {
  pf_session *s;
  napi_async_work work;
  napi_ref cb;
  int rc;
  int unmount;
} pf_job;

static void job_execute (napi_env env, void *data) {
  (void) env;
  pf_job *j = data;
  pf_session *s = j->s;
  if (j->unmount) {
    pf_session_stop_threads(s);
    return;
  }
  char scratch[8];
  pf_log_capture(scratch, sizeof scratch); /* drop older messages */
  j->rc = fuse_session_mount(s->se, s->mountpoint);
  if (j->rc != 0) pf_log_capture(s->mount_error, sizeof s->mount_error);
}

static void job_complete (napi_env env, napi_status status, void *data) {
  pf_job *j = data;
  pf_session *s = j->s;
  napi_value err;
  napi_get_null(env, &err);
  if (j->unmount) {
    pf_session_finish(s);
  } else if (j->rc != 0 || status != napi_ok) {
    napi_create_string_utf8(env, s->mount_error[0] ? s->mount_error : "fuse_session_mount failed", NAPI_AUTO_LENGTH, &err);
  } else {
    s->fd = fuse_session_fd(s->se);
    fcntl(s->fd, F_SETFD, FD_CLOEXEC); /* children must not keep the connection alive */
    s->mounted = 1;
    uint32_t count = 0;
    napi_reference_ref(env, s->self, &count);
    uv_async_init(s->loop, &s->async, pf_on_async);
    s->async.data = s;
    uv_timer_init(s->loop, &s->timer);
    s->timer.data = s;
    if (s->timeout_ms > 0) uv_timer_start(&s->timer, pf_on_timer, 1000, 1000);
    uv_unref((uv_handle_t *) &s->timer);
    s->handles_open = 2;
    if (s->nthreads == 0) {
      fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) | O_NONBLOCK); /* only this thread reads it */
      uv_poll_init(s->loop, &s->poll, s->fd);
      s->poll.data = s;
      s->handles_open = 3;
      pf_poll_start(s);
    }
    pf_live_add(s);
    napi_add_env_cleanup_hook(env, env_cleanup, s);
    int terr = pf_session_start_threads(s);
    if (terr != 0) {
      napi_create_string_utf8(env, "palm-fuse: could not start the fuse threads", NAPI_AUTO_LENGTH, &err);
      pf_session_stop_threads(s);
      pf_session_finish(s);
    }
  }
  napi_value cb, undef;
  napi_get_reference_value(env, j->cb, &cb);
  napi_get_undefined(env, &undef);
  napi_delete_reference(env, j->cb);
  napi_delete_async_work(env, j->work);
  free(j);
  napi_call_function(env, undef, cb, 1, &err, NULL);
}

static napi_value start_job (napi_env env, napi_callback_info info, int unmount) {
  size_t argc = 1;
  napi_value argv[1], name;
  pf_session *s;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **) &s);
  pf_job *j = calloc(1, sizeof *j);
  if (j == NULL) { napi_throw_error(env, NULL, "palm-fuse: out of memory"); return NULL; }
  j->s = s;
  j->unmount = unmount;
  if (unmount) {
    if (s->nthreads == 0) pf_poll_stop(s);
    pf_reply_pending_eio(s); /* waiting requests get EIO before the connection closes */
  }
  napi_create_reference(env, argv[0], 1, &j->cb);
  napi_create_string_utf8(env, unmount ? "palm-fuse-unmount" : "palm-fuse-mount", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, job_execute, job_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return NULL;
}

/* mount(cb(err: string|null)): mounts in the thread pool, then starts the fuse threads. */
static napi_value js_mount (napi_env env, napi_callback_info info) { return start_job(env, info, 0); }
/* unmount(cb(null)): EIO to waiting requests, stop threads, close + lazy unmount, release. */
static napi_value js_unmount (napi_env env, napi_callback_info info) { return start_job(env, info, 1); }

static double num_prop (napi_env env, napi_value obj, const char *key, double dflt) {
  napi_value v;
  double d;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return dflt;
  if (napi_get_value_double(env, v, &d) != napi_ok) return dflt;
  return d;
}

static napi_value shared_array (napi_env env, size_t bytes, void **data, napi_ref *ref) {
  napi_value ab;
  napi_create_arraybuffer(env, bytes, data, &ab);
  memset(*data, 0, bytes);
  napi_create_reference(env, ab, 1, ref);
  return ab;
}

static int init_session (pf_session *s) {
  s->slots = calloc(s->nslots, sizeof *s->slots);
  s->free_stack = calloc((size_t) s->nslots * 3, sizeof *s->free_stack);
  s->ready = calloc(s->nslots, sizeof *s->ready);
  if (s->slots == NULL || s->free_stack == NULL || s->ready == NULL) return -1;
  for (uint32_t i = 0; i < s->nslots; i++) s->free_stack[i] = s->nslots - 1 - i;
  s->free_count = s->nslots;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->slot_cv, NULL);
  pthread_cond_init(&s->buf_cv, NULL);
  pthread_cond_init(&s->notify_cv, NULL);
  s->fd = -1;
  return 0;
}

/* createSession(mountpoint, args[], config, dispatch, forget, event) → session object. */
static napi_value js_create_session (napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  PF_CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  pf_session *s = calloc(1, sizeof *s);
  if (s == NULL) { napi_throw_error(env, NULL, "palm-fuse: out of memory"); return NULL; }
  size_t mlen = 0;
  napi_get_value_string_utf8(env, argv[0], NULL, 0, &mlen);
  s->mountpoint = malloc(mlen + 1);
  napi_get_value_string_utf8(env, argv[0], s->mountpoint, mlen + 1, &mlen);

  napi_value cfg = argv[2];
  s->max_write = (unsigned) num_prop(env, cfg, "maxWrite", 1 << 20);
  s->nthreads = (unsigned) num_prop(env, cfg, "threads", 1);
  s->nslots = (unsigned) num_prop(env, cfg, "slots", 1024);
  s->max_bufs = (unsigned) num_prop(env, cfg, "maxBuffers", 16) + s->nthreads;
  s->readdirplus = (int) num_prop(env, cfg, "readdirplus", 2);
  s->writeback = (int) num_prop(env, cfg, "writeback", 0);
  s->caps = (int) num_prop(env, cfg, "securityCapability", 0);
  s->debug = (int) num_prop(env, cfg, "debug", 0);
  s->blksize = (uint32_t) num_prop(env, cfg, "blksize", 4096);
  s->timeout_ms = (uint64_t) num_prop(env, cfg, "timeoutMs", 0);
  if (s->nthreads > 64) s->nthreads = 64;
  if (s->nslots < 16) s->nslots = 16;
  if (init_session(s) != 0) { free_session(s); napi_throw_error(env, NULL, "palm-fuse: out of memory"); return NULL; }
  log_debug = log_debug || s->debug;

  uint32_t nargs = 0;
  napi_get_array_length(env, argv[1], &nargs);
  char **mine = calloc(nargs + 1, sizeof *mine);
  for (uint32_t i = 0; i < nargs; i++) {
    napi_value v;
    size_t len = 0;
    napi_get_element(env, argv[1], i, &v);
    napi_get_value_string_utf8(env, v, NULL, 0, &len);
    mine[i] = malloc(len + 1);
    napi_get_value_string_utf8(env, v, mine[i], len + 1, &len);
  }
  struct fuse_args fa = FUSE_ARGS_INIT((int) nargs, mine);
  char scratch[8];
  pf_log_capture(scratch, sizeof scratch);
  /* Optional ops the file system left out are not registered: libfuse answers ENOSYS and the
     kernel stops asking (no round trip per close for a file system without flush). */
  struct fuse_lowlevel_ops ops = s->readdirplus ? pf_ops_plus : pf_ops;
  uint32_t impl = (uint32_t) num_prop(env, cfg, "implemented", 0xffffffff);
#define PF_OPTIONAL(code, field) if (!(impl & (1u << (code)))) ops.field = NULL;
  PF_OPTIONAL(PF_OP_FLUSH, flush) PF_OPTIONAL(PF_OP_FSYNC, fsync) PF_OPTIONAL(PF_OP_FSYNCDIR, fsyncdir)
  PF_OPTIONAL(PF_OP_SETXATTR, setxattr) PF_OPTIONAL(PF_OP_GETXATTR, getxattr)
  PF_OPTIONAL(PF_OP_LISTXATTR, listxattr) PF_OPTIONAL(PF_OP_REMOVEXATTR, removexattr)
  PF_OPTIONAL(PF_OP_ACCESS, access) PF_OPTIONAL(PF_OP_FALLOCATE, fallocate)
#undef PF_OPTIONAL
  s->se = fuse_session_new(&fa, &ops, sizeof ops, s);
  fuse_opt_free_args(&fa);
  for (uint32_t i = 0; i < nargs; i++) free(mine[i]);
  free(mine);
  if (s->se == NULL) {
    char msg[700], log[600];
    pf_log_capture(log, sizeof log);
    snprintf(msg, sizeof msg, "fuse_session_new rejected the options: %s", log[0] ? log : "(no message)");
    free_session(s);
    napi_throw_error(env, "EINVAL", msg);
    return NULL;
  }

  s->env = env;
  napi_get_uv_event_loop(env, &s->loop);
  napi_create_reference(env, argv[3], 1, &s->dispatch_fn);
  napi_create_reference(env, argv[4], 1, &s->forget_fn);
  napi_create_reference(env, argv[5], 1, &s->event_fn);

  napi_value obj, name, v;
  napi_create_object(env, &obj);
  napi_set_named_property(env, obj, "inBuffer", shared_array(env, PF_IN_LEN * 8, (void **) &s->in, &s->in_ab));
  napi_set_named_property(env, obj, "outBuffer", shared_array(env, PF_OUT_LEN * 8, (void **) &s->out, &s->out_ab));
  napi_set_named_property(env, obj, "forgetBuffer", shared_array(env, PF_FORGET_BATCH * 16, (void **) &s->forget_out, &s->forget_ab));
  napi_property_descriptor d[] = {
    { "mount", NULL, js_mount, NULL, NULL, NULL, napi_default, s },
    { "unmount", NULL, js_unmount, NULL, NULL, NULL, napi_default, s },
  };
  napi_define_properties(env, obj, 2, d);
  pf_define_replies(env, obj, s);
  napi_create_uint32(env, s->nslots, &v);
  napi_set_named_property(env, obj, "slots", v);
  napi_wrap(env, obj, s, finalize, NULL, NULL);
  napi_create_reference(env, obj, 0, &s->self);
  napi_create_string_utf8(env, "palm-fuse", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, obj, name, &s->async_ctx);
  return obj;
}

static napi_value js_op_codes (napi_env env, napi_callback_info info) {
  (void) info;
  static const char *names[] = { "", "lookup", "getattr", "setattr", "readlink", "mknod", "mkdir",
    "unlink", "rmdir", "symlink", "rename", "link", "open", "read", "write", "flush", "release",
    "fsync", "opendir", "readdir", "releasedir", "fsyncdir", "statfs", "setxattr", "getxattr",
    "listxattr", "removexattr", "access", "create", "fallocate" };
  napi_value o, v;
  napi_create_object(env, &o);
  for (int i = 1; i < PF_OP_COUNT; i++) {
    napi_create_int32(env, i, &v);
    napi_set_named_property(env, o, names[i], v);
  }
  napi_create_int32(env, PF_IN_LEN, &v); napi_set_named_property(env, o, "IN_LEN", v);
  napi_create_int32(env, PF_OUT_LEN, &v); napi_set_named_property(env, o, "OUT_LEN", v);
  napi_create_int32(env, PF_DIRENT_STRIDE, &v); napi_set_named_property(env, o, "DIRENT_STRIDE", v);
  return o;
}

static napi_value js_version (napi_env env, napi_callback_info info) {
  (void) info;
  napi_value v;
  napi_create_string_utf8(env, fuse_pkgversion(), NAPI_AUTO_LENGTH, &v);
  return v;
}

/*
 * tuneMalloc(mmapThreshold, trimThreshold): glibc's malloc settings for the whole process (every
 * thread's arena). The daemon serves a FUSE mount with this addon loaded, so the one native
 * helper it needs lives here rather than in an addon of its own. Returns false where it cannot
 * apply them (not glibc, or mallopt refused a value). See src/daemon/malloc.ts for why.
 */
static napi_value js_tune_malloc (napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], v;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int ok = 0;
#ifdef __GLIBC__
  int64_t mmap_threshold = 0, trim_threshold = 0;
  if (argc == 2 && napi_get_value_int64(env, argv[0], &mmap_threshold) == napi_ok &&
      napi_get_value_int64(env, argv[1], &trim_threshold) == napi_ok &&
      mmap_threshold > 0 && mmap_threshold <= INT32_MAX && trim_threshold > 0 && trim_threshold <= INT32_MAX) {
    ok = mallopt(M_MMAP_THRESHOLD, (int) mmap_threshold) == 1 && mallopt(M_TRIM_THRESHOLD, (int) trim_threshold) == 1;
  }
#endif
  napi_get_boolean(env, ok, &v);
  return v;
}

static napi_value init (napi_env env, napi_value exports) {
  static int once = 0;
  if (!once) {
    once = 1;
    fuse_set_log_func(log_func);
    atexit(pf_atexit);
  }
  napi_property_descriptor d[] = {
    { "createSession", NULL, js_create_session, NULL, NULL, NULL, napi_default, NULL },
    { "opCodes", NULL, js_op_codes, NULL, NULL, NULL, napi_default, NULL },
    { "libfuseVersion", NULL, js_version, NULL, NULL, NULL, napi_default, NULL },
    { "tuneMalloc", NULL, js_tune_malloc, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
