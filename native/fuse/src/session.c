/*
 * Session threads: readers of /dev/fuse, the notifier, and teardown (also at process exit).
 * Part of PALM's FUSE binding; forked from @cocalc/fuse-native (MIT), see palm_fuse.h.
 *
 * Readers do what fuse_session_loop_mt does, with one change: the receive buffer belongs to the
 * session pool, so a large write can keep it until JavaScript replies (no copy). As in libfuse,
 * a reader is cancellable only while blocked in read() (pthread_cancel ends it on unmount).
 */
#include "palm_fuse.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pf_session *live_head = NULL;

static void *reader_main (void *arg) {
  pf_reader *r = arg;
  pf_session *s = r->s;
  pf_tl_reader = r;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
  for (;;) {
    if (r->buf == NULL) {
      r->buf = pf_buf_get(s, 1);
      if (r->buf == NULL) break;
    }
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
    ssize_t n = read(s->fd, r->buf->data, r->buf->cap);
    int err = errno;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    if (n < 0) {
      /* ENOENT: the request was interrupted before we read it; EINTR/EAGAIN: retry. */
      if (err == EINTR || err == EAGAIN || err == ENOENT) continue;
      if (err != ENODEV) fuse_log(FUSE_LOG_ERR, "palm-fuse: reading /dev/fuse: %s\n", strerror(err));
      break;
    }
    if (n == 0) break;
    struct fuse_buf fb = { .size = (size_t) n, .flags = 0, .mem = r->buf->data, .fd = -1, .pos = 0 };
    r->taken = 0;
    fuse_session_process_buf(s->se, &fb);
    if (r->taken) r->buf = NULL;
    if (fuse_session_exited(s->se)) break;
  }
  pthread_mutex_lock(&s->lock);
  if (!s->stopping) s->ended = 1;
  pthread_mutex_unlock(&s->lock);
  uv_async_send(&s->async);
  return NULL;
}

static void *notifier_main (void *arg) {
  pf_session *s = arg;
  pthread_mutex_lock(&s->lock);
  for (;;) {
    while (s->notify_head == NULL && !s->stopping) pthread_cond_wait(&s->notify_cv, &s->lock);
    if (s->stopping) break;
    pf_notify *n = s->notify_head;
    s->notify_head = n->next;
    if (s->notify_head == NULL) s->notify_tail = NULL;
    s->notify_pending = 1;
    pthread_mutex_unlock(&s->lock);
    /* May wait in the kernel for a lock held by a request JS has not answered yet: that is why
       this runs here and not on the JS thread. ENOENT (not cached) is the common, harmless answer. */
    if (n->kind == 1) fuse_lowlevel_notify_inval_inode(s->se, n->ino, n->off, n->len);
    else fuse_lowlevel_notify_inval_entry(s->se, n->ino, n->name, n->namelen);
    free(n);
    pthread_mutex_lock(&s->lock);
    s->notify_pending = 0;
    pthread_cond_broadcast(&s->notify_cv);
  }
  pthread_mutex_unlock(&s->lock);
  return NULL;
}

/* ---- nthreads == 0: the JS thread reads /dev/fuse when epoll says it is readable ---- */

/* Reads what the kernel has queued (a bounded burst), then hands it all to JS in one batch.
   Pauses while no slot or receive buffer is free: the JS thread must never wait for itself. */
static void on_poll (uv_poll_t *h, int status, int events) {
  (void) events;
  pf_session *s = h->data;
  if (s->closing || s->stopping) return;
  pf_reader *r = &s->loop_reader;
  pf_tl_reader = r;
  (void) status; /* an error (POLLERR: the connection is gone) shows up as the read's ENODEV */
  for (int i = 0; i < 256; i++) {
    if (s->free_count == 0) { pf_poll_stop(s); break; }
    if (r->buf == NULL && (r->buf = pf_buf_get(s, 0)) == NULL) { pf_poll_stop(s); break; }
    ssize_t n = read(s->fd, r->buf->data, r->buf->cap);
    if (n < 0 && (errno == EINTR || errno == ENOENT)) continue;
    if (n < 0 && errno == EAGAIN) break;
    if (n <= 0) {
      if (n < 0 && errno != ENODEV) fuse_log(FUSE_LOG_ERR, "palm-fuse: reading /dev/fuse: %s\n", strerror(errno));
      pf_poll_stop(s);
      pthread_mutex_lock(&s->lock);
      s->ended = 1;
      pthread_mutex_unlock(&s->lock);
      break;
    }
    struct fuse_buf fb = { .size = (size_t) n, .flags = 0, .mem = r->buf->data, .fd = -1, .pos = 0 };
    r->taken = 0;
    fuse_session_process_buf(s->se, &fb);
    if (r->taken) r->buf = NULL;
  }
  pf_tl_reader = NULL;
  pf_drain(s);
}

