/*
 * PALM's FUSE binding: libfuse 3 low-level (inode) API bridged to Node's JS thread.
 *
 * Forked from @cocalc/fuse-native 2.4.3 (sagemathinc/fuse-native, MIT), itself a fork of
 * mafintosh/fuse-native: Copyright (c) Mathias Buus and the fuse-native contributors.
 *   Permission is hereby granted, free of charge, to any person obtaining a copy of this software
 *   and associated documentation files (the "Software"), to deal in the Software without
 *   restriction, including without limitation the rights to use, copy, modify, merge, publish,
 *   distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
 *   Software is furnished to do so, subject to the following conditions: The above copyright notice
 *   and this permission notice shall be included in all copies or substantial portions of the
 *   Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 *
 * Kept from fuse-native: libfuse runs on its own thread(s) and hands each request to the JS thread
 * through a uv_async wake-up; a counting wait (mutex + condition, fuse-native's semaphore) bounds
 * how much is handed over. Changed: the low-level API lets the JS thread reply at any later time
 * (fuse_reply_* is thread-safe), so a fuse thread never waits for JavaScript; it parks a request
 * in a slot and reads the next one. See docs/fuse-binding.md.
 */
#ifndef PALM_FUSE_H
#define PALM_FUSE_H

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <node_api.h>
#include <uv.h>
#include <pthread.h>
#include <stdint.h>

/* Op codes shared with native/fuse/constants.ts (checked by a unit test through `opCodes`). */
enum {
  PF_OP_LOOKUP = 1, PF_OP_GETATTR, PF_OP_SETATTR, PF_OP_READLINK, PF_OP_MKNOD, PF_OP_MKDIR,
  PF_OP_UNLINK, PF_OP_RMDIR, PF_OP_SYMLINK, PF_OP_RENAME, PF_OP_LINK, PF_OP_OPEN, PF_OP_READ,
  PF_OP_WRITE, PF_OP_FLUSH, PF_OP_RELEASE, PF_OP_FSYNC, PF_OP_OPENDIR, PF_OP_READDIR,
  PF_OP_RELEASEDIR, PF_OP_FSYNCDIR, PF_OP_STATFS, PF_OP_SETXATTR, PF_OP_GETXATTR,
  PF_OP_LISTXATTR, PF_OP_REMOVEXATTR, PF_OP_ACCESS, PF_OP_CREATE, PF_OP_FALLOCATE,
  PF_OP_COUNT
};

/* Numbers per request handed to JS (IN array) and per reply read from JS (OUT array). */
#define PF_IN_LEN 20
#define PF_OUT_LEN 24
/* OUT layout: attr [0..13], generation 14, entry timeout 15, attr timeout 16, fh 17, open flags 18. */
#define PF_OUT_GEN 14
#define PF_OUT_ENTRY_TMO 15
#define PF_OUT_ATTR_TMO 16
#define PF_OUT_FH 17
#define PF_OUT_OPEN_FLAGS 18
#define PF_OPEN_DIRECT_IO 1
#define PF_OPEN_KEEP_CACHE 2
#define PF_OPEN_NONSEEKABLE 4
#define PF_OPEN_CACHE_DIR 8
/* Numbers per readdir entry (JS packs them in a Float64Array): ino, mode, nextOffset, hasEntry,
   then for readdirplus attr[14], generation, entry timeout, attr timeout. */
#define PF_DIRENT_STRIDE 21

/* Largest integer a JS number holds exactly: inodes, sizes, offsets and fh stay below it. */
#define PF_MAX_SAFE 9007199254740991.0

/* Strings (names, symlink targets, xattr names/values) up to this size live in the slot. */
#define PF_INLINE_BYTES 1024
/* Writes larger than this keep the reader's receive buffer instead of being copied. */
#define PF_COPY_WRITE_MAX (32 * 1024)

typedef enum { PF_SLOT_FREE = 0, PF_SLOT_QUEUED, PF_SLOT_ACTIVE } pf_slot_state;

typedef struct pf_buf {
  struct pf_buf *next;
  size_t cap;
  char data[];
} pf_buf;

typedef struct {
  fuse_req_t req;
  uint32_t op;
  uint32_t state;
  int replied;
  uint64_t started_ms;
  double in[PF_IN_LEN];
  const char *s1;
  const char *s2;
  size_t s1len, s2len;
  const char *data;      /* write data or setxattr value */
  size_t datalen;
  size_t size;           /* read/readdir/getxattr/listxattr: the kernel's buffer size */
  uint64_t lock_owner;
  pf_buf *owned;         /* a reader buffer this slot keeps (large writes) */
  char *heap;            /* malloc'd strings/data when the inline area is too small */
  char inl[PF_INLINE_BYTES];
} pf_slot;

