/*
 * The JS-thread side of the bridge: one uv_async wake-up drains every queued request (a batch),
 * calls the JS dispatcher once per request inside one callback scope (so promise reactions run
 * after the batch), delivers forgets in chunks, and reports init/end events.
 * Part of PALM's FUSE binding; forked from @cocalc/fuse-native (MIT), see palm_fuse.h.
 */
#include "palm_fuse.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PF_EV_INIT = 1, PF_EV_ENDED = 2, PF_EV_TIMEOUT = 3 };

static void call (pf_session *s, napi_ref fnref, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, recv, result;
  napi_get_reference_value(env, fnref, &fn);
  napi_get_undefined(env, &recv);
  if (napi_call_function(env, recv, fn, argc, argv, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc); /* the JS glue catches everything: this is a bug, surface it */
    }
  }
}

static void event (pf_session *s, int kind, double a, double b) {
  napi_value argv[3];
  napi_create_int32(s->env, kind, &argv[0]);
  napi_create_double(s->env, a, &argv[1]);
  napi_create_double(s->env, b, &argv[2]);
  call(s, s->event_fn, 3, argv);
}

static void no_free (napi_env env, void *data, void *hint) {
  (void) env; (void) data; (void) hint;
}

/* Write data stays in C memory (the slot owns it) and is detached when the reply is sent. */
static napi_value write_view (pf_session *s, pf_slot *sl) {
  napi_env env = s->env;
  napi_value ab, view;
  napi_status st = napi_create_external_arraybuffer(env, (void *) sl->data, sl->datalen, no_free, NULL, &ab);
  if (st != napi_ok) {
    /* Builds without external buffers (V8 sandbox): fall back to one copy. */
    void *dst;
    napi_create_arraybuffer(env, sl->datalen, &dst, &ab);
    memcpy(dst, sl->data, sl->datalen);
  }
  napi_create_typedarray(env, napi_uint8_array, sl->datalen, ab, 0, &view);
  return view;
}

static void dispatch_one (pf_session *s, uint32_t idx) {
  napi_env env = s->env;
  pf_slot *sl = &s->slots[idx];
  napi_handle_scope hs;
  napi_open_handle_scope(env, &hs);
  napi_value argv[5], undef;
  napi_get_undefined(env, &undef);
  sl->state = PF_SLOT_ACTIVE;
  sl->started_ms = uv_now(s->loop);
  memcpy(s->in, sl->in, sizeof sl->in);
  napi_create_uint32(env, idx, &argv[0]);
  napi_create_uint32(env, sl->op, &argv[1]);
  argv[2] = undef;
  argv[3] = undef;
  argv[4] = undef;
  if (sl->s1 != NULL) napi_create_string_utf8(env, sl->s1, sl->s1len, &argv[2]);
  if (sl->s2 != NULL) napi_create_string_utf8(env, sl->s2, sl->s2len, &argv[3]);
  if (sl->op == PF_OP_WRITE) {
    argv[4] = write_view(s, sl);
  } else if (sl->op == PF_OP_SETXATTR) {
    void *dst;
    napi_create_buffer_copy(env, sl->datalen, sl->data, &dst, &argv[4]);
  } else if (sl->op == PF_OP_FLUSH) {
    napi_create_bigint_uint64(env, sl->lock_owner, &argv[4]);
  }
  call(s, s->dispatch_fn, 5, argv);
  napi_close_handle_scope(env, hs);
}

static void deliver_forgets (pf_session *s) {
  for (;;) {
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    size_t take = s->forget_count < PF_FORGET_BATCH ? s->forget_count : PF_FORGET_BATCH;
    for (; n < take; n++) {
      pf_forget *f = &s->forgets[s->forget_count - take + n];
      s->forget_out[2 * n] = (double) f->ino;
      s->forget_out[2 * n + 1] = (double) f->nlookup;
    }
    s->forget_count -= take;
    pthread_mutex_unlock(&s->lock);
    if (n == 0) return;
    s->n_forgets += n;
    napi_handle_scope hs;
    napi_open_handle_scope(s->env, &hs);
    napi_value argv[1];
    napi_create_uint32(s->env, (uint32_t) n, &argv[0]);
    call(s, s->forget_fn, 1, argv);
    napi_close_handle_scope(s->env, hs);
  }
}

