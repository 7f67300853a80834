/*
 * The fuse-thread side: libfuse low-level op callbacks. Each one copies what JavaScript needs out of
 * the kernel's request into a slot, queues the slot for the JS thread and returns at once; the JS
 * thread replies later (reply.c). Forgets need no reply and are queued as plain numbers.
 * Part of PALM's FUSE binding; forked from @cocalc/fuse-native (MIT), see palm_fuse.h.
 */
#include "palm_fuse.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

__thread pf_reader *pf_tl_reader = NULL;

static pf_session *sess (fuse_req_t req) {
  return (pf_session *) fuse_req_userdata(req);
}

/* Wakes the JS thread, unless this is the JS thread reading /dev/fuse itself (it drains next). */
static void wake (pf_session *s) {
  if (pf_tl_reader != &s->loop_reader) uv_async_send(&s->async);
}

/* Waits (like fuse-native's semaphore) while every slot is in use; answers EIO once stopping. */
static pf_slot *acquire (pf_session *s, fuse_req_t req, uint32_t op, uint32_t *idx) {
  pthread_mutex_lock(&s->lock);
  while (s->free_count == 0 && !s->stopping) {
    s->n_slot_waits++;
    pthread_cond_wait(&s->slot_cv, &s->lock);
  }
  if (s->stopping) {
    pthread_mutex_unlock(&s->lock);
    fuse_reply_err(req, EIO);
    return NULL;
  }
  *idx = s->free_stack[--s->free_count];
  pthread_mutex_unlock(&s->lock);

  pf_slot *sl = &s->slots[*idx];
  sl->req = req;
  sl->op = op;
  sl->replied = 0;
  sl->s1 = sl->s2 = NULL;
  sl->s1len = sl->s2len = 0;
  sl->data = NULL;
  sl->datalen = 0;
  sl->size = 0;
  sl->lock_owner = 0;
  sl->owned = NULL;
  sl->heap = NULL;
  const struct fuse_ctx *c = fuse_req_ctx(req);
  sl->in[0] = c->uid;
  sl->in[1] = c->gid;
  sl->in[2] = c->pid;
  sl->in[3] = c->umask;
  return sl;
}

static void submit (pf_session *s, pf_slot *sl, uint32_t idx) {
  pthread_mutex_lock(&s->lock);
  if (s->stopping) {
    pthread_mutex_unlock(&s->lock);
    fuse_reply_err(sl->req, EIO);
    sl->replied = 1;
    pf_slot_release(s, idx);
    return;
  }
  sl->state = PF_SLOT_QUEUED;
  s->ready[(s->ready_head + s->ready_count) % s->nslots] = idx;
  s->ready_count++;
  s->n_requests++;
  pthread_mutex_unlock(&s->lock);
  wake(s);
}

/* Copies up to two strings and an optional blob into the slot (inline when small). */
static int keep (pf_slot *sl, const char *a, const char *b, const char *blob, size_t bloblen) {
  size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;
  size_t need = (a ? la + 1 : 0) + (b ? lb + 1 : 0) + bloblen;
  char *p = sl->inl;
  if (need > PF_INLINE_BYTES) {
    sl->heap = malloc(need);
    if (sl->heap == NULL) return -1;
    p = sl->heap;
  }
  if (a) { memcpy(p, a, la + 1); sl->s1 = p; sl->s1len = la; p += la + 1; }
  if (b) { memcpy(p, b, lb + 1); sl->s2 = p; sl->s2len = lb; p += lb + 1; }
  if (blob) { memcpy(p, blob, bloblen); sl->data = p; sl->datalen = bloblen; }
  return 0;
}

#define BEGIN(OP) \
  pf_session *s = sess(req); uint32_t idx; \
  pf_slot *sl = acquire(s, req, OP, &idx); \
  if (sl == NULL) return; \
  double *in = sl->in; (void) in;
#define KEEP(a, b, blob, len) \
  if (keep(sl, a, b, blob, len) != 0) { fuse_reply_err(req, ENOMEM); sl->replied = 1; pf_slot_release(s, idx); return; }
#define END submit(s, sl, idx);
#define FH(fi) ((fi) ? (double) (fi)->fh : 0)

