/*
 * The TLS load generator of bench/mtls-cost.ts: HTTP/1.1 `GET` over TLS (OpenSSL, with a client
 * certificate) or plaintext, one single-threaded epoll loop, in two modes:
 *
 *   --mode keepalive   N kept-alive connections, as bench/loadgen/loadgen.c does for HTTP/1.1;
 *   --mode handshake   every request on a new connection: TCP connect, a full TLS handshake (no
 *                      session resumption: the client keeps no session and asks for no ticket),
 *                      the request, the whole response, then close_notify and close. At most N
 *                      connections at a time. Latency is from the due time (open loop) or from
 *                      the connect (closed loop) to the response's last byte.
 *
 * Open loop (--rate R > 0, fixed schedule, latency from the due time: no coordinated omission)
 * and closed loop (--rate 0) behave as in loadgen.c. So do the measured window, the CPU
 * accounting of --cpu-pids, the machine's busy and steal times, and the CPU of other processes:
 * this file includes loadgen.c (its `main` renamed) and uses its option parser, request, loopback
 * connect, measured run (schedule, window, drain: `run` with this file's hooks), results,
 * percentiles, CPU sampling and JSON output rather than copies of them. Only the connections are
 * this file's own.
 *
 *   mtls-loadgen [--tls 0|1] [--mode keepalive|handshake] [--cert PEM --key PEM] [--ca PEM] [--setup-parallel N]
 *                --port P [--conns N] [--rate R] [--warmup S] [--duration S] [--path /1024]
 *                [--authority HOST] [--drain S] [--spin-us U] [--cpu-pids a,b]
 *
 * --ca: verify the server's chain against this root (otherwise the server is not verified; the
 * server's own work is the same either way). --setup-parallel: kept-alive mode opens its connections
 * this many at a time (default 4). Prints loadgen.c's JSON object on one line, then a second line
 * {"tls", "handshakes", "resumed", "failed_connections", "setup_failures", "generator_cpu_ns"}:
 * the connections made, and this process's own CPU time in the measured window.
 */
#define main loadgen_main
#include "loadgen/loadgen.c"
#undef main

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_FAILURES 1000

enum phase { PH_IDLE, PH_HANDSHAKE, PH_WRITE, PH_READ };

struct tconn {
  int fd;
  SSL *ssl;
  int alive;
  enum phase phase;
  uint32_t events;
  int busy;
  int64_t due, sent;
  size_t written;
  struct buf in;
  int state; /* 0: head, 1: body */
  size_t remaining;
  int status;
};

static int use_tls = 1, handshake_mode = 0, setup_parallel = 4;
static const char *cert_file, *key_file, *ca_file;
static SSL_CTX *ctx;
static struct tconn *tconns;
static int *free_slots;
static int free_head, free_len;
static uint64_t handshakes, resumed, failures, setup_failures;
static char tls_description[160] = "plaintext";

