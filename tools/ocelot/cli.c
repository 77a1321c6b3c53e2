/* cli.c: helpers shared by the ocelot subcommands. Errors are printed here, once, in
 * the PostgreSQL style, so the commands can simply return an exit code. */
#include "tools/ocelot/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/kafka.h"
#include "common/migrate.h"

void oc_cli_errorf(const char *fmt, ...) {
  va_list ap;
  fflush(stdout);
  fputs("ocelot: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int oc_cli_bad_option(const char *what, int c, char **argv) {
  const char *arg = optind > 0 ? argv[optind - 1] : "";
  if (c == ':')
    oc_cli_errorf("option \"%s\" needs a value", arg);
  else if (optopt)
    oc_cli_errorf("unrecognized option \"-%c\"", optopt);
  else
    oc_cli_errorf("unrecognized option \"%s\"", arg);
  fprintf(stderr, "Try \"ocelot %s --help\".\n", what);
  return OC_CLI_EXIT_USAGE;
}

bool oc_cli_parse_ll(const char *opt, const char *text, long long min, long long max,
                     long long *out) {
  char *end;
  long long v;
  errno = 0;
  v = strtoll(text, &end, 10);
  if (errno || end == text || *end) {
    oc_cli_errorf("invalid value for %s: \"%s\" is not an integer", opt, text);
    return false;
  }
  if (v < min || v > max) {
    oc_cli_errorf("invalid value for %s: %lld is out of range (must be between %lld and %lld)", opt,
                  v, min, max);
    return false;
  }
  *out = v;
  return true;
}

int oc_cli_dispatch(oc_cli_t *cli, const char *group, const oc_cli_cmd_t *cmds, size_t ncmds,
                    int argc, char **argv) {
  const char *sub = argc > 1 ? argv[1] : NULL;
  bool help =
      sub && (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0);
  if (sub && !help) {
    for (size_t i = 0; i < ncmds; i++)
      if (strcmp(cmds[i].name, sub) == 0) return cmds[i].fn(cli, argc - 1, argv + 1);
    oc_cli_errorf("unknown command \"%s %s\"", group, sub);
  } else if (!sub) {
    oc_cli_errorf("\"%s\" needs a subcommand", group);
  }
  fprintf(help ? stdout : stderr, "Usage: ocelot %s <command> [options]\n\nCommands:\n", group);
  for (size_t i = 0; i < ncmds; i++)
    fprintf(help ? stdout : stderr, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
  fprintf(help ? stdout : stderr, "\n\"ocelot %s <command> --help\" describes a command.\n", group);
  return help ? OC_CLI_EXIT_OK : OC_CLI_EXIT_USAGE;
}

const char *oc_cli_brokers(const oc_cli_t *cli) {
  return oc_config_str(cli->cfg, "OCELOT_KAFKA_BROKERS");
}

const char *oc_cli_object_root(const oc_cli_t *cli) {
  return oc_config_str(cli->cfg, OC_CLI_ENV_OBJECT_ROOT);
}

oc_pg_t *oc_cli_pg_open(const oc_cli_t *cli, bool migrate) {
  char errstr[1024];
  oc_pg_t *pg = oc_pg_new(oc_config_str(cli->cfg, "OCELOT_PG_DSN"));
  if (!pg) {
    oc_cli_errorf("out of memory");
    return NULL;
  }
  if (oc_pg_connect(pg, errstr, sizeof(errstr)) != OC_OK) {
    oc_cli_errorf("%s", errstr);
    goto fail;
  }
  if (migrate && oc_migrate_run(pg, NULL, errstr, sizeof(errstr)) != OC_OK) {
    oc_cli_errorf("%s", errstr);
    goto fail;
  }
  return pg;
fail:
  oc_pg_destroy(pg);
  return NULL;
}

static void oc_cli_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque) {
  oc_cli_dr_t *dr = opaque;
  int *status = rkm->_private;
  if (rkm->err) {
    dr->failed++;
    dr->last_err = rkm->err;
    if (status) *status = -1;
  } else {
    dr->delivered++;
    dr->last_partition = rkm->partition;
    dr->last_offset = rkm->offset;
    if (status) *status = 1;
  }
}

oc_err_t oc_cli_topic_info(rd_kafka_t *rk, const char *brokers, const char *topic, int timeout_ms,
                           bool *exists, int *partitions, char *errstr, size_t errstr_size) {
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_resp_err_t kerr;
  oc_err_t err = OC_OK;
  if (exists) *exists = false;
  if (partitions) *partitions = 0;
  /* All topics rather than just this one: a request naming a missing topic makes some
   * brokers (and the development broker) create it, and looking must not create. */
  kerr = rd_kafka_metadata(rk, topic ? 1 : 0, NULL, &md, timeout_ms);
  if (kerr) {
    snprintf(errstr, errstr_size,
             "could not reach the Kafka broker at %s: %s (no answer within %d ms; is it "
             "running? see OCELOT_KAFKA_BROKERS)",
             brokers, rd_kafka_err2str(kerr), timeout_ms);
    err = OC_ERR_UNAVAILABLE;
    goto out;
  }
  if (!topic) {
    if (exists) *exists = true;
    goto out;
  }
  for (int i = 0; i < md->topic_cnt; i++) {
    if (strcmp(md->topics[i].topic, topic) != 0) continue;
    if (md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[i].partition_cnt > 0) {
      if (exists) *exists = true;
      if (partitions) *partitions = md->topics[i].partition_cnt;
    } else if (md->topics[i].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
               md->topics[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      snprintf(errstr, errstr_size, "could not get metadata of topic \"%s\": %s", topic,
               rd_kafka_err2str(md->topics[i].err));
      err = oc_kafka_err(md->topics[i].err);
    }
  }
out:
  if (md) rd_kafka_metadata_destroy(md);
  return err;
}

rd_kafka_t *oc_cli_producer_new(const oc_cli_t *cli, oc_cli_dr_t *dr) {
  char errstr[1024];
  rd_kafka_t *rk;
  memset(dr, 0, sizeof(*dr));
  dr->last_partition = -1;
  dr->last_offset = -1;
  rk = oc_kafka_producer_new(oc_cli_brokers(cli), "ocelot-cli", oc_cli_dr_cb, dr, errstr,
                             sizeof(errstr));
  if (!rk) {
    oc_cli_errorf("could not create a Kafka producer: %s", errstr);
    return NULL;
  }
  if (oc_cli_topic_info(rk, oc_cli_brokers(cli), NULL, OC_CLI_BROKER_TIMEOUT_MS, NULL, NULL, errstr,
                        sizeof(errstr)) != OC_OK) {
    oc_cli_errorf("%s", errstr);
    rd_kafka_destroy(rk);
    return NULL;
  }
  return rk;
}

oc_err_t oc_cli_producer_wait(rd_kafka_t *rk, const oc_cli_dr_t *dr, size_t failed_before,
                              int timeout_ms, char *errstr, size_t errstr_size) {
  rd_kafka_resp_err_t kerr = rd_kafka_flush(rk, timeout_ms);
  if (dr->failed > failed_before) {
    snprintf(errstr, errstr_size, "%zu record(s) could not be delivered: %s",
             dr->failed - failed_before, rd_kafka_err2str(dr->last_err));
    return oc_kafka_err(dr->last_err) ? oc_kafka_err(dr->last_err) : OC_ERR_UNAVAILABLE;
  }
  if (kerr || rd_kafka_outq_len(rk) > 0) {
    snprintf(errstr, errstr_size,
             "%d record(s) still unconfirmed after %d ms (is the broker reachable?)",
             rd_kafka_outq_len(rk), timeout_ms);
    return OC_ERR_TIMEOUT;
  }
  return OC_OK;
}

void oc_cli_producer_destroy(rd_kafka_t *rk) {
  if (!rk) return;
  if (rd_kafka_outq_len(rk) > 0) {
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk, 1000);
  }
  rd_kafka_destroy(rk);
}

bool oc_cli_topic_name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      return false;
  }
  return true;
}