static void op_init (void *userdata, struct fuse_conn_info *conn) {
  pf_session *s = userdata;
  if (s->max_write < conn->max_write) conn->max_write = s->max_write;
  /* PALM's VFS truncates through setattr and clears set-id bits through setattr: keep the
     kernel doing both (one code path each in the VFS). */
  conn->want &= ~(unsigned) (FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_HANDLE_KILLPRIV);
  if (s->writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) conn->want |= FUSE_CAP_WRITEBACK_CACHE;
  /* No auto_inval_data: every file change passes through this kernel (PALM checks at open whether
     content changed behind it, and answers keep_cache accordingly). With it, each read(2) after a
     write re-fetched attributes and dropped the whole page cache of a file whose mtime moved, and
     that drop races with buffered writes: a page filled by a write(2) whose WRITE is not yet
     answered could be read back from the old end of file and cached zero-filled (issue 12). */
  conn->want &= ~(unsigned) FUSE_CAP_AUTO_INVAL_DATA;
  if (s->readdirplus == 1) conn->want &= ~(unsigned) FUSE_CAP_READDIRPLUS_AUTO;
  conn->time_gran = 1;
  if (conn->max_background < 64) conn->max_background = 64;
  pthread_mutex_lock(&s->lock);
  s->conn_max_write = conn->max_write;
  s->conn_max_readahead = conn->max_readahead;
  s->conn_want = conn->want;
  s->init_seen = 1;
  pthread_mutex_unlock(&s->lock);
  wake(s);
}

static void op_destroy (void *userdata) {
  (void) userdata; /* the JS side calls ops.destroy when the session ends */
}

static void push_forget (pf_session *s, uint64_t ino, uint64_t n) {
  if (s->forget_count == s->forget_cap) {
    size_t cap = s->forget_cap ? s->forget_cap * 2 : 256;
    pf_forget *f = realloc(s->forgets, cap * sizeof *f);
    if (f == NULL) return; /* out of memory: the VFS keeps the inode a little longer */
    s->forgets = f;
    s->forget_cap = cap;
  }
  s->forgets[s->forget_count].ino = ino;
  s->forgets[s->forget_count].nlookup = n;
  s->forget_count++;
}

static void op_forget (fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  pf_session *s = sess(req);
  pthread_mutex_lock(&s->lock);
  push_forget(s, ino, nlookup);
  pthread_mutex_unlock(&s->lock);
  fuse_reply_none(req);
  wake(s);
}

static void op_forget_multi (fuse_req_t req, size_t count, struct fuse_forget_data *f) {
  pf_session *s = sess(req);
  pthread_mutex_lock(&s->lock);
  for (size_t i = 0; i < count; i++) push_forget(s, f[i].ino, f[i].nlookup);
  pthread_mutex_unlock(&s->lock);
  fuse_reply_none(req);
  wake(s);
}

static void op_lookup (fuse_req_t req, fuse_ino_t parent, const char *name) {
  BEGIN(PF_OP_LOOKUP) in[4] = parent; KEEP(name, NULL, NULL, 0) END
}

static void op_getattr (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  BEGIN(PF_OP_GETATTR) in[4] = ino; in[5] = FH(fi); in[6] = fi != NULL; END
}

static void op_setattr (fuse_req_t req, fuse_ino_t ino, struct stat *a, int to_set, struct fuse_file_info *fi) {
  if ((to_set & FUSE_SET_ATTR_SIZE) && (double) a->st_size > PF_MAX_SAFE) { fuse_reply_err(req, EFBIG); return; }
  BEGIN(PF_OP_SETATTR)
  in[4] = ino; in[5] = FH(fi); in[6] = fi != NULL; in[7] = to_set;
  in[8] = a->st_mode; in[9] = a->st_uid; in[10] = a->st_gid; in[11] = (double) a->st_size;
  in[12] = (double) a->st_atim.tv_sec; in[13] = a->st_atim.tv_nsec;
  in[14] = (double) a->st_mtim.tv_sec; in[15] = a->st_mtim.tv_nsec;
  in[16] = (double) a->st_ctim.tv_sec; in[17] = a->st_ctim.tv_nsec;
  END
}

static void op_readlink (fuse_req_t req, fuse_ino_t ino) {
  BEGIN(PF_OP_READLINK) in[4] = ino; END
}

static void op_mknod (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev) {
  BEGIN(PF_OP_MKNOD) in[4] = parent; in[5] = mode; in[6] = rdev; KEEP(name, NULL, NULL, 0) END
}

static void op_mkdir (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode) {
  BEGIN(PF_OP_MKDIR) in[4] = parent; in[5] = mode; KEEP(name, NULL, NULL, 0) END
}

static void op_unlink (fuse_req_t req, fuse_ino_t parent, const char *name) {
  BEGIN(PF_OP_UNLINK) in[4] = parent; KEEP(name, NULL, NULL, 0) END
}

static void op_rmdir (fuse_req_t req, fuse_ino_t parent, const char *name) {
  BEGIN(PF_OP_RMDIR) in[4] = parent; KEEP(name, NULL, NULL, 0) END
}