void pf_poll_start (pf_session *s) {
  if (s->polling || s->stopping || s->closing || s->handles_open == 0) return;
  s->polling = 1;
  uv_poll_start(&s->poll, UV_READABLE, on_poll);
}

void pf_poll_stop (pf_session *s) {
  if (!s->polling) return;
  s->polling = 0;
  uv_poll_stop(&s->poll);
}

int pf_session_start_threads (pf_session *s) {
  s->readers = calloc(s->nthreads + 1, sizeof *s->readers);
  if (s->readers == NULL) return ENOMEM;
  for (unsigned i = 0; i < s->nthreads; i++) {
    pf_reader *r = &s->readers[i];
    r->s = s;
    int err = pthread_create(&r->thread, NULL, reader_main, r);
    if (err != 0) return err;
    r->started = 1;
  }
  int err = pthread_create(&s->notifier, NULL, notifier_main, s);
  if (err != 0) return err;
  s->notifier_started = 1;
  return 0;
}

/* Stops readers (and the notifier) and lazily unmounts. Runs off the JS thread: umount may fork
   fusermount3 and wait for it. Idempotent. */
void pf_session_stop_threads (pf_session *s) {
  pthread_mutex_lock(&s->lock);
  s->stopping = 1;
  if (s->se != NULL) fuse_session_exit(s->se); /* also keeps libfuse quiet about late replies */
  pthread_cond_broadcast(&s->slot_cv);
  pthread_cond_broadcast(&s->buf_cv);
  pthread_cond_broadcast(&s->notify_cv);
  pthread_mutex_unlock(&s->lock);
  for (unsigned i = 0; s->readers != NULL && i < s->nthreads; i++) {
    if (s->readers[i].started && !pthread_equal(s->readers[i].thread, pthread_self())) {
      pthread_cancel(s->readers[i].thread);
    }
  }
  for (unsigned i = 0; s->readers != NULL && i < s->nthreads; i++) {
    pf_reader *r = &s->readers[i];
    if (r->started) {
      pthread_join(r->thread, NULL);
      r->started = 0;
    }
    if (r->buf != NULL) { pf_buf_put(s, r->buf); r->buf = NULL; }
  }
  if (s->loop_reader.buf != NULL) { pf_buf_put(s, s->loop_reader.buf); s->loop_reader.buf = NULL; }
  /* A notification blocked in the kernel holds its own reference to the device file, so closing
     the fd below is safe; wait briefly so none starts after the close. */
  pthread_mutex_lock(&s->lock);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 2;
  while (s->notify_pending) {
    if (pthread_cond_timedwait(&s->notify_cv, &s->lock, &until) == ETIMEDOUT) break;
  }
  pthread_mutex_unlock(&s->lock);
  if (s->mounted) {
    /* Closes /dev/fuse (the kernel aborts what is still queued) and detaches the mount lazily:
       umount2(MNT_DETACH) as root, else `fusermount3 -u -z`. Skipped if already disconnected. */
    fuse_session_unmount(s->se);
    s->mounted = 0;
    s->fd = -1;
  }
  if (s->notifier_started) {
    pthread_join(s->notifier, NULL);
    s->notifier_started = 0;
  }
}

void pf_live_add (pf_session *s) {
  pthread_mutex_lock(&live_lock);
  s->next_live = live_head;
  live_head = s;
  pthread_mutex_unlock(&live_lock);
}

void pf_live_remove (pf_session *s) {
  pthread_mutex_lock(&live_lock);
  for (pf_session **p = &live_head; *p != NULL; p = &(*p)->next_live) {
    if (*p == s) { *p = s->next_live; break; }
  }
  s->next_live = NULL;
  pthread_mutex_unlock(&live_lock);
}

/* process.exit() does not run N-API cleanup hooks, but it does run atexit handlers: never leave a
   mounted session behind (the mount would answer ENOTCONN until someone unmounts it). */
void pf_atexit (void) {
  pthread_mutex_lock(&live_lock);
  pf_session *s = live_head;
  live_head = NULL;
  pthread_mutex_unlock(&live_lock);
  for (; s != NULL; s = s->next_live) pf_session_stop_threads(s);
}