static void want(struct tconn *c, uint32_t events) {
  if (c->events == events) return;
  struct epoll_event ev = {.events = events, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
  c->events = events;
}

static void tconn_close(struct tconn *c, int clean) {
  if (!c->alive) return;
  if (c->ssl) {
    if (clean) SSL_shutdown(c->ssl); /* sends close_notify; does not wait for the peer's */
    SSL_free(c->ssl);
    c->ssl = NULL;
  }
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->alive = 0;
}

static void tconn_open(struct tconn *c) {
  int fd = connect_loopback();
  c->fd = fd;
  c->alive = 1;
  c->events = EPOLLIN;
  c->in.off = c->in.len = 0;
  c->state = 0;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  if (use_tls) {
    c->ssl = SSL_new(ctx);
    if (!c->ssl) fail("SSL_new failed");
    SSL_set_fd(c->ssl, fd);
    SSL_set_connect_state(c->ssl);
    c->phase = PH_HANDSHAKE;
  } else {
    c->ssl = NULL;
    c->phase = PH_WRITE;
  }
}

static void drive(struct tconn *c);

static void start(struct tconn *c, int64_t due) {
  c->busy = 1;
  c->due = due;
  c->sent = now_ns();
  c->written = 0;
  c->status = 0;
  if (!c->alive) tconn_open(c);
  else c->phase = PH_WRITE;
  drive(c);
}

static void release(struct tconn *c) {
  if (closed_loop) {
    if (!stopping) {
      outstanding++;
      start(c, now_ns());
    }
  } else {
    free_slots[(free_head + free_len++) % nconns] = (int)(c - tconns);
  }
}

/* The request failed (refused handshake, broken connection): counted, and the slot is used again. */
static void request_failed(struct tconn *c) {
  tconn_close(c, 0);
  if (++failures > MAX_FAILURES) fail("too many failed connections");
  if (c->busy) {
    c->busy = 0;
    record(c->due, c->sent, 0);
    release(c);
  }
}

static void request_done(struct tconn *c) {
  c->busy = 0;
  if (c->status != 200) status_errors += measured(c->due, now_ns());
  record(c->due, c->sent, c->status == 200);
  c->phase = PH_IDLE;
  if (handshake_mode) tconn_close(c, 1);
  release(c);
}

/* Parses what arrived: 1 when the response is complete, 0 for more, -1 for a response it cannot take. */
static int parse(struct tconn *c) {
  struct buf *in = &c->in;
  char *p = in->data + in->off;
  size_t avail = in->len - in->off;
  if (c->state == 0) {
    char *end = memmem(p, avail, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t head = (size_t)(end - p) + 4;
    c->status = (avail > 12 && !strncmp(p, "HTTP/1.", 7)) ? atoi(p + 9) : 0;
    const char *cl = find_header(p, head, "content-length:");
    if (!cl) return -1; /* the upstream and both peers send Content-Length */
    c->remaining = strtoul(cl, NULL, 10);
    in->off += head;
    avail -= head;
    c->state = 1;
  }
  size_t take = avail < c->remaining ? avail : c->remaining;
  in->off += take;
  c->remaining -= take;
  if (c->remaining > 0) return 0;
  c->state = 0;
  return in->off == in->len ? 1 : -1; /* bytes beyond the response: nothing was asked for them */
}

static void describe_tls(SSL *ssl) {
  int group = SSL_get_negotiated_group(ssl);
  const char *group_name = group > 0 ? OBJ_nid2sn(group & ~TLSEXT_nid_unknown) : "?";
  const unsigned char *alpn = NULL;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
  snprintf(tls_description, sizeof tls_description, "%s %s %s, ALPN %.*s, %d certificate(s) presented", SSL_get_version(ssl), SSL_get_cipher_name(ssl),
           group_name ? group_name : "?", (int)alpn_len, alpn ? (const char *)alpn : "", chain ? sk_X509_num(chain) : 0);
}

/* A TLS call that did not complete: wait for what it wants, or fail. */
static int tls_wait(struct tconn *c, int r) {
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ) {
    want(c, EPOLLIN);
    return 1;
  }
  if (e == SSL_ERROR_WANT_WRITE) {
    want(c, EPOLLIN | EPOLLOUT);
    return 1;
  }
  ERR_clear_error();
  request_failed(c);
  return 0;
}

static void drive(struct tconn *c) {
  for (;;) {
    if (c->phase == PH_HANDSHAKE) {
      int r = SSL_do_handshake(c->ssl);
      if (r != 1) {
        tls_wait(c, r);
        return;
      }
      handshakes++;
      if (SSL_session_reused(c->ssl)) resumed++;
      if (handshakes == 1) describe_tls(c->ssl);
      c->phase = c->busy ? PH_WRITE : PH_IDLE;
      if (!c->busy) return;
    } else if (c->phase == PH_WRITE) {
      const char *data = request + c->written;
      size_t left = request_len - c->written;
      if (c->ssl) {
        int r = SSL_write(c->ssl, data, (int)left);
        if (r <= 0) {
          tls_wait(c, r);
          return;
        }
        c->written += (size_t)r;
      } else {
        ssize_t n = write(c->fd, data, left);
        if (n < 0 && errno == EAGAIN) {
          want(c, EPOLLIN | EPOLLOUT);
          return;
        }
        if (n <= 0) {
          request_failed(c);
          return;
        }
        c->written += (size_t)n;
      }
      if (c->written == request_len) {
        c->phase = PH_READ;
        want(c, EPOLLIN);
      }
    } else { /* PH_READ, or PH_IDLE: a kept-alive connection the server writes to or closes */
      buf_reserve(&c->in, READ_CHUNK);
      char *into = c->in.data + c->in.len;
      int room = (int)(c->in.cap - c->in.len);
      ssize_t n;
      if (c->ssl) {
        int r = SSL_read(c->ssl, into, room);
        if (r <= 0) {
          int e = SSL_get_error(c->ssl, r);
          if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            want(c, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLIN | EPOLLOUT);
            return;
          }
          ERR_clear_error();
          n = -1;
        } else n = r;
      } else {
        n = read(c->fd, into, (size_t)room);
        if (n < 0 && errno == EAGAIN) return;
      }
      if (n <= 0 || c->phase == PH_IDLE) {
        /* broken, closed, or bytes nobody asked for: the connection is done */
        if (c->busy) request_failed(c);
        else tconn_close(c, 0);
        return;
      }
      c->in.len += (size_t)n;
      int done = parse(c);
      if (done < 0) {
        request_failed(c);
        return;
      }
      if (done > 0) {
        request_done(c);
        return;
      }
    }
  }
}

/* Open loop: hands due requests to free slots. */
static void dispatch_due(void) {
  while (queue_len > 0 && free_len > 0) {
    struct tconn *c = &tconns[free_slots[free_head]];
    free_head = (free_head + 1) % nconns;
    free_len--;
    start(c, queue[queue_head++]);
    queue_len--;
  }
}

