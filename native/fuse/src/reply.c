/*
 * Replies, called by the JS glue on the JS thread: reply<Kind>(slot, ...) answers the kernel (unless
 * a timeout or unmount already did) and frees the slot. Numbers come from the shared OUT array.
 * Each returns true when the answer reached the kernel, false when it had already been answered.
 * Part of PALM's FUSE binding; forked from @cocalc/fuse-native (MIT), see palm_fuse.h.
 */
#include "palm_fuse.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static napi_value js_bool (napi_env env, int v) {
  napi_value r;
  napi_get_boolean(env, v != 0, &r);
  return r;
}

static pf_slot *slot_arg (napi_env env, pf_session *s, napi_value v, uint32_t *idx) {
  uint32_t i;
  if (napi_get_value_uint32(env, v, &i) != napi_ok || i >= s->nslots) return NULL;
  if (s->slots[i].state != PF_SLOT_ACTIVE) return NULL;
  *idx = i;
  return &s->slots[i];
}

static int bytes_arg (napi_env env, napi_value v, char **data, size_t *len) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return -1;
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &t, len, (void **) data, &ab, &off) != napi_ok) return -1;
  return t == napi_uint8_array ? 0 : -1;
}

static void detach (napi_env env, napi_value v) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return;
  napi_typedarray_type t;
  size_t len, off;
  void *data;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &t, &len, &data, &ab, &off) == napi_ok) napi_detach_arraybuffer(env, ab);
}

static void set_ts (struct timespec *t, double sec, double nsec) {
  long n = (long) nsec;
  t->tv_sec = (time_t) sec;
  t->tv_nsec = n < 0 ? 0 : n > 999999999 ? 999999999 : n;
}

static void out_stat (const pf_session *s, const double *o, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_ino = (ino_t) o[0];
  st->st_mode = (mode_t) o[1];
  st->st_nlink = (nlink_t) o[2];
  st->st_uid = (uid_t) o[3];
  st->st_gid = (gid_t) o[4];
  st->st_rdev = (dev_t) o[5];
  st->st_size = (off_t) o[6];
  st->st_blocks = (blkcnt_t) o[7];
  st->st_blksize = s->blksize;
  set_ts(&st->st_atim, o[8], o[9]);
  set_ts(&st->st_mtim, o[10], o[11]);
  set_ts(&st->st_ctim, o[12], o[13]);
}

static void out_entry (const pf_session *s, const double *o, struct fuse_entry_param *e) {
  memset(e, 0, sizeof *e);
  out_stat(s, o, &e->attr);
  e->ino = (fuse_ino_t) o[0];
  e->generation = (uint64_t) o[PF_OUT_GEN];
  e->entry_timeout = o[PF_OUT_ENTRY_TMO];
  e->attr_timeout = o[PF_OUT_ATTR_TMO];
}

static void out_open (const double *o, struct fuse_file_info *fi) {
  memset(fi, 0, sizeof *fi);
  int f = (int) o[PF_OUT_OPEN_FLAGS];
  fi->fh = (uint64_t) o[PF_OUT_FH];
  fi->direct_io = (f & PF_OPEN_DIRECT_IO) != 0;
  fi->keep_cache = (f & PF_OPEN_KEEP_CACHE) != 0;
  fi->nonseekable = (f & PF_OPEN_NONSEEKABLE) != 0;
  fi->cache_readdir = (f & PF_OPEN_CACHE_DIR) != 0;
}

/* Unpacks (slot, ...args) and the session; returns NULL from the method if the slot is not live. */
#define PROLOGUE(N) \
  size_t argc = N; napi_value argv[N]; pf_session *s; uint32_t idx; \
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **) &s); \
  for (size_t i_ = argc; i_ < N; i_++) napi_get_undefined(env, &argv[i_]); \
  pf_slot *sl = slot_arg(env, s, argv[0], &idx); \
  if (sl == NULL) { s->n_stale_replies++; return js_bool(env, 0); } \
  int sent = !sl->replied;
