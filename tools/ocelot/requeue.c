/* requeue.c (CLI): `ocelot requeue` moves records from a dead-letter topic back to the
 * topic they failed on (or another). It is a consumer group on the DLQ (so a rerun
 * continues where the last one committed) and an idempotent producer, working in
 * batches of OC_RQ_BATCH records: produce the batch, flush, and only then commit the
 * DLQ offsets of the records whose delivery was confirmed. Killed at any point, a
 * rerun loses nothing; at worst the records of the unfinished batch are sent twice.
 * Records keep their key, value and non-oc- headers; the oc-* dead-letter headers are
 * dropped (the service adds fresh ones if the record fails again). */
#include "tools/ocelot/requeue.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "common/kafka.h"
#include "common/timeutil.h"

#define OC_RQ_BATCH 1000
#define OC_RQ_MAX_TARGETS 8
#define OC_RQ_JOIN_TIMEOUT_MS 120000 /* waiting for the group to assign partitions */
#define OC_RQ_FLUSH_MIN_MS 30000

typedef struct {
  int32_t partition;
  int64_t offset;
  int status; /* 0 in flight, 1 delivered, -1 failed (set by the delivery callback) */
} oc_rq_slot_t;

typedef struct {
  bool assigned, eof;
} oc_rq_part_t;

typedef struct {
  oc_cli_t *cli;
  const char *from, *to, *group;
  char default_to[256];
  long long limit, timeout_ms, max_rate;
  bool dry_run;
  int64_t rate_start_us; /* --max-rate schedule: rate_count records since rate_start_us */
  long long rate_count;

  rd_kafka_t *consumer, *producer;
  oc_cli_dr_t dr;

  oc_rq_slot_t *slots; /* the batch in flight; fixed, delivery callbacks point into it */
  size_t nslots;
  oc_rq_part_t *parts; /* by partition number */
  int nparts, nassigned, neof;
  bool ever_assigned;

  long long handled; /* records taken from the DLQ */
  long long moved;   /* delivered and committed */
  char targets[OC_RQ_MAX_TARGETS][256];
  int ntargets;
  bool more_targets;
  bool failed;
} oc_rq_t;

static void oc_rq_usage(FILE *out) {
  fprintf(out,
          "Usage: ocelot requeue --from TOPIC.dlq [--to TOPIC] [--limit N] [--dry-run]\n"
          "                      [--max-rate N] [--group G] [--timeout-ms N]\n\n"
          "Moves dead letters back: every record of TOPIC.dlq not yet requeued (the consumer\n"
          "group remembers) is produced to its topic with the same key and value and its\n"
          "headers minus the oc-* ones. DLQ offsets are committed only after the broker\n"
          "confirmed the records, every %d records, so a killed requeue loses nothing and a\n"
          "rerun continues (a few records may then be sent twice).\n\n"
          "  --from TOPIC.dlq  the dead-letter topic to drain\n"
          "  --to TOPIC        target topic (default: each record's oc-source-topic header,\n"
          "                    else TOPIC without \".dlq\")\n"
          "  --limit N         move at most N records; the rest stay for a later run\n"
          "  --dry-run         list the records (partition, offset, key, oc-error) and move\n"
          "                    nothing\n"
          "  --max-rate N      produce at most N records per second (spares a service that\n"
          "                    just recovered a flood)\n"
          "  --group G         consumer group (default ocelot-requeue)\n"
          "  --timeout-ms N    stop after N ms without records (default 10000); requeue also\n"
          "                    stops once every partition is drained\n",
          OC_RQ_BATCH);
}

static const char *oc_rq_targets_text(oc_rq_t *rq, char *buf, size_t size) {
  size_t off = 0;
  if (rq->ntargets == 0) return rq->to ? rq->to : rq->default_to;
  buf[0] = '\0';
  for (int i = 0; i < rq->ntargets && off < size; i++)
    off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? "," : "", rq->targets[i]);
  if (rq->more_targets && off < size) snprintf(buf + off, size - off, ",...");
  return buf;
}

static void oc_rq_note_target(oc_rq_t *rq, const char *target) {
  for (int i = 0; i < rq->ntargets; i++)
    if (strcmp(rq->targets[i], target) == 0) return;
  if (rq->ntargets == OC_RQ_MAX_TARGETS) {
    rq->more_targets = true;
    return;
  }
  snprintf(rq->targets[rq->ntargets++], sizeof(rq->targets[0]), "%s", target);
}