void pf_on_async (uv_async_t *h) {
  pf_drain(h->data);
}

/* Delivers everything queued: init/end events, forgets, then all requests in one batch. */
void pf_drain (pf_session *s) {
  if (s->closing) return;
  napi_env env = s->env;
  napi_handle_scope hs;
  napi_open_handle_scope(env, &hs);
  napi_value resource;
  napi_get_reference_value(env, s->self, &resource);
  napi_callback_scope cs;
  napi_open_callback_scope(env, resource, s->async_ctx, &cs);

  pthread_mutex_lock(&s->lock);
  int init = s->init_seen == 1, ended = s->ended == 1;
  if (init) s->init_seen = 2;
  if (ended) s->ended = 2;
  pthread_mutex_unlock(&s->lock);
  if (init) event(s, PF_EV_INIT, s->conn_max_write, s->conn_want);

  deliver_forgets(s);

  /* Take the whole queue at once: one lock round per batch, not per request. */
  uint32_t *batch = s->free_stack + s->nslots; /* scratch area allocated next to free_stack */
  uint32_t n = 0;
  pthread_mutex_lock(&s->lock);
  while (s->ready_count > 0) {
    batch[n++] = s->ready[s->ready_head];
    s->ready_head = (s->ready_head + 1) % s->nslots;
    s->ready_count--;
  }
  pthread_mutex_unlock(&s->lock);
  if (n > 0) {
    s->n_batches++;
    if (n > s->n_max_batch) s->n_max_batch = n;
  }
  for (uint32_t i = 0; i < n; i++) {
    if (s->stopping) {
      /* unmount() was called from JS during this batch: the rest get EIO, never reach JS */
      fuse_reply_err(s->slots[batch[i]].req, EIO);
      s->slots[batch[i]].replied = 1;
      pf_slot_release(s, batch[i]);
      continue;
    }
    dispatch_one(s, batch[i]);
  }

  if (ended) event(s, PF_EV_ENDED, 0, 0);
  napi_close_callback_scope(env, cs);
  napi_close_handle_scope(env, hs);
}

/* A request JS has not settled after `timeout_ms` is answered ETIMEDOUT; its slot (and any buffer
   JS may still read) stays until JS settles it. */
void pf_on_timer (uv_timer_t *h) {
  pf_session *s = h->data;
  if (s->closing || s->timeout_ms == 0) return;
  uint64_t now = uv_now(s->loop);
  napi_handle_scope hs;
  napi_open_handle_scope(s->env, &hs);
  for (uint32_t i = 0; i < s->nslots; i++) {
    pf_slot *sl = &s->slots[i];
    if (sl->state != PF_SLOT_ACTIVE || sl->replied || now - sl->started_ms < s->timeout_ms) continue;
    fuse_reply_err(sl->req, ETIMEDOUT);
    sl->replied = 1;
    s->n_timeouts++;
    event(s, PF_EV_TIMEOUT, sl->op, (double) (now - sl->started_ms));
  }
  napi_close_handle_scope(s->env, hs);
}

/* Unmount: every request the kernel is waiting for gets EIO now (queued ones are also freed). */
void pf_reply_pending_eio (pf_session *s) {
  pthread_mutex_lock(&s->lock);
  s->stopping = 1;
  uint32_t *batch = s->free_stack + 2 * s->nslots; /* not the async batch: unmount may run inside it */
  uint32_t n = 0;
  while (s->ready_count > 0) {
    batch[n++] = s->ready[s->ready_head];
    s->ready_head = (s->ready_head + 1) % s->nslots;
    s->ready_count--;
  }
  pthread_cond_broadcast(&s->slot_cv);
  pthread_cond_broadcast(&s->buf_cv);
  pthread_cond_broadcast(&s->notify_cv);
  pthread_mutex_unlock(&s->lock);
  for (uint32_t i = 0; i < n; i++) {
    pf_slot *sl = &s->slots[batch[i]];
    fuse_reply_err(sl->req, EIO);
    sl->replied = 1;
    pf_slot_release(s, batch[i]);
  }
  for (uint32_t i = 0; i < s->nslots; i++) {
    pf_slot *sl = &s->slots[i];
    if (sl->state == PF_SLOT_ACTIVE && !sl->replied) {
      fuse_reply_err(sl->req, EIO);
      sl->replied = 1;
    }
  }
}
