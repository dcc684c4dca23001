/*
 * The load generator of the proxy benchmark (bench/proxy-compare.ts). Single-threaded epoll loop
 * on N connections to one address, speaking HTTP/1.1 (keep-alive), h2c with prior knowledge, or
 * raw TCP (a message of --size bytes that the far end echoes back).
 *
 * Open loop (--rate R > 0): request i is due at start + i/R, on a fixed schedule. A due request
 * goes to the next idle connection (HTTP/1.1 and TCP carry one request at a time; h2 up to
 * --streams streams per connection); when none is idle it waits in a queue. Its latency is counted
 * from its due time, not from when it could be sent, so a slow server is charged for the queueing
 * it causes (no coordinated omission). The measured requests are those due in
 * [warmup, warmup + duration); the rest warm up.
 *
 * Closed loop (--rate 0): every connection sends its next request as soon as the previous one is
 * answered (h2: keeps --streams streams in flight per connection). Requests completed in the
 * measured window count; latency is from the actual send time.
 *
 * --cpu-pids a,b,... : CPU time of those processes (all their threads, /proc/<pid>/task/<tid>/
 * schedstat in ns, and /proc/<pid>/stat utime+stime in clock ticks) is read at the start and at
 * the end of the measured window, as are the machine's per-CPU busy and steal times.
 *
 * Prints one JSON object on stdout. Every phase is bounded in time.
 *
 *   loadgen --port P --proto h1|h2|tcp [--conns N] [--rate R] [--warmup S] [--duration S]
 *           [--path /1024] [--authority HOST] [--size BYTES] [--streams M] [--drain S]
 *           [--cpu-pids a,b]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum proto { P_H1, P_H2, P_TCP };
#define READ_CHUNK 65536
#define RING 1024
#define MAX_RECONNECTS 200
#define MAX_CLOSED_SAMPLES (8u << 20)
#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

struct buf {
  char *data;
  size_t off, len, cap;
};

struct slot {
  int used;
  int have_status;
  int status_ok;
  int64_t due, sent;
};

struct conn {
  int fd;
  int alive;
  struct buf in, out;
  int want_out;
  /* HTTP/1.1 and TCP: the request in flight */
  int busy;
  int64_t due, sent;
  /* HTTP/1.1 response parsing */
  int state;
  size_t remaining;
  int status;
  /* h2 */
  int ready;
  uint32_t next_stream;
  int inflight;
  uint32_t max_streams;
  uint64_t recv_consumed;
  struct slot *slots;
};

/* options */
static enum proto proto = P_H1;
static int port, nconns = 16, streams = 100;
static double rate = 1000, warmup = 1, duration = 5, drain = 2;
static const char *path = "/1024", *authority = "upstream.bench.internal";
static size_t tcp_size = 1024;
static int64_t spin_ns = 0;
static int cpu_pids[16], ncpu_pids;

static int epfd;
static struct conn *conns;
static char *request;
static size_t request_len;

/* schedule and results */
static int64_t t_start, t_measure, t_end, t_drain_end;
static int64_t period_ns;
static uint64_t total_due, next_due;
static int64_t *queue;
static uint64_t queue_head, queue_len;
static int *idle;
static int idle_head, idle_len;
static float *latency, *lag;
static uint64_t nlat, nlag, lat_cap;
static uint64_t measured_due, completed, errors, status_errors, timeouts, reconnects;
static uint64_t outstanding;
static int closed_loop, stopping;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void fail(const char *message) {
  printf("{\"error\":\"%s\"}\n", message);
  fflush(stdout);
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
  if (!b->data) fail("out of memory");
  b->cap = cap;
}