/* Flushes the producer, then commits, per partition, the DLQ offsets of the confirmed
 * records up to the first unconfirmed one. false (with the reason printed) when any
 * record of the batch was not delivered or the commit failed. */
static bool oc_rq_finish_batch(oc_rq_t *rq) {
  rd_kafka_topic_partition_list_t *offsets = NULL;
  int64_t *next = NULL;
  bool *blocked = NULL, ok = true;
  size_t confirmed = 0, unconfirmed = 0;
  long long flush_ms = rq->timeout_ms > OC_RQ_FLUSH_MIN_MS ? rq->timeout_ms : OC_RQ_FLUSH_MIN_MS;
  rd_kafka_resp_err_t kerr;

  if (rq->nslots == 0) return true;
  rd_kafka_flush(rq->producer, (int)flush_ms);
  rd_kafka_poll(rq->producer, 0);

  next = calloc((size_t)rq->nparts, sizeof(*next));
  blocked = calloc((size_t)rq->nparts, sizeof(*blocked));
  offsets = rd_kafka_topic_partition_list_new(rq->nparts);
  if (!next || !blocked || !offsets) {
    oc_cli_errorf("out of memory");
    ok = false;
    goto out;
  }
  for (int p = 0; p < rq->nparts; p++)
    next[p] = -1;
  for (size_t i = 0; i < rq->nslots; i++) {
    const oc_rq_slot_t *s = &rq->slots[i];
    if (s->status != 1) {
      unconfirmed++;
      blocked[s->partition] = true;
      continue;
    }
    if (blocked[s->partition]) {
      unconfirmed++; /* delivered, but an earlier record of its partition was not */
      continue;
    }
    confirmed++;
    next[s->partition] = s->offset + 1;
  }
  for (int p = 0; p < rq->nparts; p++)
    if (next[p] >= 0) rd_kafka_topic_partition_list_add(offsets, rq->from, p)->offset = next[p];
  if (offsets->cnt > 0) {
    kerr = rd_kafka_commit(rq->consumer, offsets, 0 /* synchronous */);
    if (kerr) {
      oc_cli_errorf(
          "could not commit the offsets of %s for group %s: %s (%zu records were "
          "requeued but a rerun will send them again)",
          rq->from, rq->group, rd_kafka_err2str(kerr), confirmed);
      ok = false;
      goto out;
    }
  }
  rq->moved += (long long)confirmed;
  if (unconfirmed) {
    char tbuf[1024];
    oc_cli_errorf(
        "%zu record(s) could not be delivered to %s: %s; their DLQ offsets were not "
        "committed (a rerun retries them)",
        unconfirmed, oc_rq_targets_text(rq, tbuf, sizeof(tbuf)),
        rq->dr.failed ? rd_kafka_err2str(rq->dr.last_err) : "no confirmation from the broker");
    ok = false;
  }
out:
  rq->nslots = 0;
  if (offsets) rd_kafka_topic_partition_list_destroy(offsets);
  free(next);
  free(blocked);
  return ok;
}

static void oc_rq_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t *partitions, void *opaque) {
  oc_rq_t *rq = opaque;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    rd_kafka_assign(rk, partitions);
    for (int i = 0; i < partitions->cnt; i++) {
      int32_t p = partitions->elems[i].partition;
      if (p < 0 || p >= rq->nparts || rq->parts[p].assigned) continue;
      rq->parts[p].assigned = true;
      rq->parts[p].eof = false;
      rq->nassigned++;
    }
    rq->ever_assigned = true;
    return;
  }
  /* Revoked (another requeue joined the group, or we leave): what was produced from
   * these partitions is confirmed and committed while we still own them. */
  if (!rq->dry_run && !oc_rq_finish_batch(rq)) rq->failed = true;
  for (int p = 0; p < rq->nparts; p++)
    rq->parts[p] = (oc_rq_part_t){0};
  rq->nassigned = rq->neof = 0;
  rd_kafka_assign(rk, NULL);
}

/* Where a record goes: --to, else its oc-source-topic header, else the default. */
static const char *oc_rq_target(oc_rq_t *rq, const rd_kafka_message_t *rkm, char *buf,
                                size_t size) {
  if (rq->to) return rq->to;
  if (oc_kafka_header(rkm, OC_HDR_SOURCE_TOPIC, buf, size) && oc_cli_topic_name_ok(buf)) return buf;
  return rq->default_to;
}

