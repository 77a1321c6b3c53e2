/* ocelot-devbroker: the development broker. librdkafka's in-process mock cluster (one
 * broker, listening on 127.0.0.1, everything in memory) in a process of its own, so the
 * whole pipeline runs on one machine without a Kafka install. It prints its bootstrap
 * address, optionally writes it to a file, creates Ocelot's topics and runs until
 * SIGTERM or SIGINT.
 *
 * Limits inherited from librdkafka 2.0's mock cluster (see DESIGN.md): a partition keeps
 * only about 5 MiB or 100,000 record batches (the oldest data is dropped), and a rejoin
 * after a subscription change waits out max.poll.interval.ms. */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/kafka.h"
#include "common/log.h"

static const char *const oc_devbroker_topics[] = {OC_TOPIC_INPUT, OC_TOPIC_PROCESSED,
                                                  OC_TOPIC_MATCHES, OC_TOPIC_ALERTS};

static void oc_devbroker_usage(FILE *out) {
  fprintf(out,
          "Usage: ocelot-devbroker [--port-file FILE] [--partitions N]\n"
          "\n"
          "Runs a development Kafka broker (librdkafka's mock cluster) on 127.0.0.1 and\n"
          "prints \"bootstrap.servers=127.0.0.1:PORT\". Data lives in memory only.\n"
          "\n"
          "  --port-file FILE  also write the bootstrap address to FILE (atomically)\n"
          "  --partitions N    partitions of the topics created at start (default 4)\n");
}

static void oc_devbroker_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  oc_log_level_t lvl = level <= 3 ? OC_LOG_ERROR : level == 4 ? OC_LOG_WARN : OC_LOG_INFO;
  if (level >= 7) return;
  oc_log_kv(lvl, "librdkafka", "facility", fac, "detail", buf, NULL);
}

/* Writes text to path through a temporary file and rename(2). */
static int oc_write_atomic(const char *path, const char *text, char *errstr, size_t errstr_size) {
  char tmp[4096];
  FILE *f;
  if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
    snprintf(errstr, errstr_size, "port file path too long");
    return -1;
  }
  f = fopen(tmp, "w");
  if (!f) {
    snprintf(errstr, errstr_size, "could not open \"%s\": %s", tmp, strerror(errno));
    return -1;
  }
  if (fputs(text, f) == EOF || fflush(f) != 0 || fsync(fileno(f)) != 0) {
    snprintf(errstr, errstr_size, "could not write \"%s\": %s", tmp, strerror(errno));
    fclose(f);
    unlink(tmp);
    return -1;
  }
  if (fclose(f) != 0) {
    snprintf(errstr, errstr_size, "could not write \"%s\": %s", tmp, strerror(errno));
    unlink(tmp);
    return -1;
  }
  if (rename(tmp, path) != 0) {
    snprintf(errstr, errstr_size, "could not rename \"%s\" to \"%s\": %s", tmp, path,
             strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *port_file = NULL;
  long partitions = 4;
  char errstr[512];
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk = NULL;
  rd_kafka_mock_cluster_t *mcluster;
  const char *bootstraps;
  sigset_t sigs;
  int sig = 0, rc = 1;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      oc_devbroker_usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
      port_file = argv[++i];
    } else if (strcmp(argv[i], "--partitions") == 0 && i + 1 < argc) {
      char *end;
      partitions = strtol(argv[++i], &end, 10);
      if (*end || end == argv[i] || partitions < 1 || partitions > 1000) {
        fprintf(stderr, "ocelot-devbroker: --partitions must be between 1 and 1000\n");
        return 2;
      }
    } else {
      fprintf(stderr, "ocelot-devbroker: unrecognized argument \"%s\"\n", argv[i]);
      oc_devbroker_usage(stderr);
      return 2;
    }
  }
  oc_log_init("devbroker", OC_LOG_INFO);

  /* Block the stop signals before librdkafka starts its threads, so they inherit the
   * mask and sigwait() below is the only place the signals arrive. */
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  signal(SIGPIPE, SIG_IGN);

  conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof(errstr)) !=
      RD_KAFKA_CONF_OK) {
    oc_log(OC_LOG_ERROR, "could not configure the mock cluster: %s", errstr);
    rd_kafka_conf_destroy(conf);
    return 1;
  }
  rd_kafka_conf_set_log_cb(conf, oc_devbroker_log_cb);
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    oc_log(OC_LOG_ERROR, "could not start the mock cluster: %s", errstr);
    rd_kafka_conf_destroy(conf);
    return 1;
  }
  mcluster = rd_kafka_handle_mock_cluster(rk);
  bootstraps = mcluster ? rd_kafka_mock_cluster_bootstraps(mcluster) : NULL;
  if (!bootstraps) {
    oc_log(OC_LOG_ERROR, "could not start the mock cluster: no bootstrap address");
    goto out;
  }

  for (size_t i = 0; i < sizeof(oc_devbroker_topics) / sizeof(oc_devbroker_topics[0]); i++) {
    char dlq[256];
    snprintf(dlq, sizeof(dlq), "%s%s", oc_devbroker_topics[i], OC_DLQ_SUFFIX);
    const char *names[2] = {oc_devbroker_topics[i], dlq};
    for (int j = 0; j < 2; j++) {
      rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mcluster, names[j], (int)partitions, 1);
      if (err) {
        oc_log(OC_LOG_ERROR, "could not create topic \"%s\": %s", names[j], rd_kafka_err2str(err));
        goto out;
      }
    }
  }

  if (port_file) {
    char line[512];
    snprintf(line, sizeof(line), "%s\n", bootstraps);
    if (oc_write_atomic(port_file, line, errstr, sizeof(errstr)) != 0) {
      oc_log(OC_LOG_ERROR, "%s", errstr);
      goto out;
    }
  }
  printf("bootstrap.servers=%s\n", bootstraps);
  fflush(stdout);
  oc_log(OC_LOG_INFO, "development broker listening on %s (%ld partitions per topic)", bootstraps,
         partitions);

  while (sigwait(&sigs, &sig) != 0 || (sig != SIGTERM && sig != SIGINT)) {
  }
  oc_log(OC_LOG_INFO, "stopping on signal %d", sig);
  rc = 0;

out:
  if (port_file && rc == 0) unlink(port_file);
  rd_kafka_destroy(rk);
  return rc;
}