static void buf_append(struct buf *b, const void *p, size_t n) {
  buf_reserve(b, n);
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

/* ---- results ---- */

static int measured(int64_t due, int64_t done) {
  if (closed_loop) return done >= t_measure && done < t_end;
  return due >= t_measure && due < t_end;
}

static void record(int64_t due, int64_t sent, int ok) {
  int64_t t = now_ns();
  outstanding--;
  if (!measured(due, t)) return;
  if (!ok) {
    errors++;
    return;
  }
  completed++;
  if (nlat < lat_cap) latency[nlat++] = (float)((double)(t - (closed_loop ? sent : due)) / 1000.0);
  if (!closed_loop && nlag < lat_cap) lag[nlag++] = (float)((double)(sent - due) / 1000.0);
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static double pct(float *v, uint64_t n, double p) {
  if (n == 0) return NAN;
  uint64_t rank = (uint64_t)ceil(p * (double)n);
  if (rank < 1) rank = 1;
  return v[rank - 1];
}

/* ---- CPU accounting ---- */

struct cpu_sample {
  uint64_t ns, ticks;
  uint64_t busy[2], total[2], steal;
  uint64_t all_total;
  int64_t at;
};

static uint64_t read_u64_file(const char *p) {
  FILE *f = fopen(p, "r");
  if (!f) return 0;
  unsigned long long v = 0;
  if (fscanf(f, "%llu", &v) != 1) v = 0;
  fclose(f);
  return v;
}

static uint64_t task_ns(int pid) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/task", pid);
  DIR *d = opendir(p);
  if (!d) return 0;
  uint64_t ns = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char q[320];
    snprintf(q, sizeof q, "/proc/%d/task/%s/schedstat", pid, e->d_name);
    ns += read_u64_file(q);
  }
  closedir(d);
  return ns;
}

#define MAX_PROCS 8192
#define PF_KTHREAD 0x00200000u

/*
 * Other work on the machine: the CPU time of user-space processes that are not the benchmark's
 * (the parent of this generator and everything below it), from one snapshot to the next. Processes
 * that both start and end between the snapshots are missed. A snapshot reads every process's
 * files, so it is taken outside the measured window.
 */
struct foreign_snapshot {
  int n;
  int pids[MAX_PROCS];
  uint64_t ns[MAX_PROCS];
  int64_t at;
};

static void foreign_snapshot(struct foreign_snapshot *out) {
  static int pids[MAX_PROCS], ppids[MAX_PROCS];
  int n = 0;
  out->n = 0;
  out->at = now_ns();
  DIR *d = opendir("/proc");
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) && n < MAX_PROCS) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char p[300], line[1024];
    snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(p, "r");
    if (!f) continue;
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    char *r = ok ? strrchr(line, ')') : NULL;
    int ppid = 0;
    unsigned flags = 0;
    /* after ") ": state ppid pgrp session tty tpgid flags */
    if (!r || sscanf(r + 2, "%*c %d %*d %*d %*d %*d %u", &ppid, &flags) != 2) continue;
    if (flags & PF_KTHREAD) continue;
    pids[n] = atoi(e->d_name);
    ppids[n++] = ppid;
  }
  closedir(d);
  int root = getppid();
  for (int i = 0; i < n; i++) {
    int ours = 0;
    for (int pid = pids[i], depth = 0; pid > 1 && depth < 64 && !ours; depth++) {
      if (pid == root) ours = 1;
      int parent = 0;
      for (int k = 0; k < n; k++)
        if (pids[k] == pid) {
          parent = ppids[k];
          break;
        }
      pid = parent;
    }
    if (ours) continue;
    out->pids[out->n] = pids[i];
    out->ns[out->n++] = task_ns(pids[i]);
  }
}

/* % of one core used by other processes between the snapshots. */
static double foreign_share(const struct foreign_snapshot *a, const struct foreign_snapshot *b) {
  uint64_t ns = 0;
  for (int i = 0; i < b->n; i++) {
    uint64_t before = 0;
    for (int k = 0; k < a->n; k++)
      if (a->pids[k] == b->pids[i]) {
        before = a->ns[k];
        break;
      }
    if (b->ns[i] > before) ns += b->ns[i] - before;
  }
  return b->at > a->at ? 100.0 * (double)ns / (double)(b->at - a->at) : NAN;
}