static void op_symlink (fuse_req_t req, const char *target, fuse_ino_t parent, const char *name) {
  BEGIN(PF_OP_SYMLINK) in[4] = parent; KEEP(target, name, NULL, 0) END
}

static void op_rename (fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
                       const char *newname, unsigned int flags) {
  BEGIN(PF_OP_RENAME) in[4] = parent; in[5] = newparent; in[6] = flags; KEEP(name, newname, NULL, 0) END
}

static void op_link (fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname) {
  BEGIN(PF_OP_LINK) in[4] = ino; in[5] = newparent; KEEP(newname, NULL, NULL, 0) END
}

static void op_open (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  BEGIN(PF_OP_OPEN) in[4] = ino; in[5] = fi->flags; END
}

static void op_read (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  /* No PALM file reaches 2^53 bytes: an offset past it is end of file. */
  if ((double) off > PF_MAX_SAFE) { fuse_reply_buf(req, NULL, 0); return; }
  BEGIN(PF_OP_READ) in[4] = ino; in[5] = FH(fi); in[6] = (double) off; in[7] = size; sl->size = size; END
}

static void op_write (fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                      struct fuse_file_info *fi) {
  if ((double) off + (double) size > PF_MAX_SAFE) { fuse_reply_err(req, EFBIG); return; }
  BEGIN(PF_OP_WRITE)
  in[4] = ino; in[5] = FH(fi); in[6] = (double) off; in[7] = size; in[8] = fi->flags;
  pf_reader *r = pf_tl_reader;
  if (size > PF_COPY_WRITE_MAX && r != NULL && r->buf != NULL &&
      buf >= r->buf->data && buf + size <= r->buf->data + r->buf->cap) {
    /* Large write: the slot keeps the receive buffer (no copy); the reader takes a fresh one. */
    sl->owned = r->buf;
    r->taken = 1;
    sl->data = buf;
    sl->datalen = size;
  } else {
    KEEP(NULL, NULL, buf, size)
  }
  END
}

static void op_flush (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  BEGIN(PF_OP_FLUSH) in[4] = ino; in[5] = FH(fi); sl->lock_owner = fi->lock_owner; END
}

static void op_release (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  BEGIN(PF_OP_RELEASE) in[4] = ino; in[5] = FH(fi); in[6] = fi->flags; END
}

static void op_fsync (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  BEGIN(PF_OP_FSYNC) in[4] = ino; in[5] = FH(fi); in[6] = datasync; END
}

static void op_opendir (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  BEGIN(PF_OP_OPENDIR) in[4] = ino; in[5] = fi->flags; END
}

static void readdir_common (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                            struct fuse_file_info *fi, int plus) {
  if ((double) off > PF_MAX_SAFE || off < 0) { fuse_reply_buf(req, NULL, 0); return; }
  BEGIN(PF_OP_READDIR) in[4] = ino; in[5] = FH(fi); in[6] = (double) off; in[7] = size; in[8] = plus;
  sl->size = size;
  END
}

static void op_readdir (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  readdir_common(req, ino, size, off, fi, 0);
}

static void op_readdirplus (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
  readdir_common(req, ino, size, off, fi, 1);
}

static void op_releasedir (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
  BEGIN(PF_OP_RELEASEDIR) in[4] = ino; in[5] = FH(fi); END
}

static void op_fsyncdir (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi) {
  BEGIN(PF_OP_FSYNCDIR) in[4] = ino; in[5] = FH(fi); in[6] = datasync; END
}

static void op_statfs (fuse_req_t req, fuse_ino_t ino) {
  BEGIN(PF_OP_STATFS) in[4] = ino; END
}

/* The kernel asks for this before every write(2) (to drop file capabilities). Unless the file
   system stores capabilities, the answer is known here: no JS round trip. */
static const char CAPS[] = "security.capability";

static void op_setxattr (fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
                         size_t size, int flags) {
  if (!sess(req)->caps && strcmp(name, CAPS) == 0) { fuse_reply_err(req, EOPNOTSUPP); return; }
  BEGIN(PF_OP_SETXATTR) in[4] = ino; in[5] = flags; KEEP(name, NULL, value, size) END
}

static void op_getxattr (fuse_req_t req, fuse_ino_t ino, const char *name, size_t size) {
  if (!sess(req)->caps && strcmp(name, CAPS) == 0) { fuse_reply_err(req, ENODATA); return; }
  BEGIN(PF_OP_GETXATTR) in[4] = ino; in[5] = size; sl->size = size; KEEP(name, NULL, NULL, 0) END
}