static void poll_tls(int64_t timeout_ns) {
  struct epoll_event events[MAX_EVENTS];
  int n = wait_events(events, timeout_ns);
  for (int i = 0; i < n; i++) {
    struct tconn *c = events[i].data.ptr;
    if (c->alive) drive(c);
  }
}

/* ---- these connections in loadgen.c's run ---- */

static struct timespec own_a, own_b;

static void tls_start_closed(void) {
  free_len = 0;
  for (int i = 0; i < nconns; i++) {
    outstanding++;
    start(&tconns[i], now_ns());
  }
}

static uint64_t tls_measured_in_flight(void) {
  uint64_t n = 0;
  for (int i = 0; i < nconns; i++) if (tconns[i].busy) n += measured(tconns[i].due, 0);
  return n;
}

static int tls_in_flight(void) {
  int busy = 0;
  for (int i = 0; i < nconns; i++) busy += tconns[i].busy;
  return busy;
}

/* This process's own CPU time at both ends of the window. */
static void tls_sampled(int end) {
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, end ? &own_b : &own_a);
}

static const struct run_hooks tls_hooks = {
    .poll = poll_tls, .dispatch = dispatch_due, .start_closed = tls_start_closed, .measured_in_flight = tls_measured_in_flight, .in_flight = tls_in_flight, .sampled = tls_sampled};

/* Takes this file's options out of argv; the rest go to loadgen.c's parser. */
static int own_args(int argc, char **argv, char **rest) {
  int n = 0;
  rest[n++] = argv[0];
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) fail("an option without a value");
    if (!strcmp(k, "--tls")) use_tls = atoi(v);
    else if (!strcmp(k, "--mode")) handshake_mode = !strcmp(v, "handshake");
    else if (!strcmp(k, "--cert")) cert_file = v;
    else if (!strcmp(k, "--key")) key_file = v;
    else if (!strcmp(k, "--ca")) ca_file = v;
    else if (!strcmp(k, "--setup-parallel")) setup_parallel = atoi(v) > 0 ? atoi(v) : 1;
    else {
      rest[n++] = argv[i];
      rest[n++] = argv[i + 1];
    }
    i++;
  }
  rest[n] = NULL;
  return n;
}

static void make_context(void) {
  ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) fail("SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  static const unsigned char alpn[] = "\x08http/1.1";
  SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
  if (cert_file && (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1))
    fail("cannot load the client certificate or key");
  if (ca_file) {
    if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) fail("cannot load the CA");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  }
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_TIMERSLACK, 1UL);
  char **rest = calloc((size_t)argc + 1, sizeof *rest);
  parse_args(own_args(argc, argv, rest), rest);
  closed_loop = rate == 0;
  if (use_tls) make_context();
  proto = P_H1; /* whatever --proto said: this generator speaks HTTP/1.1 */
  build_request();
  epfd = epoll_create1(0);
  tconns = calloc((size_t)nconns, sizeof *tconns);
  free_slots = calloc((size_t)nconns, sizeof *free_slots);
  if (!handshake_mode) {
    /*
     * Kept-alive connections, handshakes done before the clock starts, --setup-parallel at a time
     * (a client's pool grows with its load, it does not open every connection at once). A refused
     * one is counted (setup_failures) and opened again.
     */
    int opened = 0;
    int64_t give_up = now_ns() + 20000000000LL;
    for (;;) {
      int ready = 0, pending = 0;
      for (int i = 0; i < opened; i++) {
        struct tconn *c = &tconns[i];
        if (!c->alive) {
          if (++setup_failures > 200) fail("too many connections refused while opening the kept-alive ones");
          tconn_open(c);
        }
        if (c->phase == PH_HANDSHAKE) drive(c);
        if (!c->alive || c->phase == PH_HANDSHAKE) pending++;
        else {
          c->phase = PH_IDLE;
          ready++;
        }
      }
      if (ready == nconns) break;
      while (opened < nconns && pending < setup_parallel) {
        tconn_open(&tconns[opened++]);
        pending++;
      }
      if (now_ns() > give_up) fail("kept-alive connections not all open within 20 s");
      poll_tls(1000000);
    }
    failures = 0;
  }
  for (int i = 0; i < nconns; i++) free_slots[(free_head + free_len++) % nconns] = i;

  run(&tls_hooks);
  for (int i = 0; i < nconns; i++) tconn_close(&tconns[i], 1);
  reconnects = handshake_mode ? 0 : failures;
  report();
  int64_t own_ns = (own_b.tv_sec - own_a.tv_sec) * 1000000000LL + (own_b.tv_nsec - own_a.tv_nsec);
  printf("{\"tls\":\"%s\",\"handshakes\":%llu,\"resumed\":%llu,\"failed_connections\":%llu,\"setup_failures\":%llu,\"generator_cpu_ns\":%lld}\n",
         use_tls ? tls_description : "plaintext", (unsigned long long)handshakes, (unsigned long long)resumed, (unsigned long long)failures,
         (unsigned long long)setup_failures, (long long)own_ns);
  return 0;
}