static void sample_cpu(struct cpu_sample *s) {
  s->ns = s->ticks = 0;
  char p[96];
  for (int i = 0; i < ncpu_pids; i++) {
    snprintf(p, sizeof p, "/proc/%d/task", cpu_pids[i]);
    DIR *d = opendir(p);
    if (d) {
      struct dirent *e;
      while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char q[320];
        snprintf(q, sizeof q, "/proc/%d/task/%s/schedstat", cpu_pids[i], e->d_name);
        s->ns += read_u64_file(q);
      }
      closedir(d);
    }
    snprintf(p, sizeof p, "/proc/%d/stat", cpu_pids[i]);
    FILE *f = fopen(p, "r");
    if (f) {
      char line[1024];
      if (fgets(line, sizeof line, f)) {
        char *r = strrchr(line, ')');
        unsigned long long ut = 0, st = 0;
        /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
        if (r && sscanf(r + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) s->ticks += ut + st;
      }
      fclose(f);
    }
  }
  FILE *f = fopen("/proc/stat", "r");
  s->steal = s->all_total = 0;
  if (f) {
    char line[512];
    while (fgets(line, sizeof line, f)) {
      unsigned long long v[10] = {0};
      int cpu = -1;
      if (!strncmp(line, "cpu ", 4)) {
        sscanf(line + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
        s->steal = v[7];
        for (int k = 0; k < 8; k++) s->all_total += v[k];
        continue;
      }
      if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 9 && cpu >= 0 && cpu < 2) {
        uint64_t total = 0;
        for (int k = 0; k < 8; k++) total += v[k];
        s->total[cpu] = total;
        s->busy[cpu] = total - v[3] - v[4];
      }
    }
    fclose(f);
  }
  s->at = now_ns();
}

/* ---- connections ---- */

static void conn_flush(struct conn *c) {
  while (c->out.off < c->out.len) {
    ssize_t n = write(c->fd, c->out.data + c->out.off, c->out.len - c->out.off);
    if (n < 0) {
      if (errno == EAGAIN) break;
      return; /* the read side sees the failure */
    }
    c->out.off += (size_t)n;
  }
  int want = c->out.off < c->out.len;
  if (want != c->want_out) {
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
  }
}

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

static void idle_push(int i) {
  idle[(idle_head + idle_len++) % nconns] = i;
}

/* A TCP connection to 127.0.0.1:port, TCP_NODELAY, non-blocking. Loopback: a blocking connect
   returns at once while the server's accept queue has room. */
static int connect_loopback(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("socket failed");
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) fail("connect failed");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, O_NONBLOCK);
  return fd;
}

