/*
 * originalDestination(fd): where a connection redirected by iptables (nat REDIRECT or DNAT) was
 * going, read from conntrack with getsockopt(SO_ORIGINAL_DST) (IP6T_SO_ORIGINAL_DST for IPv6).
 * Returns { address, port }, or the errno of the failed call as a number: ENOENT when the
 * connection was not redirected, ENOPROTOOPT without netfilter, ENOSYS off Linux.
 *
 * Built against Node-API only, so one build loads in every Node version that has it.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <string.h>

#ifdef __linux__
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* From linux/netfilter_ipv4.h and linux/netfilter_ipv6/ip6_tables.h, which not every libc ships. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif
#endif

static napi_value errno_value(napi_env env, int code) {
  napi_value result;
  napi_create_int32(env, code, &result);
  return result;
}

static napi_value destination(napi_env env, const char *address, unsigned port) {
  napi_value result, address_value, port_value;
  napi_create_object(env, &result);
  napi_create_string_utf8(env, address, NAPI_AUTO_LENGTH, &address_value);
  napi_create_uint32(env, port, &port_value);
  napi_set_named_property(env, result, "address", address_value);
  napi_set_named_property(env, result, "port", port_value);
  return result;
}

static napi_value original_destination(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "originalDestination(fd) expects a file descriptor");
    return NULL;
  }
#ifdef __linux__
  struct sockaddr_storage local;
  socklen_t length = sizeof(local);
  if (getsockname(fd, (struct sockaddr *)&local, &length) != 0) return errno_value(env, errno);

  /* An IPv4 connection accepted by a dual-stack socket is tracked by IPv4 conntrack. */
  int ipv4 = local.ss_family == AF_INET ||
             (local.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&local)->sin6_addr));
  char text[INET6_ADDRSTRLEN];
  if (ipv4) {
    struct sockaddr_in original;
    socklen_t size = sizeof(original);
    memset(&original, 0, sizeof(original));
    if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &original, &size) != 0) return errno_value(env, errno);
    if (inet_ntop(AF_INET, &original.sin_addr, text, sizeof(text)) == NULL) return errno_value(env, errno);
    return destination(env, text, ntohs(original.sin_port));
  }
  if (local.ss_family == AF_INET6) {
    struct sockaddr_in6 original;
    socklen_t size = sizeof(original);
    memset(&original, 0, sizeof(original));
    if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &original, &size) != 0) return errno_value(env, errno);
    if (inet_ntop(AF_INET6, &original.sin6_addr, text, sizeof(text)) == NULL) return errno_value(env, errno);
    return destination(env, text, ntohs(original.sin6_port));
  }
  return errno_value(env, EAFNOSUPPORT);
#else
  (void)fd;
  return errno_value(env, ENOSYS);
#endif
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "originalDestination", NAPI_AUTO_LENGTH, original_destination, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "originalDestination", fn) != napi_ok) return NULL;
  return exports;
}