#define EPILOGUE sl->replied = 1; pf_slot_release(s, idx); return js_bool(env, sent);
/* Every answer JS sends goes through SEND: the kernel's verdict is counted (see `stats`). */
#define SEND(expr) do { if ((expr) < 0) s->n_reply_failures++; else s->n_replies++; } while (0)

/* replyErr(slot, errno<0, data?) — errno 0 is success for void ops. */
static napi_value reply_err (napi_env env, napi_callback_info info) {
  PROLOGUE(3)
  int32_t e = -EIO;
  napi_get_value_int32(env, argv[1], &e);
  if (e > 0 || e < -4095) e = -EIO;
  if (sent) SEND(fuse_reply_err(sl->req, -e));
  detach(env, argv[2]);
  EPILOGUE
}

static napi_value reply_entry (napi_env env, napi_callback_info info) {
  PROLOGUE(1)
  if (sent) {
    struct fuse_entry_param e;
    out_entry(s, s->out, &e);
    SEND(fuse_reply_entry(sl->req, &e));
  }
  EPILOGUE
}

static napi_value reply_create (napi_env env, napi_callback_info info) {
  PROLOGUE(1)
  if (sent) {
    struct fuse_entry_param e;
    struct fuse_file_info fi;
    out_entry(s, s->out, &e);
    out_open(s->out, &fi);
    SEND(fuse_reply_create(sl->req, &e, &fi));
  }
  EPILOGUE
}

static napi_value reply_attr (napi_env env, napi_callback_info info) {
  PROLOGUE(1)
  if (sent) {
    struct stat st;
    out_stat(s, s->out, &st);
    SEND(fuse_reply_attr(sl->req, &st, s->out[PF_OUT_ATTR_TMO]));
  }
  EPILOGUE
}

static napi_value reply_open (napi_env env, napi_callback_info info) {
  PROLOGUE(1)
  if (sent) {
    struct fuse_file_info fi;
    out_open(s->out, &fi);
    SEND(fuse_reply_open(sl->req, &fi));
  }
  EPILOGUE
}

/* replyBuf(slot, bytes): read data (at most the kernel's size), or xattr value / name list. */
static napi_value reply_buf (napi_env env, napi_callback_info info) {
  PROLOGUE(2)
  if (sent) {
    char *data = NULL;
    size_t len = 0;
    if (bytes_arg(env, argv[1], &data, &len) != 0) {
      SEND(fuse_reply_err(sl->req, EIO));
    } else if (sl->op == PF_OP_GETXATTR || sl->op == PF_OP_LISTXATTR) {
      /* size 0 is a probe for the length; a too-small buffer is ERANGE (getxattr(2)). */
      if (sl->size == 0) SEND(fuse_reply_xattr(sl->req, len));
      else if (len > sl->size) SEND(fuse_reply_err(sl->req, ERANGE));
      else SEND(fuse_reply_buf(sl->req, data, len));
    } else {
      SEND(fuse_reply_buf(sl->req, data, len < sl->size ? len : sl->size));
    }
  }
  EPILOGUE
}

static napi_value reply_readlink (napi_env env, napi_callback_info info) {
  PROLOGUE(2)
  if (sent) {
    char target[4097];
    size_t len = 0;
    if (napi_get_value_string_utf8(env, argv[1], target, sizeof target, &len) != napi_ok) {
      SEND(fuse_reply_err(sl->req, EIO));
    } else if (len >= sizeof target - 1) {
      SEND(fuse_reply_err(sl->req, ENAMETOOLONG));
    } else {
      SEND(fuse_reply_readlink(sl->req, target));
    }
  }
  EPILOGUE
}

/* replyWrite(slot, count, data): `data` (the view handed to JS) is detached. */
static napi_value reply_write (napi_env env, napi_callback_info info) {
  PROLOGUE(3)
  if (sent) {
    double n = 0;
    napi_get_value_double(env, argv[1], &n);
    if (n < 0 || n > (double) sl->datalen) SEND(fuse_reply_err(sl->req, EIO));
    else SEND(fuse_reply_write(sl->req, (size_t) n));
  }
  detach(env, argv[2]);
  EPILOGUE
}