static void conn_open(struct conn *c) {
  int fd = connect_loopback();
  c->fd = fd;
  c->alive = 1;
  c->in.off = c->in.len = 0;
  c->out.off = c->out.len = 0;
  c->want_out = 0;
  c->busy = 0;
  c->state = 0;
  c->ready = proto != P_H2;
  c->next_stream = 1;
  c->inflight = 0;
  c->max_streams = RING / 2;
  c->recv_consumed = 0;
  if (proto == P_H2) {
    if (!c->slots) c->slots = calloc(RING, sizeof *c->slots);
    memset(c->slots, 0, RING * sizeof *c->slots);
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  if (proto == P_H2) {
    buf_append(&c->out, H2_PREFACE, 24);
    uint8_t settings[12] = {0, 0x2, 0, 0, 0, 0 /* ENABLE_PUSH 0 */, 0, 0x4, 0x7f, 0xff, 0xff, 0xff /* INITIAL_WINDOW_SIZE */};
    h2_frame(c, 4, 0, 0, settings, sizeof settings);
    h2_window_update(c, 0, 0x7fffffffu - 65535);
    conn_flush(c);
  }
}

static void send_request(struct conn *c, int64_t due);

/* The connection broke: what it carried failed; it reconnects. */
static void conn_fail(struct conn *c) {
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->alive = 0;
  int was_busy = c->busy;
  if (proto == P_H2) {
    for (int i = 0; i < RING; i++)
      if (c->slots[i].used) {
        c->slots[i].used = 0;
        record(c->slots[i].due, c->slots[i].sent, 0);
      }
  } else if (c->busy) {
    c->busy = 0;
    record(c->due, c->sent, 0);
  }
  if (++reconnects > MAX_RECONNECTS) fail("too many broken connections");
  conn_open(c);
  /* an idle connection the server closed is still in the idle queue */
  if (closed_loop) {
    for (int k = 0; !stopping && k < (proto == P_H2 ? streams : 1); k++) {
      outstanding++;
      send_request(c, now_ns());
    }
  } else if (proto != P_H2 && was_busy) idle_push((int)(c - conns));
}

static void send_request(struct conn *c, int64_t due) {
  int64_t t = now_ns();
  if (proto == P_H2) {
    uint32_t id = c->next_stream;
    c->next_stream += 2;
    struct slot *s = &c->slots[(id >> 1) % RING];
    s->used = 1;
    s->have_status = 0;
    s->status_ok = 0;
    s->due = due;
    s->sent = t;
    c->inflight++;
    h2_frame(c, 1, 0x5 /* END_STREAM | END_HEADERS */, id, request, request_len);
  } else {
    c->busy = 1;
    c->due = due;
    c->sent = t;
    c->remaining = request_len;
    buf_append(&c->out, request, request_len);
  }
  conn_flush(c);
}

static int h2_can_send(struct conn *c) {
  if (!c->alive || !c->ready || c->inflight >= (int)c->max_streams || c->inflight >= streams) return 0;
  if (c->next_stream > 0x7ffffff0u) return 0;
  return !c->slots[(c->next_stream >> 1) % RING].used;
}

/* Open loop: hands queued requests to connections that can take them. */
static void dispatch(void) {
  static int rr;
  while (queue_len > 0) {
    struct conn *c = NULL;
    if (proto == P_H2) {
      for (int k = 0; k < nconns && !c; k++) {
        struct conn *cand = &conns[(rr + k) % nconns];
        if (h2_can_send(cand)) {
          c = cand;
          rr = (rr + k + 1) % nconns;
        }
      }
    } else if (idle_len > 0) {
      c = &conns[idle[idle_head]];
      idle_head = (idle_head + 1) % nconns;
      idle_len--;
    }
    if (!c) return;
    send_request(c, queue[queue_head++]);
    queue_len--;
  }
}

static void completed_one(struct conn *c, int64_t due, int64_t sent, int ok) {
  record(due, sent, ok);
  if (closed_loop) {
    if (!stopping && (proto != P_H2 || h2_can_send(c))) {
      outstanding++;
      send_request(c, now_ns());
    }
  } else if (proto != P_H2) {
    idle_push((int)(c - conns));
  }
}

/* ---- HTTP/1.1 responses ---- */

static const char *find_header(const char *head, size_t n, const char *name) {
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

enum { S_HEAD, S_BODY, S_CHUNK_SIZE, S_CHUNK_DATA, S_TRAILERS };

static void h1_done(struct conn *c) {
  c->busy = 0;
  c->state = S_HEAD;
  if (c->status != 200) status_errors += measured(c->due, now_ns());
  completed_one(c, c->due, c->sent, c->status == 200);
}

static int h1_input(struct conn *c) {
  struct buf *in = &c->in;
  for (;;) {
    char *p = in->data + in->off;
    size_t avail = in->len - in->off;
    if (c->state == S_HEAD) {
      char *end = memmem(p, avail, "\r\n\r\n", 4);
      if (!end) return 0;
      if (!c->busy) return -1; /* a response nobody asked for */
      size_t head = (size_t)(end - p) + 4;
      c->status = (avail > 12 && !strncmp(p, "HTTP/1.", 7)) ? atoi(p + 9) : 0;
      const char *te = find_header(p, head, "transfer-encoding:");
      const char *cl = find_header(p, head, "content-length:");
      in->off += head;
      if (te && !strncasecmp(te, "chunked", 7)) c->state = S_CHUNK_SIZE;
      else if (cl) {
        c->remaining = strtoul(cl, NULL, 10);
        c->state = S_BODY;
      } else return -1; /* close-delimited bodies would end the connection */
      if (c->state == S_BODY && c->remaining == 0) h1_done(c);
    } else if (c->state == S_BODY || c->state == S_CHUNK_DATA) {
      size_t take = avail < c->remaining ? avail : c->remaining;
      in->off += take;
      c->remaining -= take;
      if (c->remaining > 0) return 0;
      if (c->state == S_BODY) h1_done(c);
      else c->state = S_CHUNK_SIZE;
    } else if (c->state == S_CHUNK_SIZE) {
      char *eol = memmem(p, avail, "\r\n", 2);
      if (!eol) return 0;
      if (eol == p) { /* the CRLF that ends a chunk's data */
        in->off += 2;
        continue;
      }
      size_t size = strtoul(p, NULL, 16);
      in->off += (size_t)(eol - p) + 2;
      if (size == 0) c->state = S_TRAILERS;
      else {
        c->remaining = size;
        c->state = S_CHUNK_DATA;
      }
    } else { /* S_TRAILERS: lines until an empty one */
      char *eol = memmem(p, avail, "\r\n", 2);
      if (!eol) return 0;
      in->off += (size_t)(eol - p) + 2;
      if (eol == p) h1_done(c);
    }
  }
}

/* ---- TCP echo ---- */

static int tcp_input(struct conn *c) {
  size_t avail = c->in.len - c->in.off;
  c->in.off = c->in.len = 0;
  if (!c->busy) return -1;
  if (avail > c->remaining) return -1;
  c->remaining -= avail;
  if (c->remaining == 0) {
    c->busy = 0;
    completed_one(c, c->due, c->sent, 1);
  }
  return 0;
}

/* ---- h2 responses ---- */

static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* :status 200 is the first header of the block; encoders send it as static index 8. */
static int status_is_200(const uint8_t *block, size_t n) {
  size_t i = 0;
  while (i < n && (block[i] & 0xe0) == 0x20) { /* dynamic table size updates */
    if ((block[i] & 0x1f) == 0x1f) {
      i++;
      while (i < n && (block[i] & 0x80)) i++;
    }
    i++;
  }
  return i < n && block[i] == 0x88;
}

static void h2_end_stream(struct conn *c, uint32_t id, int ok) {
  struct slot *s = &c->slots[(id >> 1) % RING];
  if (!s->used) return;
  s->used = 0;
  c->inflight--;
  int good = ok && s->status_ok;
  if (ok && !s->status_ok) status_errors += measured(s->due, now_ns());
  completed_one(c, s->due, s->sent, good);
}

static int h2_input(struct conn *c) {
  struct buf *in = &c->in;
  while (in->len - in->off >= 9) {
    const uint8_t *f = (const uint8_t *)in->data + in->off;
    size_t len = ((size_t)f[0] << 16) | ((size_t)f[1] << 8) | f[2];
    if (in->len - in->off < 9 + len) break;
    uint8_t type = f[3], flags = f[4];
    uint32_t id = be32(f + 5) & 0x7fffffffu;
    const uint8_t *p = f + 9;
    in->off += 9 + len;
    switch (type) {
      case 0: /* DATA */
        c->recv_consumed += len;
        if (c->recv_consumed > (1u << 30)) {
          h2_window_update(c, 0, (uint32_t)c->recv_consumed);
          c->recv_consumed = 0;
        }
        if (flags & 0x1) h2_end_stream(c, id, 1);
        break;
      case 1: { /* HEADERS */
        struct slot *s = &c->slots[(id >> 1) % RING];
        size_t at = 0, end = len;
        if (flags & 0x8) { /* PADDED */
          end -= p[0];
          at = 1;
        }
        if (flags & 0x20) at += 5; /* PRIORITY */
        if (s->used && !s->have_status) {
          s->have_status = 1;
          s->status_ok = at < end && status_is_200(p + at, end - at);
        }
        if (flags & 0x1) h2_end_stream(c, id, 1);
        break;
      }
      case 3: /* RST_STREAM */
        h2_end_stream(c, id, 0);
        break;
      case 4: /* SETTINGS */
        if (!(flags & 0x1)) {
          for (size_t i = 0; i + 6 <= len; i += 6) {
            uint16_t key = (uint16_t)((p[i] << 8) | p[i + 1]);
            if (key == 0x3) {
              uint32_t v = be32(p + i + 2);
              c->max_streams = v < RING / 2 ? v : RING / 2;
            }
          }
          h2_frame(c, 4, 0x1, 0, NULL, 0);
          c->ready = 1;
        }
        break;
      case 6: /* PING */
        if (!(flags & 0x1)) h2_frame(c, 6, 0x1, 0, p, len);
        break;
      case 7: /* GOAWAY */
        return -1;
      default: /* WINDOW_UPDATE (requests carry no body), PRIORITY, CONTINUATION */
        break;
    }
  }
  if (c->out.len > c->out.off) conn_flush(c);
  return 0;
}

/* ---- main loop ---- */

static void on_readable(struct conn *c) {
  buf_reserve(&c->in, READ_CHUNK);
  ssize_t r = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
  if (r < 0 && errno == EAGAIN) return;
  if (r <= 0) {
    conn_fail(c);
    return;
  }
  c->in.len += (size_t)r;
  int status = proto == P_H1 ? h1_input(c) : proto == P_H2 ? h2_input(c) : tcp_input(c);
  if (status < 0) conn_fail(c);
}

#define MAX_EVENTS 256

/* Waits for at most MAX_EVENTS events on epfd, up to timeout_ns (< 0: without a limit); how many came. */
static int wait_events(struct epoll_event *events, int64_t timeout_ns) {
  struct timespec ts = {.tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000};
  return epoll_pwait2(epfd, events, MAX_EVENTS, timeout_ns < 0 ? NULL : &ts, NULL);
}

static void poll_once(int64_t timeout_ns) {
  struct epoll_event events[MAX_EVENTS];
  int n = wait_events(events, timeout_ns);
  for (int i = 0; i < n; i++) {
    struct conn *c = events[i].data.ptr;
    if (!c->alive) continue;
    if (events[i].events & EPOLLOUT) conn_flush(c);
    if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
  }
}

static void parse_args(int argc, char **argv) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (!strcmp(k, "--port")) port = atoi(v);
    else if (!strcmp(k, "--proto")) proto = !strcmp(v, "h2") ? P_H2 : !strcmp(v, "tcp") ? P_TCP : P_H1;
    else if (!strcmp(k, "--conns")) nconns = atoi(v);
    else if (!strcmp(k, "--rate")) rate = atof(v);
    else if (!strcmp(k, "--warmup")) warmup = atof(v);
    else if (!strcmp(k, "--duration")) duration = atof(v);
    else if (!strcmp(k, "--drain")) drain = atof(v);
    else if (!strcmp(k, "--path")) path = v;
    else if (!strcmp(k, "--authority")) authority = v;
    else if (!strcmp(k, "--size")) tcp_size = strtoul(v, NULL, 10);
    else if (!strcmp(k, "--streams")) streams = atoi(v);
    else if (!strcmp(k, "--spin-us")) spin_ns = (int64_t)(atof(v) * 1000);
    else if (!strcmp(k, "--cpu-pids")) {
      char *copy = strdup(v);
      for (char *t = strtok(copy, ","); t && ncpu_pids < 16; t = strtok(NULL, ",")) cpu_pids[ncpu_pids++] = atoi(t);
    } else {
      fprintf(stderr, "loadgen: unknown option %s\n", k);
      exit(2);
    }
  }
  if (port <= 0 || nconns <= 0 || nconns > 4096 || streams <= 0 || duration <= 0 || rate < 0) fail("bad options");
}