typedef struct {
  uint64_t ino;
  uint64_t nlookup;
} pf_forget;

typedef struct pf_notify {
  struct pf_notify *next;
  int kind;              /* 1 inval inode, 2 inval entry */
  uint64_t ino;
  int64_t off, len;
  size_t namelen;
  char name[];
} pf_notify;

struct pf_session;

typedef struct pf_reader {
  struct pf_session *s;
  pthread_t thread;
  int started;
  pf_buf *buf;           /* current receive buffer */
  int taken;             /* set by the write op when the slot kept `buf` */
} pf_reader;

typedef struct pf_session {
  /* JS side (touched on the JS thread only) */
  napi_env env;
  napi_ref self;         /* the JS object wrapping this session */
  napi_ref dispatch_fn;  /* (slot, op, s1, s2, extra) => void */
  napi_ref forget_fn;    /* (count) => void, pairs in the FORGET array */
  napi_ref event_fn;     /* (kind, a, b) => void */
  napi_ref in_ab, out_ab, forget_ab;
  double *in;            /* PF_IN_LEN doubles shared with JS */
  double *out;           /* PF_OUT_LEN doubles shared with JS */
  double *forget_out;    /* PF_FORGET_BATCH pairs shared with JS */
  napi_async_context async_ctx;
  uv_loop_t *loop;
  uv_async_t async;
  uv_timer_t timer;
  uv_poll_t poll;        /* nthreads == 0: the JS thread reads /dev/fuse itself */
  int polling;
  pf_reader loop_reader;
  int handles_open;
  int handles_closing;
  int closing;
  int finalized;

  /* libfuse */
  struct fuse_session *se;
  char *mountpoint;
  int fd;
  int mounted;
  int mount_errno;
  char mount_error[512];

  /* configuration */
  unsigned max_write;
  unsigned nthreads;     /* 0 = no fuse threads: the JS loop polls /dev/fuse (see docs) */
  unsigned nslots;
  unsigned max_bufs;
  int readdirplus;
  int writeback;
  int caps;              /* store security.capability (else answered in C) */
  int debug;
  double entry_timeout, attr_timeout;
  uint32_t blksize;
  uint64_t timeout_ms;

  /* shared between fuse threads and the JS thread, under `lock` */
  pthread_mutex_t lock;
  pthread_cond_t slot_cv;
  pthread_cond_t buf_cv;
  pf_slot *slots;
  uint32_t *free_stack;
  uint32_t free_count;
  uint32_t *ready;       /* ring of queued slot indices */
  uint32_t ready_head, ready_count;
  pf_forget *forgets;
  size_t forget_count, forget_cap;
  pf_buf *buf_pool;
  unsigned bufs_total;
  int stopping;
  int init_seen;         /* FUSE_INIT answered: 1 = pending event, 2 = delivered */
  int ended;             /* a reader saw the connection end */
  unsigned conn_max_write, conn_max_readahead, conn_want;

  pf_reader *readers;

  /* notifier thread */
  pthread_t notifier;
  int notifier_started;
  pthread_cond_t notify_cv;
  pf_notify *notify_head, *notify_tail;
  uint64_t notify_pending;

  /* counters (read by JS through `stats`) */
  uint64_t n_requests, n_batches, n_forgets, n_timeouts, n_max_batch, n_slot_waits;
  uint64_t n_replies, n_reply_failures, n_stale_replies; /* JS thread only */

  struct pf_session *next_live;
} pf_session;

#define PF_FORGET_BATCH 1024

/* session.c */
int pf_session_start_threads(pf_session *s);
void pf_poll_start(pf_session *s);
void pf_poll_stop(pf_session *s);
void pf_session_stop_threads(pf_session *s);
void pf_session_finish(pf_session *s);
void pf_live_add(pf_session *s);
void pf_live_remove(pf_session *s);

/* ops.c */
extern const struct fuse_lowlevel_ops pf_ops;
extern const struct fuse_lowlevel_ops pf_ops_plus;
extern __thread pf_reader *pf_tl_reader;
void pf_slot_release(pf_session *s, uint32_t idx);
pf_buf *pf_buf_get(pf_session *s, int wait);
void pf_buf_put(pf_session *s, pf_buf *b);

/* bridge.c */
void pf_on_async(uv_async_t *h);
void pf_drain(pf_session *s);
void pf_on_timer(uv_timer_t *h);
void pf_reply_pending_eio(pf_session *s);

/* reply.c */
napi_status pf_define_replies(napi_env env, napi_value obj, pf_session *s);

/* addon.c */
void pf_log_capture(char *dst, size_t cap);
#define PF_CHECK(env, call) do { if ((call) != napi_ok) { pf_throw_last(env, #call); return NULL; } } while (0)
void pf_throw_last(napi_env env, const char *what);

#endif