static napi_value reply_statfs (napi_env env, napi_callback_info info) {
  PROLOGUE(1)
  if (sent) {
    const double *o = s->out;
    struct statvfs v;
    memset(&v, 0, sizeof v);
    v.f_bsize = (unsigned long) o[0];
    v.f_frsize = (unsigned long) o[1];
    v.f_blocks = (fsblkcnt_t) o[2];
    v.f_bfree = (fsblkcnt_t) o[3];
    v.f_bavail = (fsblkcnt_t) o[4];
    v.f_files = (fsfilcnt_t) o[5];
    v.f_ffree = (fsfilcnt_t) o[6];
    v.f_favail = (fsfilcnt_t) o[7];
    v.f_namemax = (unsigned long) o[8];
    SEND(fuse_reply_statfs(sl->req, &v));
  }
  EPILOGUE
}

/* Packs `count` entries (numbers in `nums`, names joined by NUL in `names`) until the kernel's
   buffer is full. `.`/`..` go out without a node id (the kernel counts no lookup for them).
   replyReaddir(slot, count, nums, names) → number of entries sent (-1 if already answered). */
static napi_value reply_readdir (napi_env env, napi_callback_info info) {
  PROLOGUE(4)
  int32_t sentCount = -1;
  if (sent) {
    uint32_t count = 0;
    double *nums = NULL;
    size_t numslen = 0, nameslen = 0;
    napi_typedarray_type t = napi_int8_array;
    napi_value ab;
    size_t off;
    napi_get_value_uint32(env, argv[1], &count);
    napi_get_typedarray_info(env, argv[2], &t, &numslen, (void **) &nums, &ab, &off);
    napi_get_value_string_utf8(env, argv[3], NULL, 0, &nameslen);
    char *names = malloc(nameslen + 1);
    char *buf = malloc(sl->size > 0 ? sl->size : 1);
    if (t != napi_float64_array || numslen < (size_t) count * PF_DIRENT_STRIDE || names == NULL || buf == NULL) {
      SEND(fuse_reply_err(sl->req, EIO));
    } else {
      napi_get_value_string_utf8(env, argv[3], names, nameslen + 1, &nameslen);
      int plus = sl->in[8] != 0;
      size_t used = 0;
      const char *name = names;
      sentCount = 0;
      for (uint32_t i = 0; i < count && name < names + nameslen + 1; i++) {
        const double *d = nums + (size_t) i * PF_DIRENT_STRIDE;
        size_t ent, rem = sl->size - used;
        int dot = name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0));
        if (plus) {
          struct fuse_entry_param e;
          if (d[3] != 0 && !dot) {
            out_entry(s, d + 4, &e); /* attr, generation and timeouts follow the OUT layout */
          } else {
            memset(&e, 0, sizeof e);
            e.attr.st_ino = (ino_t) d[0];
            e.attr.st_mode = (mode_t) d[1];
          }
          ent = fuse_add_direntry_plus(sl->req, buf + used, rem, name, &e, (off_t) d[2]);
        } else {
          struct stat st;
          memset(&st, 0, sizeof st);
          st.st_ino = (ino_t) d[0];
          st.st_mode = (mode_t) d[1];
          ent = fuse_add_direntry(sl->req, buf + used, rem, name, &st, (off_t) d[2]);
        }
        if (ent > rem) break;
        used += ent;
        sentCount++;
        name += strlen(name) + 1;
      }
      SEND(fuse_reply_buf(sl->req, buf, used));
    }
    free(names);
    free(buf);
  }
  sl->replied = 1;
  pf_slot_release(s, idx);
  napi_value r;
  napi_create_int32(env, sentCount, &r);
  return r;
}

static int queue_notify (pf_session *s, int kind, uint64_t ino, int64_t off, int64_t len, const char *name, size_t namelen) {
  pf_notify *n = malloc(sizeof *n + namelen + 1);
  if (n == NULL) return 0;
  n->next = NULL;
  n->kind = kind;
  n->ino = ino;
  n->off = off;
  n->len = len;
  n->namelen = namelen;
  if (name != NULL) memcpy(n->name, name, namelen);
  n->name[namelen] = 0;
  pthread_mutex_lock(&s->lock);
  int ok = s->notifier_started && !s->stopping;
  if (ok) {
    if (s->notify_tail) s->notify_tail->next = n; else s->notify_head = n;
    s->notify_tail = n;
    pthread_cond_signal(&s->notify_cv);
  }
  pthread_mutex_unlock(&s->lock);
  if (!ok) free(n);
  return ok;
}