static void build_request(void) {
  if (proto == P_H1) {
    request = malloc(512);
    request_len = (size_t)snprintf(request, 512, "GET %s HTTP/1.1\r\nhost: %s\r\nuser-agent: weft-bench\r\n\r\n", path, authority);
  } else if (proto == P_H2) {
    /* :method GET (2), :scheme http (6), :path and :authority as literals without indexing */
    size_t pl = strlen(path), al = strlen(authority);
    if (pl > 126 || al > 126) fail("path or authority too long");
    request = malloc(8 + pl + al);
    size_t n = 0;
    request[n++] = (char)0x82;
    request[n++] = (char)0x86;
    request[n++] = 0x04;
    request[n++] = (char)pl;
    memcpy(request + n, path, pl);
    n += pl;
    request[n++] = 0x01;
    request[n++] = (char)al;
    memcpy(request + n, authority, al);
    n += al;
    request_len = n;
  } else {
    request = malloc(tcp_size);
    memset(request, 'e', tcp_size);
    request_len = tcp_size;
  }
}

/* JSON has no NaN: an empty sample prints null. */
static void num(const char *key, double v, const char *after) {
  if (isnan(v)) printf("\"%s\":null%s", key, after);
  else printf("\"%s\":%.1f%s", key, v, after);
}

