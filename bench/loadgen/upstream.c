/*
 * The upstream of the proxy benchmark (bench/proxy-compare.ts): three listeners in one
 * single-threaded epoll loop, doing as little as possible per request so that the core it shares
 * with the load generator is not what limits a run.
 *
 *   - HTTP/1.1: answers every request with 200 and a body of the size in its path ("GET /16384"),
 *     1024 bytes when the path names none. Keep-alive, pipelining-safe. Requests may carry a
 *     content-length body (skipped); chunked request bodies are refused.
 *   - h2c with prior knowledge: answers every request, when its stream ends, with 200 and a body of
 *     --h2-body bytes, honouring the peer's connection flow-control window. The request's HPACK
 *     block is never decoded (every request gets the same answer).
 *   - TCP: echoes what it reads.
 *
 *   upstream [--h1-port P] [--h2-port P] [--tcp-port P] [--h2-body BYTES] [--time-limit S]
 *
 * Prints {"h1":P,"h2":P,"tcp":P} once listening. Exits when stdin closes (the parent went away)
 * or at the time limit.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { L_H1, L_H2, L_TCP, C_H1, C_H2, C_TCP, STDIN_TAG };
#define MAX_BODY (1 << 20)
#define READ_CHUNK 65536
#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_BIG_WINDOW 0x7fffffffu

struct buf {
  char *data;
  size_t off, len, cap;
};

struct conn {
  int fd;
  int kind;
  struct buf in, out;
  int want_out;
  /* HTTP/1.1: bytes of request body still to skip */
  size_t skip;
  /* h2 */
  int preface_done;
  int64_t send_window;
  int64_t peer_initial_window;
  uint32_t end_after_continuation;
  uint64_t received_data;
  uint32_t *blocked;
  size_t blocked_head, blocked_len, blocked_cap;
};

static int epfd;
static size_t h2_body = 1024;
static char *zeros;

static void die(const char *what) {
  fprintf(stderr, "upstream: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void buf_reserve(struct buf *b, size_t more) {
  if (b->off > 0 && b->off == b->len) b->off = b->len = 0;
  if (b->len + more <= b->cap) return;
  if (b->off > 0) {
    memmove(b->data, b->data + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
    if (b->len + more <= b->cap) return;
  }
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + more) cap *= 2;
  b->data = realloc(b->data, cap);
  if (!b->data) die("realloc");
  b->cap = cap;
}

static void buf_append(struct buf *b, const void *p, size_t n) {
  buf_reserve(b, n);
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

static void conn_close(struct conn *c) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->in.data);
  free(c->out.data);
  free(c->blocked);
  free(c);
}

/* Writes what is buffered; returns -1 when the connection failed (and was closed). */
static int conn_flush(struct conn *c) {
  while (c->out.off < c->out.len) {
    ssize_t n = write(c->fd, c->out.data + c->out.off, c->out.len - c->out.off);
    if (n < 0) {
      if (errno == EAGAIN) break;
      conn_close(c);
      return -1;
    }
    c->out.off += (size_t)n;
  }
  int want = c->out.off < c->out.len;
  if (want != c->want_out) {
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
  }
  return 0;
}

/* ---- HTTP/1.1 ---- */

static struct {
  size_t size;
  char *bytes;
  size_t len;
} responses[16];
static int response_count;

static const char *h1_response(size_t size, size_t *len) {
  for (int i = 0; i < response_count; i++)
    if (responses[i].size == size) {
      *len = responses[i].len;
      return responses[i].bytes;
    }
  char head[160];
  int h = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: %zu\r\n\r\n", size);
  char *bytes = malloc((size_t)h + size);
  if (!bytes) die("malloc");
  memcpy(bytes, head, (size_t)h);
  memset(bytes + h, 'x', size);
  if (response_count < 16) responses[response_count++] = (typeof(responses[0])){size, bytes, (size_t)h + size};
  *len = (size_t)h + size;
  return bytes;
}

static const char *find_crlfcrlf(const char *p, size_t n) {
  return memmem(p, n, "\r\n\r\n", 4);
}

/* The value of a header (case-insensitive name with the colon) inside a request head, or NULL. */
static const char *header_value(const char *head, size_t n, const char *name) {
  size_t nl = strlen(name);
  for (const char *p = head; p + nl < head + n;) {
    const char *eol = memchr(p, '\n', (size_t)(head + n - p));
    if (!eol) break;
    if (strncasecmp(p, name, nl) == 0) {
      const char *v = p + nl;
      while (*v == ' ' || *v == '\t') v++;
      return v;
    }
    p = eol + 1;
  }
  return NULL;
}