/* notifyInvalInode(ino, offset, length): queued for the notifier thread, never blocks JS. */
static napi_value notify_inval_inode (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  pf_session *s;
  double ino = 0, off = 0, len = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **) &s);
  napi_get_value_double(env, argv[0], &ino);
  napi_get_value_double(env, argv[1], &off);
  napi_get_value_double(env, argv[2], &len);
  return js_bool(env, queue_notify(s, 1, (uint64_t) ino, (int64_t) off, (int64_t) len, NULL, 0));
}

/* notifyInvalEntry(parent, name) */
static napi_value notify_inval_entry (napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  pf_session *s;
  double parent = 0;
  char name[1024];
  size_t namelen = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, (void **) &s);
  napi_get_value_double(env, argv[0], &parent);
  if (napi_get_value_string_utf8(env, argv[1], name, sizeof name, &namelen) != napi_ok) return js_bool(env, 0);
  return js_bool(env, queue_notify(s, 2, (uint64_t) parent, 0, 0, name, namelen));
}

static napi_value stats (napi_env env, napi_callback_info info) {
  pf_session *s;
  size_t argc = 0;
  napi_get_cb_info(env, info, &argc, NULL, NULL, (void **) &s);
  napi_value o, v;
  napi_create_object(env, &o);
  pthread_mutex_lock(&s->lock);
  const struct { const char *k; double v; } f[] = {
    { "requests", (double) s->n_requests }, { "batches", (double) s->n_batches },
    { "maxBatch", (double) s->n_max_batch }, { "forgets", (double) s->n_forgets },
    { "timeouts", (double) s->n_timeouts }, { "slotWaits", (double) s->n_slot_waits },
    { "replies", (double) s->n_replies }, { "replyFailures", (double) s->n_reply_failures },
    { "staleReplies", (double) s->n_stale_replies },
    { "slotsInUse", (double) (s->nslots - s->free_count) }, { "buffers", (double) s->bufs_total },
    { "maxWrite", (double) s->conn_max_write }, { "maxReadahead", (double) s->conn_max_readahead },
    { "capabilities", (double) s->conn_want },
  };
  pthread_mutex_unlock(&s->lock);
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    napi_create_double(env, f[i].v, &v);
    napi_set_named_property(env, o, f[i].k, v);
  }
  return o;
}

napi_status pf_define_replies (napi_env env, napi_value obj, pf_session *s) {
  napi_property_descriptor d[] = {
    { "replyErr", NULL, reply_err, NULL, NULL, NULL, napi_default, s },
    { "replyEntry", NULL, reply_entry, NULL, NULL, NULL, napi_default, s },
    { "replyCreate", NULL, reply_create, NULL, NULL, NULL, napi_default, s },
    { "replyAttr", NULL, reply_attr, NULL, NULL, NULL, napi_default, s },
    { "replyOpen", NULL, reply_open, NULL, NULL, NULL, napi_default, s },
    { "replyBuf", NULL, reply_buf, NULL, NULL, NULL, napi_default, s },
    { "replyReadlink", NULL, reply_readlink, NULL, NULL, NULL, napi_default, s },
    { "replyWrite", NULL, reply_write, NULL, NULL, NULL, napi_default, s },
    { "replyStatfs", NULL, reply_statfs, NULL, NULL, NULL, napi_default, s },
    { "replyReaddir", NULL, reply_readdir, NULL, NULL, NULL, napi_default, s },
    { "notifyInvalInode", NULL, notify_inval_inode, NULL, NULL, NULL, napi_default, s },
    { "notifyInvalEntry", NULL, notify_inval_entry, NULL, NULL, NULL, napi_default, s },
    { "stats", NULL, stats, NULL, NULL, NULL, napi_default, s },
  };
  return napi_define_properties(env, obj, sizeof d / sizeof d[0], d);
}