static void print_result(struct cpu_sample *a, struct cpu_sample *b, double foreign) {
  double window = (double)(b->at - a->at) / 1e9;
  qsort(latency, nlat, sizeof *latency, cmp_float);
  if (lag) qsort(lag, nlag, sizeof *lag, cmp_float);
  double sum = 0;
  for (uint64_t i = 0; i < nlat; i++) sum += latency[i];
  double busy[2];
  for (int k = 0; k < 2; k++) {
    uint64_t dt = b->total[k] - a->total[k];
    busy[k] = dt ? 100.0 * (double)(b->busy[k] - a->busy[k]) / (double)dt : NAN;
  }
  uint64_t all = b->all_total - a->all_total;
  printf("{\"mode\":\"%s\",\"rate\":%g,\"conns\":%d,\"duration_s\":%g,\"window_s\":%.4f,"
         "\"due\":%llu,\"completed\":%llu,\"errors\":%llu,\"status_errors\":%llu,\"timeouts\":%llu,\"reconnects\":%llu,",
         closed_loop ? "closed" : "open", rate, nconns, duration, window,
         (unsigned long long)measured_due, (unsigned long long)completed, (unsigned long long)errors, (unsigned long long)status_errors,
         (unsigned long long)timeouts, (unsigned long long)reconnects);
  num("rps", (double)completed / (closed_loop ? window : duration), ",");
  printf("\"latency_us\":{");
  num("p50", pct(latency, nlat, 0.5), ",");
  num("p90", pct(latency, nlat, 0.9), ",");
  num("p99", pct(latency, nlat, 0.99), ",");
  num("p999", pct(latency, nlat, 0.999), ",");
  num("max", nlat ? latency[nlat - 1] : NAN, ",");
  num("mean", nlat ? sum / (double)nlat : NAN, "},");
  printf("\"send_lag_us\":{");
  num("p50", pct(lag, nlag, 0.5), ",");
  num("p99", pct(lag, nlag, 0.99), ",");
  num("max", nlag ? lag[nlag - 1] : NAN, "},");
  printf("\"cpu_ns\":%llu,\"cpu_ticks\":%llu,", (unsigned long long)(b->ns - a->ns), (unsigned long long)(b->ticks - a->ticks));
  num("foreign_cpu", foreign, ",");
  num("cpu0_busy", busy[0], ",");
  num("cpu1_busy", busy[1], ",");
  num("steal", all ? 100.0 * (double)(b->steal - a->steal) / (double)all : 0, "}\n");
}