static int h1_input(struct conn *c) {
  struct buf *in = &c->in;
  for (;;) {
    if (c->skip > 0) {
      size_t take = in->len - in->off < c->skip ? in->len - in->off : c->skip;
      in->off += take;
      c->skip -= take;
      if (c->skip > 0) break;
    }
    const char *start = in->data + in->off;
    size_t avail = in->len - in->off;
    const char *end = find_crlfcrlf(start, avail);
    if (!end) break;
    size_t head_len = (size_t)(end - start) + 4;
    const char *path = memchr(start, '/', head_len);
    size_t size = 1024;
    if (path && path[1] >= '0' && path[1] <= '9') {
      size = strtoul(path + 1, NULL, 10);
      if (size > MAX_BODY) size = MAX_BODY;
    }
    if (header_value(start, head_len, "transfer-encoding:")) {
      fprintf(stderr, "upstream: chunked request bodies are not supported\n");
      conn_close(c);
      return -1;
    }
    const char *cl = header_value(start, head_len, "content-length:");
    in->off += head_len;
    if (cl) c->skip = strtoul(cl, NULL, 10);
    size_t len;
    const char *response = h1_response(size, &len);
    buf_append(&c->out, response, len);
  }
  return conn_flush(c);
}

/* ---- h2c ---- */

static void h2_frame(struct conn *c, uint8_t type, uint8_t flags, uint32_t stream, const void *payload, size_t len) {
  uint8_t h[9] = {(uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len, type, flags,
                  (uint8_t)(stream >> 24), (uint8_t)(stream >> 16), (uint8_t)(stream >> 8), (uint8_t)stream};
  buf_append(&c->out, h, 9);
  if (len) buf_append(&c->out, payload, len);
}

static void h2_window_update(struct conn *c, uint32_t stream, uint32_t increment) {
  uint8_t p[4] = {(uint8_t)(increment >> 24), (uint8_t)(increment >> 16), (uint8_t)(increment >> 8), (uint8_t)increment};
  h2_frame(c, 8, 0, stream, p, 4);
}

static void h2_send_body(struct conn *c, uint32_t stream) {
  h2_frame(c, 0, 0x1 /* END_STREAM */, stream, zeros, h2_body);
  c->send_window -= (int64_t)h2_body;
}

static void h2_respond(struct conn *c, uint32_t stream) {
  /* :status 200 (static index 8), content-length (static name 28, literal without indexing) */
  uint8_t block[32];
  char digits[16];
  int dl = snprintf(digits, sizeof digits, "%zu", h2_body);
  size_t n = 0;
  block[n++] = 0x88;
  block[n++] = 0x0f;
  block[n++] = 28 - 15;
  block[n++] = (uint8_t)dl;
  memcpy(block + n, digits, (size_t)dl);
  n += (size_t)dl;
  h2_frame(c, 1, 0x4 /* END_HEADERS */, stream, block, n);
  if (c->blocked_len == 0 && c->send_window >= (int64_t)h2_body) {
    h2_send_body(c, stream);
    return;
  }
  if (c->blocked_len == c->blocked_cap) {
    size_t cap = c->blocked_cap ? c->blocked_cap * 2 : 64;
    uint32_t *grown = malloc(cap * sizeof *grown);
    if (!grown) die("malloc");
    for (size_t i = 0; i < c->blocked_len; i++) grown[i] = c->blocked[(c->blocked_head + i) % c->blocked_cap];
    free(c->blocked);
    c->blocked = grown;
    c->blocked_cap = cap;
    c->blocked_head = 0;
  }
  c->blocked[(c->blocked_head + c->blocked_len++) % c->blocked_cap] = stream;
}

static void h2_unblock(struct conn *c) {
  while (c->blocked_len > 0 && c->send_window >= (int64_t)h2_body) {
    h2_send_body(c, c->blocked[c->blocked_head]);
    c->blocked_head = (c->blocked_head + 1) % c->blocked_cap;
    c->blocked_len--;
  }
}

static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int h2_input(struct conn *c) {
  struct buf *in = &c->in;
  if (!c->preface_done) {
    if (in->len - in->off < 24) return 0;
    if (memcmp(in->data + in->off, H2_PREFACE, 24) != 0) {
      fprintf(stderr, "upstream: h2 listener got no HTTP/2 preface\n");
      conn_close(c);
      return -1;
    }
    in->off += 24;
    c->preface_done = 1;
  }
  while (in->len - in->off >= 9) {
    const uint8_t *f = (const uint8_t *)in->data + in->off;
    size_t len = ((size_t)f[0] << 16) | ((size_t)f[1] << 8) | f[2];
    if (in->len - in->off < 9 + len) break;
    uint8_t type = f[3], flags = f[4];
    uint32_t stream = be32(f + 5) & 0x7fffffffu;
    const uint8_t *p = f + 9;
    switch (type) {
      case 0: /* DATA */
        c->received_data += len;
        if (c->received_data > (1u << 30)) {
          h2_window_update(c, 0, (uint32_t)c->received_data);
          c->received_data = 0;
        }
        if (flags & 0x1) h2_respond(c, stream);
        break;
      case 1: /* HEADERS */
        if (flags & 0x1) {
          if (flags & 0x4) h2_respond(c, stream);
          else c->end_after_continuation = stream;
        }
        break;
      case 9: /* CONTINUATION */
        if ((flags & 0x4) && c->end_after_continuation == stream) {
          h2_respond(c, stream);
          c->end_after_continuation = 0;
        }
        break;
      case 4: /* SETTINGS */
        if (!(flags & 0x1)) {
          for (size_t i = 0; i + 6 <= len; i += 6) {
            uint16_t id = (uint16_t)((p[i] << 8) | p[i + 1]);
            uint32_t value = be32(p + i + 2);
            if (id == 0x4) c->peer_initial_window = value;
          }
          if (c->peer_initial_window < (int64_t)h2_body) {
            fprintf(stderr, "upstream: the peer's stream window (%lld) is smaller than the h2 body\n", (long long)c->peer_initial_window);
            exit(1);
          }
          h2_frame(c, 4, 0x1, 0, NULL, 0);
        }
        break;
      case 6: /* PING */
        if (!(flags & 0x1)) h2_frame(c, 6, 0x1, 0, p, len);
        break;
      case 8: /* WINDOW_UPDATE */
        if (stream == 0) {
          c->send_window += be32(p) & 0x7fffffffu;
          h2_unblock(c);
        }
        break;
      case 7: /* GOAWAY */
        if (conn_flush(c) == 0) conn_close(c);
        return -1;
      default: /* PRIORITY, RST_STREAM, PUSH_PROMISE: nothing to do */
        break;
    }
    in->off += 9 + len;
  }
  return conn_flush(c);
}

static void h2_start(struct conn *c) {
  c->send_window = 65535;
  c->peer_initial_window = 65535;
  uint8_t settings[12] = {0, 0x3, 0, 0, 0x03, 0xe8 /* MAX_CONCURRENT_STREAMS 1000 */,
                          0, 0x4, 0x7f, 0xff, 0xff, 0xff /* INITIAL_WINDOW_SIZE */};
  h2_frame(c, 4, 0, 0, settings, sizeof settings);
  h2_window_update(c, 0, H2_BIG_WINDOW - 65535);
  conn_flush(c);
}

/* ---- loop ---- */

static int listen_on(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(fd, 4096) < 0) die("listen");
  return fd;
}