static void op_listxattr (fuse_req_t req, fuse_ino_t ino, size_t size) {
  BEGIN(PF_OP_LISTXATTR) in[4] = ino; in[5] = size; sl->size = size; END
}

static void op_removexattr (fuse_req_t req, fuse_ino_t ino, const char *name) {
  BEGIN(PF_OP_REMOVEXATTR) in[4] = ino; KEEP(name, NULL, NULL, 0) END
}

static void op_access (fuse_req_t req, fuse_ino_t ino, int mask) {
  BEGIN(PF_OP_ACCESS) in[4] = ino; in[5] = mask; END
}

static void op_create (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
                       struct fuse_file_info *fi) {
  BEGIN(PF_OP_CREATE) in[4] = parent; in[5] = mode; in[6] = fi->flags; KEEP(name, NULL, NULL, 0) END
}

static void op_fallocate (fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                          struct fuse_file_info *fi) {
  if ((double) offset + (double) length > PF_MAX_SAFE) { fuse_reply_err(req, EFBIG); return; }
  BEGIN(PF_OP_FALLOCATE)
  in[4] = ino; in[5] = FH(fi); in[6] = mode; in[7] = (double) offset; in[8] = (double) length;
  END
}

#define PF_COMMON_OPS \
  .init = op_init, .destroy = op_destroy, .lookup = op_lookup, .forget = op_forget, \
  .forget_multi = op_forget_multi, .getattr = op_getattr, .setattr = op_setattr, \
  .readlink = op_readlink, .mknod = op_mknod, .mkdir = op_mkdir, .unlink = op_unlink, \
  .rmdir = op_rmdir, .symlink = op_symlink, .rename = op_rename, .link = op_link, \
  .open = op_open, .read = op_read, .write = op_write, .flush = op_flush, \
  .release = op_release, .fsync = op_fsync, .opendir = op_opendir, .readdir = op_readdir, \
  .releasedir = op_releasedir, .fsyncdir = op_fsyncdir, .statfs = op_statfs, \
  .setxattr = op_setxattr, .getxattr = op_getxattr, .listxattr = op_listxattr, \
  .removexattr = op_removexattr, .access = op_access, .create = op_create, \
  .fallocate = op_fallocate

/* Without locking ops the kernel keeps flock/fcntl locks itself (correct for one mount). */
const struct fuse_lowlevel_ops pf_ops = { PF_COMMON_OPS };
const struct fuse_lowlevel_ops pf_ops_plus = { PF_COMMON_OPS, .readdirplus = op_readdirplus };

/* JS thread: the request is finished (replied, or answered by a timeout/unmount and now settled). */
void pf_slot_release (pf_session *s, uint32_t idx) {
  pf_slot *sl = &s->slots[idx];
  pf_buf *owned = sl->owned;
  free(sl->heap);
  sl->heap = NULL;
  sl->owned = NULL;
  sl->req = NULL;
  pthread_mutex_lock(&s->lock);
  sl->state = PF_SLOT_FREE;
  s->free_stack[s->free_count++] = idx;
  if (owned != NULL) {
    owned->next = s->buf_pool;
    s->buf_pool = owned;
    pthread_cond_signal(&s->buf_cv);
  }
  pthread_cond_signal(&s->slot_cv);
  pthread_mutex_unlock(&s->lock);
  if (s->nthreads == 0) pf_poll_start(s); /* resumes reading if it paused for a slot or buffer */
}

/* A receive buffer; with `wait`, waits while `max_bufs` are all held by large writes, else NULL. */
pf_buf *pf_buf_get (pf_session *s, int wait) {
  pf_buf *b = NULL;
  pthread_mutex_lock(&s->lock);
  while (wait && s->buf_pool == NULL && s->bufs_total >= s->max_bufs && !s->stopping) {
    pthread_cond_wait(&s->buf_cv, &s->lock);
  }
  if (s->buf_pool != NULL) {
    b = s->buf_pool;
    s->buf_pool = b->next;
  } else if (!s->stopping && s->bufs_total < s->max_bufs) {
    size_t cap = (size_t) s->max_write + 4096; /* FUSE_BUFFER_HEADER_SIZE */
    b = malloc(sizeof *b + cap);
    if (b != NULL) {
      b->cap = cap;
      s->bufs_total++;
    }
  }
  pthread_mutex_unlock(&s->lock);
  return b;
}

void pf_buf_put (pf_session *s, pf_buf *b) {
  pthread_mutex_lock(&s->lock);
  b->next = s->buf_pool;
  s->buf_pool = b;
  pthread_cond_signal(&s->buf_cv);
  pthread_mutex_unlock(&s->lock);
}