/* ---- the measured run ---- */

/* What the run needs from a kind of connection; bench/mtls-loadgen.c brings its own. */
struct run_hooks {
  void (*poll)(int64_t timeout_ns);
  void (*dispatch)(void);               /* open loop: hands queued requests to connections */
  void (*start_closed)(void);           /* closed loop: the first requests of every connection */
  uint64_t (*measured_in_flight)(void); /* measured requests in flight (at the drain's end: timeouts) */
  int (*in_flight)(void);               /* requests in flight */
  void (*sampled)(int end);             /* optional: just after the window's CPU sample (0 start, 1 end) */
};

static struct foreign_snapshot foreign_before, foreign_after;
static struct cpu_sample cpu_a, cpu_b;

/* From the schedule to the end of the drain: the window, its CPU samples, and what went unanswered. */
static void run(const struct run_hooks *h) {
  t_start = now_ns() + 10000000;
  t_measure = t_start + (int64_t)(warmup * 1e9);
  t_end = t_measure + (int64_t)(duration * 1e9);
  t_drain_end = t_end + (int64_t)(drain * 1e9);
  if (closed_loop) {
    lat_cap = MAX_CLOSED_SAMPLES;
  } else {
    period_ns = (int64_t)(1e9 / rate);
    total_due = (uint64_t)((double)(t_end - t_start) / (double)period_ns);
    lat_cap = total_due + 16;
    queue = malloc(total_due * sizeof *queue + 16);
    lag = malloc(lat_cap * sizeof *lag);
  }
  latency = malloc(lat_cap * sizeof *latency);
  if (!latency) fail("out of memory");

  foreign_snapshot(&foreign_before);
  int sampled_a = 0, sampled_b = 0;
  while (now_ns() < t_start) h->poll(t_start - now_ns());
  if (closed_loop) h->start_closed();
  for (;;) {
    int64_t t = now_ns();
    if (!sampled_a && t >= t_measure) {
      sample_cpu(&cpu_a);
      if (h->sampled) h->sampled(0);
      sampled_a = 1;
    }
    if (!sampled_b && t >= t_end) {
      sample_cpu(&cpu_b);
      if (h->sampled) h->sampled(1);
      sampled_b = 1;
      stopping = 1;
    }
    if (!closed_loop) {
      while (next_due < total_due && t_start + (int64_t)next_due * period_ns <= t) {
        int64_t due = t_start + (int64_t)next_due * period_ns;
        if (due >= t_measure && due < t_end) measured_due++;
        queue[queue_head + queue_len++] = due;
        outstanding++;
        next_due++;
      }
      h->dispatch();
    }
    int finished = closed_loop ? sampled_b : (next_due >= total_due && outstanding == 0);
    if (finished && sampled_b) break;
    if (t >= t_drain_end) {
      /* measured requests still queued or in flight */
      for (uint64_t i = 0; i < queue_len; i++) timeouts += measured(queue[queue_head + i], 0);
      timeouts += h->measured_in_flight();
      break;
    }
    int64_t wake = t_drain_end;
    if (!closed_loop && next_due < total_due) wake = t_start + (int64_t)next_due * period_ns;
    if (!sampled_a && t_measure < wake) wake = t_measure;
    if (!sampled_b && t_end < wake) wake = t_end;
    int64_t timeout = wake - now_ns();
    /* a timer wakes late by tens of µs here: sleep to just before the due time, then poll */
    if (timeout > spin_ns) h->poll(timeout - spin_ns);
    else h->poll(0);
  }
  if (closed_loop) { /* let in-flight requests finish so the server sees clean connections */
    int64_t until = now_ns() + 500000000LL;
    while (now_ns() < until) {
      if (!h->in_flight()) break;
      h->poll(10000000);
    }
  }
}