static void oc_rq_print_dry(const rd_kafka_message_t *rkm, const char *target) {
  char err[1024];
  oc_buf_t b;
  oc_buf_init(&b);
  oc_buf_appendf(&b, "partition=%d offset=%lld key=", (int)rkm->partition, (long long)rkm->offset);
  if (rkm->key)
    oc_json_write_string(&b, rkm->key, rkm->key_len);
  else
    oc_buf_puts(&b, "null");
  oc_buf_appendf(&b, " to=%s oc-error=", target);
  if (oc_kafka_header(rkm, OC_HDR_ERROR, err, sizeof(err)))
    oc_json_write_string(&b, err, strlen(err));
  else
    oc_buf_puts(&b, "null");
  oc_buf_putc(&b, '\n');
  if (oc_buf_ok(&b)) fwrite(b.data, 1, b.len, stdout);
  oc_buf_deinit(&b);
}

/* Produces one record to its target. false (printed) on a failure that stops the run. */
static bool oc_rq_handle(oc_rq_t *rq, const rd_kafka_message_t *rkm) {
  char tbuf[256];
  const char *target = oc_rq_target(rq, rkm, tbuf, sizeof(tbuf));
  rd_kafka_headers_t *hdrs;
  rd_kafka_resp_err_t kerr;
  oc_rq_slot_t *slot;

  if (strcmp(target, rq->from) == 0) {
    oc_cli_errorf("record %d/%lld of %s would be requeued to %s itself; give --to", rkm->partition,
                  (long long)rkm->offset, rq->from, rq->from);
    return false;
  }
  rq->handled++;
  oc_rq_note_target(rq, target);
  if (rq->dry_run) {
    oc_rq_print_dry(rkm, target);
    return true;
  }
  if (rq->max_rate) {
    /* Pace to the rate, serving delivery reports while waiting. */
    int64_t now = oc_monotonic_us();
    int64_t due = rq->rate_start_us + rq->rate_count * 1000000 / rq->max_rate;
    /* A stall (a flush, a rebalance) restarts the schedule rather than being made up
     * for with a burst. */
    if (rq->rate_count == 0 || now - due > 100000) {
      rq->rate_start_us = due = now;
      rq->rate_count = 0;
    }
    while (now < due) {
      rd_kafka_poll(rq->producer, (int)((due - now + 999) / 1000));
      now = oc_monotonic_us();
    }
    rq->rate_count++;
  }
  hdrs = oc_kafka_headers_without_oc(rkm);
  if (!hdrs) {
    oc_cli_errorf("out of memory");
    return false;
  }
  slot = &rq->slots[rq->nslots++];
  *slot = (oc_rq_slot_t){.partition = rkm->partition, .offset = rkm->offset, .status = 0};
  for (;;) {
    kerr = rd_kafka_producev(
        rq->producer, RD_KAFKA_V_TOPIC(target), RD_KAFKA_V_KEY(rkm->key, rkm->key_len),
        RD_KAFKA_V_VALUE(rkm->payload, rkm->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(&slot->status), RD_KAFKA_V_END);
    if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
    rd_kafka_poll(rq->producer, 100);
  }
  if (kerr) {
    rd_kafka_headers_destroy(hdrs);
    slot->status = -1;
    oc_cli_errorf("could not produce record %d/%lld of %s to %s: %s", rkm->partition,
                  (long long)rkm->offset, rq->from, target, rd_kafka_err2str(kerr));
    return false;
  }
  if (rq->nslots == OC_RQ_BATCH) {
    if (!oc_rq_finish_batch(rq)) return false;
    fprintf(stderr, "requeued %lld records from %s to %s\n", rq->moved, rq->from,
            oc_rq_targets_text(rq, tbuf, sizeof(tbuf)));
  }
  return true;
}

/* Consumes until every assigned partition is at its end, the limit is reached or the
 * DLQ stays idle for timeout_ms. false when the run failed (printed). */
static bool oc_rq_loop(oc_rq_t *rq) {
  int64_t start = oc_monotonic_us(), idle_since = start;
  for (;;) {
    rd_kafka_message_t *rkm;
    if (rq->failed) return false;
    if (rq->limit && rq->handled >= rq->limit) return true;
    rkm = rd_kafka_consumer_poll(rq->consumer, 100);
    if (rq->producer) rd_kafka_poll(rq->producer, 0);
    if (rq->failed) {
      if (rkm) rd_kafka_message_destroy(rkm);
      return false;
    }
    if (!rkm) {
      int64_t now = oc_monotonic_us();
      if (!rq->ever_assigned) {
        if (now - start > (int64_t)OC_RQ_JOIN_TIMEOUT_MS * 1000) {
          oc_cli_errorf(
              "group %s got no partitions of %s within %d s (is another requeue with "
              "the same group running?)",
              rq->group, rq->from, OC_RQ_JOIN_TIMEOUT_MS / 1000);
          return false;
        }
        idle_since = now;
        continue;
      }
      if (rq->nassigned > 0 && rq->neof == rq->nassigned) return true;
      if (now - idle_since > rq->timeout_ms * 1000) {
        fprintf(stderr, "ocelot: no records for %lld ms; stopping (%d of %d partitions drained)\n",
                rq->timeout_ms, rq->neof, rq->nassigned);
        return true;
      }
      continue;
    }
    idle_since = oc_monotonic_us();
    if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      int32_t p = rkm->partition;
      if (p >= 0 && p < rq->nparts && rq->parts[p].assigned && !rq->parts[p].eof) {
        rq->parts[p].eof = true;
        rq->neof++;
      }
      rd_kafka_message_destroy(rkm);
      if (rq->nassigned > 0 && rq->neof == rq->nassigned) return true;
      continue;
    }
    if (rkm->err) {
      rd_kafka_resp_err_t kerr = rkm->err;
      fprintf(stderr, "ocelot: warning: %s: %s\n", rq->from, rd_kafka_message_errstr(rkm));
      rd_kafka_message_destroy(rkm);
      if (kerr == RD_KAFKA_RESP_ERR__FATAL) return false;
      if (kerr == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
          kerr == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
        return true; /* the DLQ vanished: nothing left to move */
      continue;
    }
    {
      int32_t p = rkm->partition;
      bool ok;
      if (p < 0 || p >= rq->nparts) {
        /* Partitions were added after we looked: handled, but not tracked for EOF. */
        oc_cli_errorf("partition %d of %s appeared during the run; rerun requeue", p, rq->from);
        rd_kafka_message_destroy(rkm);
        return false;
      }
      if (rq->parts[p].eof) {
        rq->parts[p].eof = false;
        rq->neof--;
      }
      ok = oc_rq_handle(rq, rkm);
      rd_kafka_message_destroy(rkm);
      if (!ok) return false;
    }
  }
}

int oc_cli_requeue(oc_cli_t *cli, int argc, char **argv) {
  static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
                                       {"to", required_argument, NULL, 't'},
                                       {"limit", required_argument, NULL, 'l'},
                                       {"dry-run", no_argument, NULL, 'n'},
                                       {"group", required_argument, NULL, 'g'},
                                       {"timeout-ms", required_argument, NULL, 'T'},
                                       {"max-rate", required_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  oc_rq_t rq = {.cli = cli, .group = "ocelot-requeue", .timeout_ms = 10000};
  rd_kafka_conf_t *conf = NULL;
  rd_kafka_topic_partition_list_t *sub = NULL;
  char errstr[1024], tbuf[1024];
  size_t sl = strlen(OC_DLQ_SUFFIX), n;
  bool exists = false, ok;
  int c, rc = OC_CLI_EXIT_USAGE;

  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
      case 'f':
        rq.from = optarg;
        break;
      case 't':
        rq.to = optarg;
        break;
      case 'l':
        if (!oc_cli_parse_ll("--limit", optarg, 1, 1LL << 40, &rq.limit)) return rc;
        break;
      case 'n':
        rq.dry_run = true;
        break;
      case 'g':
        rq.group = optarg;
        break;
      case 'r':
        if (!oc_cli_parse_ll("--max-rate", optarg, 1, 100000000, &rq.max_rate)) return rc;
        break;
      case 'T':
        if (!oc_cli_parse_ll("--timeout-ms", optarg, 1, 3600000, &rq.timeout_ms)) return rc;
        break;
      case 'h':
        oc_rq_usage(stdout);
        return OC_CLI_EXIT_OK;
      default:
        return oc_cli_bad_option("requeue", c, argv);
    }
  }
  if (optind < argc) {
    oc_cli_errorf("unexpected argument \"%s\"", argv[optind]);
    return rc;
  }
  if (!rq.from) {
    oc_cli_errorf("--from is required (the dead-letter topic, e.g. alerts.dlq)");
    return rc;
  }
  if (!oc_cli_topic_name_ok(rq.from) || (rq.to && !oc_cli_topic_name_ok(rq.to))) {
    oc_cli_errorf("invalid topic name \"%s\"", oc_cli_topic_name_ok(rq.from) ? rq.to : rq.from);
    return rc;
  }
  if (!*rq.group || strlen(rq.group) > 255) {
    oc_cli_errorf("invalid --group \"%s\"", rq.group);
    return rc;
  }
  n = strlen(rq.from);
  if (n > sl && strcmp(rq.from + n - sl, OC_DLQ_SUFFIX) == 0) {
    snprintf(rq.default_to, sizeof(rq.default_to), "%.*s", (int)(n - sl), rq.from);
  } else if (!rq.to) {
    oc_cli_errorf("--from \"%s\" is not a dead-letter topic (ending in \"%s\"); give --to", rq.from,
                  OC_DLQ_SUFFIX);
    return rc;
  }
  if (rq.to && strcmp(rq.to, rq.from) == 0) {
    oc_cli_errorf("--to and --from name the same topic");
    return rc;
  }

  rc = OC_CLI_EXIT_FAIL;
  conf = oc_kafka_consumer_conf(oc_cli_brokers(cli), rq.group, "ocelot-requeue", errstr,
                                sizeof(errstr));
  if (!conf) {
    oc_cli_errorf("could not configure a Kafka consumer: %s", errstr);
    goto out;
  }
  if (rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof(errstr)) !=
      RD_KAFKA_CONF_OK) {
    oc_cli_errorf("could not configure a Kafka consumer: %s", errstr);
    goto out;
  }
  rd_kafka_conf_set_rebalance_cb(conf, oc_rq_rebalance_cb);
  rd_kafka_conf_set_opaque(conf, &rq);
  rq.consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (!rq.consumer) {
    oc_cli_errorf("could not create a Kafka consumer: %s", errstr);
    goto out;
  }
  conf = NULL; /* owned by the consumer */
  rd_kafka_poll_set_consumer(rq.consumer);

  if (oc_cli_topic_info(rq.consumer, oc_cli_brokers(cli), rq.from, OC_CLI_BROKER_TIMEOUT_MS,
                        &exists, &rq.nparts, errstr, sizeof(errstr)) != OC_OK) {
    oc_cli_errorf("%s", errstr);
    goto out;
  }
  if (!exists) {
    fprintf(stderr, "ocelot: topic \"%s\" does not exist: nothing to requeue\n", rq.from);
    printf("%s 0 records from %s to %s\n", rq.dry_run ? "would requeue" : "requeued", rq.from,
           rq.to ? rq.to : rq.default_to);
    rc = OC_CLI_EXIT_OK;
    goto out;
  }
  rq.parts = calloc((size_t)rq.nparts, sizeof(*rq.parts));
  rq.slots = calloc(OC_RQ_BATCH, sizeof(*rq.slots));
  if (!rq.parts || !rq.slots) {
    oc_cli_errorf("out of memory");
    goto out;
  }
  if (!rq.dry_run) {
    rq.producer = oc_cli_producer_new(cli, &rq.dr);
    if (!rq.producer) goto out;
  }
  sub = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(sub, rq.from, RD_KAFKA_PARTITION_UA);
  if (rd_kafka_subscribe(rq.consumer, sub) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    oc_cli_errorf("could not subscribe to %s", rq.from);
    goto out;
  }

  ok = oc_rq_loop(&rq);
  if (!rq.dry_run && !oc_rq_finish_batch(&rq)) ok = false;
  /* Leave the group (the revoke callback finds an empty batch). */
  rd_kafka_consumer_close(rq.consumer);
  if (rq.failed) ok = false;
  if (!ok) {
    if (!rq.dry_run)
      oc_cli_errorf("requeue stopped: %lld records were moved from %s before the failure", rq.moved,
                    rq.from);
    goto out;
  }
  if (rq.dry_run)
    printf("would requeue %lld records from %s to %s\n", rq.handled, rq.from,
           oc_rq_targets_text(&rq, tbuf, sizeof(tbuf)));
  else
    printf("requeued %lld records from %s to %s\n", rq.moved, rq.from,
           oc_rq_targets_text(&rq, tbuf, sizeof(tbuf)));
  rc = OC_CLI_EXIT_OK;
out:
  if (conf) rd_kafka_conf_destroy(conf);
  if (sub) rd_kafka_topic_partition_list_destroy(sub);
  /* The consumer first: closing it may run the revoke callback, which flushes the
   * producer and commits. */
  if (rq.consumer) rd_kafka_destroy(rq.consumer);
  oc_cli_producer_destroy(rq.producer);
  free(rq.parts);
  free(rq.slots);
  return rc;
}