char *oc_cli_read_file(const char *path, size_t max, size_t *len) {
  char *data = NULL;
  size_t n = 0, cap = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    oc_cli_errorf("could not open \"%s\": %s", path, strerror(errno));
    return NULL;
  }
  for (;;) {
    ssize_t r;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 65536;
      char *p;
      if (cap > max) {
        oc_cli_errorf("file \"%s\" is larger than the limit of %zu bytes", path, max);
        goto fail;
      }
      p = realloc(data, ncap + 1);
      if (!p) {
        oc_cli_errorf("out of memory reading \"%s\"", path);
        goto fail;
      }
      data = p;
      cap = ncap;
    }
    r = read(fd, data + n, cap - n);
    if (r < 0) {
      if (errno == EINTR) continue;
      oc_cli_errorf("could not read \"%s\": %s", path, strerror(errno));
      goto fail;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  if (n > max) {
    oc_cli_errorf("file \"%s\" is larger than the limit of %zu bytes", path, max);
    goto fail;
  }
  if (!data) {
    data = malloc(1);
    if (!data) goto fail;
  }
  data[n] = '\0';
  close(fd);
  *len = n;
  return data;
fail:
  free(data);
  close(fd);
  return NULL;
}

int oc_cli_mkdirs(const char *dir) {
  char path[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof(path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(path, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (path[i] != '/' && path[i] != '\0') continue;
    char saved = path[i];
    path[i] = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return -1;
    path[i] = saved;
  }
  return 0;
}