/* Prints the result (after the run, and what the caller does to end it). */
static void report(void) {
  foreign_snapshot(&foreign_after);
  print_result(&cpu_a, &cpu_b, foreign_share(&foreign_before, &foreign_after));
}

/* ---- this generator's connections in the run ---- */

static void h_start_closed(void) {
  for (int i = 0; i < nconns; i++) {
    int per = proto == P_H2 ? streams : 1;
    for (int k = 0; k < per; k++) {
      outstanding++;
      send_request(&conns[i], now_ns());
    }
  }
}

static uint64_t h_measured_in_flight(void) {
  uint64_t n = 0;
  for (int i = 0; i < nconns; i++) {
    if (proto == P_H2) {
      for (int s = 0; s < RING; s++) if (conns[i].slots[s].used) n += measured(conns[i].slots[s].due, 0);
    } else if (conns[i].busy) n += measured(conns[i].due, 0);
  }
  return n;
}

static int h_in_flight(void) {
  int busy = 0;
  for (int i = 0; i < nconns; i++) busy += proto == P_H2 ? conns[i].inflight : conns[i].busy;
  return busy;
}

static const struct run_hooks h_hooks = {
    .poll = poll_once, .dispatch = dispatch, .start_closed = h_start_closed, .measured_in_flight = h_measured_in_flight, .in_flight = h_in_flight};

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_TIMERSLACK, 1UL);
  parse_args(argc, argv);
  closed_loop = rate == 0;
  build_request();
  epfd = epoll_create1(0);
  conns = calloc((size_t)nconns, sizeof *conns);
  idle = calloc((size_t)nconns, sizeof *idle);
  for (int i = 0; i < nconns; i++) conn_open(&conns[i]);
  if (proto == P_H2) { /* every connection has the server's SETTINGS before the clock starts */
    int64_t give_up = now_ns() + 5000000000LL;
    for (;;) {
      int ready = 0;
      for (int i = 0; i < nconns; i++) ready += conns[i].ready;
      if (ready == nconns) break;
      if (now_ns() > give_up) fail("no HTTP/2 SETTINGS from the server within 5 s");
      poll_once(100000000);
    }
  }
  if (proto != P_H2)
    for (int i = 0; i < nconns; i++) idle_push(i);
  run(&h_hooks);
  report();
  return 0;
}