static int bound_port(int fd) {
  struct sockaddr_in a;
  socklen_t l = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &l);
  return ntohs(a.sin_port);
}

struct listener {
  int fd;
  int kind;
};

int main(int argc, char **argv) {
  int ports[3] = {0, 0, 0};
  double time_limit = 3600;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--h1-port")) ports[0] = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--h2-port")) ports[1] = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--tcp-port")) ports[2] = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--h2-body")) h2_body = strtoul(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--time-limit")) time_limit = atof(argv[i + 1]);
    else {
      fprintf(stderr, "upstream: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (h2_body > 16384) {
    fprintf(stderr, "upstream: --h2-body must fit one DATA frame (16384 bytes)\n");
    return 2;
  }
  zeros = calloc(1, h2_body + 1);
  epfd = epoll_create1(0);
  static struct listener listeners[3];
  for (int k = 0; k < 3; k++) {
    listeners[k].fd = listen_on(ports[k]);
    listeners[k].kind = k;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listeners[k]};
    epoll_ctl(epfd, EPOLL_CTL_ADD, listeners[k].fd, &ev);
  }
  static struct listener stdin_tag = {0, STDIN_TAG};
  struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &stdin_tag};
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &sev);
  printf("{\"h1\":%d,\"h2\":%d,\"tcp\":%d}\n", bound_port(listeners[0].fd), bound_port(listeners[1].fd), bound_port(listeners[2].fd));
  fflush(stdout);

  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  static char chunk[READ_CHUNK];
  struct epoll_event events[256];
  for (;;) {
    int n = epoll_wait(epfd, events, 256, 1000);
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    if ((double)(t.tv_sec - t0.tv_sec) > time_limit) {
      fprintf(stderr, "upstream: time limit reached, exiting\n");
      return 3;
    }
    for (int i = 0; i < n; i++) {
      struct listener *l = events[i].data.ptr;
      if (l->kind == STDIN_TAG) {
        ssize_t r = read(0, chunk, sizeof chunk);
        if (r <= 0) return 0;
        continue;
      }
      if (l->kind <= L_TCP) {
        for (;;) {
          int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK);
          if (fd < 0) break;
          int one = 1;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct conn *c = calloc(1, sizeof *c);
          c->fd = fd;
          c->kind = l->kind + C_H1;
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
          if (c->kind == C_H2) h2_start(c);
        }
        continue;
      }
      struct conn *c = (struct conn *)l;
      if (events[i].events & EPOLLOUT) {
        if (conn_flush(c) < 0) continue;
      }
      if (!(events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      if (c->kind == C_TCP) {
        ssize_t r = read(c->fd, chunk, sizeof chunk);
        if (r <= 0) {
          if (r < 0 && errno == EAGAIN) continue;
          conn_close(c);
          continue;
        }
        buf_append(&c->out, chunk, (size_t)r);
        conn_flush(c);
        continue;
      }
      buf_reserve(&c->in, READ_CHUNK);
      ssize_t r = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        conn_close(c);
        continue;
      }
      c->in.len += (size_t)r;
      if (c->kind == C_H1) h1_input(c);
      else h2_input(c);
    }
  }
}
