/* topic.c (CLI): looking into topics and writing to them by hand. `topic dump` reads
 * every partition from the beginning with a throwaway consumer group that never
 * commits, so it disturbs no service, and decodes the protobuf envelopes generically
 * from their descriptors (a field added to the .proto shows up without code here). */
#include "tools/ocelot/topic.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/json.h"
#include "common/kafka.h"
#include "common/timeutil.h"
#include "ocelot/v1/messages.pb-c.h"

#define OC_CLI_PB_MAX_DEPTH 32
#define OC_CLI_PRODUCE_MAX (16 * 1024 * 1024) /* bytes read from stdin by topic produce */
#define OC_CLI_MAX_HEADERS 64

/* ---- protobuf -> JSON ---- */

const ProtobufCMessageDescriptor *oc_cli_topic_descriptor(const char *topic) {
  size_t n = strlen(topic), sl = strlen(OC_DLQ_SUFFIX);
  if (n > sl && strcmp(topic + n - sl, OC_DLQ_SUFFIX) == 0) n -= sl;
#define OC_IS(name) (n == strlen(name) && strncmp(topic, name, n) == 0)
  if (OC_IS(OC_TOPIC_INPUT)) return &ocelot__v1__object_notification__descriptor;
  if (n > strlen(OC_TOPIC_SOURCE_PREFIX) &&
      strncmp(topic, OC_TOPIC_SOURCE_PREFIX, strlen(OC_TOPIC_SOURCE_PREFIX)) == 0)
    return &ocelot__v1__object_notification__descriptor;
  if (OC_IS(OC_TOPIC_PROCESSED)) return &ocelot__v1__processed_file__descriptor;
  if (OC_IS(OC_TOPIC_MATCHES)) return &ocelot__v1__rule_match_group__descriptor;
  if (OC_IS(OC_TOPIC_ALERTS)) return &ocelot__v1__alert__descriptor;
#undef OC_IS
  return NULL;
}

static void oc_cli_base64(oc_buf_t *out, const uint8_t *p, size_t n) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  oc_buf_putc(out, '"');
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    oc_buf_putc(out, tbl[(v >> 18) & 63]);
    oc_buf_putc(out, tbl[(v >> 12) & 63]);
    oc_buf_putc(out, i + 1 < n ? tbl[(v >> 6) & 63] : '=');
    oc_buf_putc(out, i + 2 < n ? tbl[v & 63] : '=');
  }
  oc_buf_putc(out, '"');
}

static size_t oc_cli_pb_elem_size(ProtobufCType type) {
  switch (type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_ENUM:
      return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
      return 8;
    case PROTOBUF_C_TYPE_BOOL:
      return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
      return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
      return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
      return sizeof(ProtobufCMessage *);
  }
  return 0;
}

static void oc_cli_pb_json_msg(oc_buf_t *out, const ProtobufCMessage *msg, int depth);

static void oc_cli_pb_float(oc_buf_t *out, double v, int digits) {
  if (isnan(v))
    oc_buf_puts(out, "\"NaN\"");
  else if (isinf(v))
    oc_buf_puts(out, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  else
    oc_buf_appendf(out, "%.*g", digits, v);
}

static void oc_cli_pb_value(oc_buf_t *out, const ProtobufCFieldDescriptor *f, const void *p,
                            int depth) {
  switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
      oc_buf_append_i64(out, *(const int32_t *)p);
      break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
      oc_buf_append_u64(out, *(const uint32_t *)p);
      break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
      oc_buf_append_i64(out, *(const int64_t *)p);
      break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
      oc_buf_append_u64(out, *(const uint64_t *)p);
      break;
    case PROTOBUF_C_TYPE_FLOAT:
      oc_cli_pb_float(out, *(const float *)p, 9);
      break;
    case PROTOBUF_C_TYPE_DOUBLE:
      oc_cli_pb_float(out, *(const double *)p, 17);
      break;
    case PROTOBUF_C_TYPE_BOOL:
      oc_buf_puts(out, *(const protobuf_c_boolean *)p ? "true" : "false");
      break;
    case PROTOBUF_C_TYPE_ENUM: {
      int v = *(const int *)p;
      const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
      if (ev)
        oc_json_write_string(out, ev->name, strlen(ev->name));
      else
        oc_buf_append_i64(out, v);
      break;
    }
    case PROTOBUF_C_TYPE_STRING: {
      const char *s = *(char *const *)p;
      oc_json_write_string(out, s ? s : "", s ? strlen(s) : 0);
      break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
      const ProtobufCBinaryData *bd = p;
      oc_cli_base64(out, bd->data, bd->len);
      break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
      const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
      if (m && depth < OC_CLI_PB_MAX_DEPTH)
        oc_cli_pb_json_msg(out, m, depth + 1);
      else
        oc_buf_puts(out, "null");
      break;
    }
  }
}

static void oc_cli_pb_json_msg(oc_buf_t *out, const ProtobufCMessage *msg, int depth) {
  const ProtobufCMessageDescriptor *d = msg->descriptor;
  const char *base = (const char *)msg;
  bool first = true;
  oc_buf_putc(out, '{');
  for (unsigned i = 0; i < d->n_fields; i++) {
    const ProtobufCFieldDescriptor *f = &d->fields[i];
    const void *p = base + f->offset;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      if (*(const uint32_t *)(base + f->quantifier_offset) != f->id) continue;
    } else if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
      /* proto2 / proto3 "optional": skip unset values. */
      if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING) {
        if (!*(void *const *)p) continue;
      } else if (f->quantifier_offset &&
                 !*(const protobuf_c_boolean *)(base + f->quantifier_offset)) {
        continue;
      }
    }
    if (!first) oc_buf_putc(out, ',');
    first = false;
    oc_json_write_string(out, f->name, strlen(f->name));
    oc_buf_putc(out, ':');
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
      size_t n = *(const size_t *)(base + f->quantifier_offset);
      const char *arr = *(char *const *)p;
      size_t esz = oc_cli_pb_elem_size(f->type);
      oc_buf_putc(out, '[');
      for (size_t j = 0; arr && j < n; j++) {
        if (j) oc_buf_putc(out, ',');
        oc_cli_pb_value(out, f, arr + j * esz, depth);
      }
      oc_buf_putc(out, ']');
    } else {
      oc_cli_pb_value(out, f, p, depth);
    }
  }
  oc_buf_putc(out, '}');
}

void oc_cli_pb_json(oc_buf_t *out, const ProtobufCMessage *msg) {
  oc_cli_pb_json_msg(out, msg, 0);
}

/* ---- dump ---- */

static void oc_cli_dump_record(oc_buf_t *out, const rd_kafka_message_t *rkm, const char *topic,
                               const ProtobufCMessageDescriptor *desc) {
  rd_kafka_headers_t *hdrs = NULL;
  oc_buf_puts(out, "{\"topic\":");
  oc_json_write_string(out, topic, strlen(topic));
  oc_buf_appendf(out, ",\"partition\":%d,\"offset\":%lld,\"key\":", (int)rkm->partition,
                 (long long)rkm->offset);
  if (rkm->key)
    oc_json_write_string(out, rkm->key, rkm->key_len);
  else
    oc_buf_puts(out, "null");
  oc_buf_puts(out, ",\"headers\":{");
  if (rd_kafka_message_headers(rkm, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs) {
    const char *name;
    const void *val;
    size_t len;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &len) == 0; i++) {
      if (i) oc_buf_putc(out, ',');
      oc_json_write_string(out, name, strlen(name));
      oc_buf_putc(out, ':');
      if (val)
        oc_json_write_string(out, val, len);
      else
        oc_buf_puts(out, "null");
    }
  }
  oc_buf_puts(out, "},\"value\":");
  if (!rkm->payload) {
    oc_buf_puts(out, "null");
  } else {
    ProtobufCMessage *msg =
        desc ? protobuf_c_message_unpack(desc, NULL, rkm->len, rkm->payload) : NULL;
    if (msg) {
      oc_cli_pb_json(out, msg);
      protobuf_c_message_free_unpacked(msg, NULL);
    } else {
      oc_json_write_string(out, rkm->payload, rkm->len);
    }
  }
  oc_buf_puts(out, "}\n");
}

static void oc_cli_dump_usage(FILE *out) {
  fprintf(out,
          "Usage: ocelot topic dump TOPIC [--max N] [--timeout-ms N] [--from-beginning]\n\n"
          "Prints every record of TOPIC, all partitions from the beginning, as one JSON line:\n"
          "  {\"topic\",\"partition\",\"offset\",\"key\",\"headers\":{name:value},\"value\"}\n"
          "where value is the protobuf envelope decoded to an object (field names as in the\n"
          ".proto) for Ocelot's topics and their .dlq, else the record's text. Uses a\n"
          "throwaway consumer group and commits nothing.\n\n"
          "  --max N           stop after N records\n"
          "  --timeout-ms N    stop after N ms without a record (default 10000); the dump\n"
          "                    also stops once every partition reached its end\n"
          "  --from-beginning  accepted for clarity; dumps always start at the beginning\n");
}

static int oc_cli_topic_dump(oc_cli_t *cli, int argc, char **argv) {
  static const struct option opts[] = {{"max", required_argument, NULL, 'm'},
                                       {"timeout-ms", required_argument, NULL, 't'},
                                       {"from-beginning", no_argument, NULL, 'b'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  long long max = 0, timeout_ms = 10000;
  const char *topic;
  char errstr[1024], group[96];
  rd_kafka_conf_t *conf = NULL;
  rd_kafka_t *rk = NULL;
  rd_kafka_topic_partition_list_t *parts = NULL;
  const ProtobufCMessageDescriptor *desc;
  bool exists = false, *eof = NULL;
  int nparts = 0, neof = 0, c, rc = OC_CLI_EXIT_USAGE;
  long long count = 0;
  int64_t idle_since;
  oc_buf_t out;

  oc_buf_init(&out);
  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
      case 'm':
        if (!oc_cli_parse_ll("--max", optarg, 1, 1LL << 40, &max)) return rc;
        break;
      case 't':
        if (!oc_cli_parse_ll("--timeout-ms", optarg, 1, 3600000, &timeout_ms)) return rc;
        break;
      case 'b':
        break;
      case 'h':
        oc_cli_dump_usage(stdout);
        return OC_CLI_EXIT_OK;
      default:
        return oc_cli_bad_option("topic dump", c, argv);
    }
  }
  if (argc - optind != 1) {
    oc_cli_errorf("topic dump needs exactly one topic");
    return rc;
  }
  topic = argv[optind];
  if (!oc_cli_topic_name_ok(topic)) {
    oc_cli_errorf("invalid topic name \"%s\"", topic);
    return rc;
  }
  desc = oc_cli_topic_descriptor(topic);

  rc = OC_CLI_EXIT_FAIL;
  snprintf(group, sizeof(group), "ocelot-dump-%ld-%lld", (long)getpid(),
           (long long)(oc_now_us() % 1000000000));
  conf = oc_kafka_consumer_conf(oc_cli_brokers(cli), group, "ocelot-dump", errstr, sizeof(errstr));
  if (!conf) {
    oc_cli_errorf("could not configure a Kafka consumer: %s", errstr);
    goto out;
  }
  if (rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof(errstr)) !=
      RD_KAFKA_CONF_OK) {
    oc_cli_errorf("could not configure a Kafka consumer: %s", errstr);
    goto out;
  }
  rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  if (!rk) {
    oc_cli_errorf("could not create a Kafka consumer: %s", errstr);
    goto out;
  }
  conf = NULL; /* owned by rk */
  rd_kafka_poll_set_consumer(rk);

  if (oc_cli_topic_info(rk, oc_cli_brokers(cli), topic, OC_CLI_BROKER_TIMEOUT_MS, &exists, &nparts,
                        errstr, sizeof(errstr)) != OC_OK) {
    oc_cli_errorf("%s", errstr);
    goto out;
  }
  if (!exists) {
    fprintf(stderr, "ocelot: topic \"%s\" does not exist (no records)\n", topic);
    rc = OC_CLI_EXIT_OK;
    goto out;
  }
  eof = calloc((size_t)nparts, sizeof(*eof));
  parts = rd_kafka_topic_partition_list_new(nparts);
  if (!eof || !parts) {
    oc_cli_errorf("out of memory");
    goto out;
  }
  for (int p = 0; p < nparts; p++)
    rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  if (rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    oc_cli_errorf("could not assign the partitions of \"%s\"", topic);
    goto out;
  }

  idle_since = oc_monotonic_us();
  while (neof < nparts && (max == 0 || count < max)) {
    rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
    if (!rkm) {
      if (oc_monotonic_us() - idle_since > timeout_ms * 1000) break;
      continue;
    }
    idle_since = oc_monotonic_us();
    if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (rkm->partition >= 0 && rkm->partition < nparts && !eof[rkm->partition]) {
        eof[rkm->partition] = true;
        neof++;
      }
    } else if (rkm->err) {
      /* Transport errors are retried by librdkafka; the idle timeout ends the dump. */
      fprintf(stderr, "ocelot: warning: %s\n", rd_kafka_message_errstr(rkm));
      if (rkm->err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_message_destroy(rkm);
        goto out;
      }
    } else {
      if (rkm->partition >= 0 && rkm->partition < nparts && eof[rkm->partition]) {
        eof[rkm->partition] = false; /* a record arrived after the end */
        neof--;
      }
      oc_buf_reset(&out);
      oc_cli_dump_record(&out, rkm, topic, desc);
      if (!oc_buf_ok(&out)) {
        rd_kafka_message_destroy(rkm);
        oc_cli_errorf("out of memory");
        goto out;
      }
      fwrite(out.data, 1, out.len, stdout);
      count++;
    }
    rd_kafka_message_destroy(rkm);
  }
  if (fflush(stdout) != 0) {
    oc_cli_errorf("could not write the output");
    goto out;
  }
  if (neof < nparts && (max == 0 || count < max))
    fprintf(stderr, "ocelot: stopped after %lld ms without records (%d of %d partitions at end)\n",
            timeout_ms, neof, nparts);
  rc = OC_CLI_EXIT_OK;
out:
  if (conf) rd_kafka_conf_destroy(conf);
  if (parts) rd_kafka_topic_partition_list_destroy(parts);
  if (rk) {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
  free(eof);
  oc_buf_deinit(&out);
  return rc;
}

/* ---- produce ---- */

static void oc_cli_produce_usage(FILE *out) {
  fprintf(out,
          "Usage: ocelot topic produce TOPIC [--key KEY] [--header NAME=VALUE...] [--lines]\n"
          "                            < VALUE\n\n"
          "Produces one record to TOPIC with the bytes of stdin as its value (at most %d MiB)\n"
          "and waits until the broker confirms it. For tests and repairs.\n\n"
          "  --key KEY            record key (default: none)\n"
          "  --header NAME=VALUE  record header (repeatable)\n"
          "  --lines              one record per stdin line instead: \"KEY<TAB>VALUE\", or just\n"
          "                       VALUE (then the key is --key); every record gets the headers\n",
          OC_CLI_PRODUCE_MAX / (1024 * 1024));
}

/* Queues one record with copies of the headers; *status follows its delivery. */
static rd_kafka_resp_err_t oc_cli_produce_one(rd_kafka_t *rk, const char *topic, const char *key,
                                              size_t key_len, const char *value, size_t len,
                                              const rd_kafka_headers_t *hdrs, int *status) {
  rd_kafka_headers_t *copy = rd_kafka_headers_copy(hdrs);
  rd_kafka_resp_err_t kerr;
  for (;;) {
    kerr = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
                             RD_KAFKA_V_VALUE((void *)value, len),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(copy),
                             RD_KAFKA_V_OPAQUE(status), RD_KAFKA_V_END);
    if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL) break;
    rd_kafka_poll(rk, 100);
  }
  if (kerr) rd_kafka_headers_destroy(copy);
  return kerr;
}

static int oc_cli_topic_produce(oc_cli_t *cli, int argc, char **argv) {
  static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                       {"header", required_argument, NULL, 'H'},
                                       {"lines", no_argument, NULL, 'L'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *topic, *key = NULL, *hdr_args[OC_CLI_MAX_HEADERS];
  size_t nhdrs = 0, len = 0, nrecords = 0;
  char *value = NULL, errstr[1024];
  rd_kafka_headers_t *hdrs = NULL;
  rd_kafka_resp_err_t kerr;
  oc_cli_dr_t dr;
  rd_kafka_t *rk = NULL;
  bool lines = false;
  int c, status = 0, rc = OC_CLI_EXIT_USAGE;

  optind = 0;
  opterr = 0;
  while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (c) {
      case 'k':
        key = optarg;
        break;
      case 'H':
        if (nhdrs >= OC_CLI_MAX_HEADERS) {
          oc_cli_errorf("too many --header options (the limit is %d)", OC_CLI_MAX_HEADERS);
          return rc;
        }
        if (!strchr(optarg, '=') || optarg[0] == '=') {
          oc_cli_errorf("invalid --header \"%s\": use NAME=VALUE", optarg);
          return rc;
        }
        hdr_args[nhdrs++] = optarg;
        break;
      case 'L':
        lines = true;
        break;
      case 'h':
        oc_cli_produce_usage(stdout);
        return OC_CLI_EXIT_OK;
      default:
        return oc_cli_bad_option("topic produce", c, argv);
    }
  }
  if (argc - optind != 1) {
    oc_cli_errorf("topic produce needs exactly one topic");
    return rc;
  }
  topic = argv[optind];
  if (!oc_cli_topic_name_ok(topic)) {
    oc_cli_errorf("invalid topic name \"%s\"", topic);
    return rc;
  }
  rc = OC_CLI_EXIT_FAIL;
  value = oc_cli_read_file("/dev/stdin", OC_CLI_PRODUCE_MAX, &len);
  if (!value) goto out;
  hdrs = rd_kafka_headers_new(nhdrs ? nhdrs : 1);
  if (!hdrs) {
    oc_cli_errorf("out of memory");
    goto out;
  }
  for (size_t i = 0; i < nhdrs; i++) {
    const char *eq = strchr(hdr_args[i], '=');
    rd_kafka_header_add(hdrs, hdr_args[i], eq - hdr_args[i], eq + 1, -1);
  }
  rk = oc_cli_producer_new(cli, &dr);
  if (!rk) goto out;
  if (!lines) {
    kerr = oc_cli_produce_one(rk, topic, key, key ? strlen(key) : 0, value, len, hdrs, &status);
    nrecords = 1;
  } else {
    /* Each line: KEY\tVALUE or VALUE. Delivery is counted in dr, not per record. */
    kerr = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (char *line = value; line < value + len && !kerr;) {
      char *eol = memchr(line, '\n', (size_t)(value + len - line));
      char *end = eol ? eol : value + len;
      char *tab = memchr(line, '\t', (size_t)(end - line));
      if (end > line || eol) {
        if (tab)
          kerr = oc_cli_produce_one(rk, topic, line, (size_t)(tab - line), tab + 1,
                                    (size_t)(end - tab - 1), hdrs, NULL);
        else
          kerr = oc_cli_produce_one(rk, topic, key, key ? strlen(key) : 0, line,
                                    (size_t)(end - line), hdrs, NULL);
        if (!kerr) nrecords++;
      }
      rd_kafka_poll(rk, 0);
      line = end + 1;
    }
    status = 1;
  }
  if (kerr) {
    oc_cli_errorf("could not produce to \"%s\": %s", topic, rd_kafka_err2str(kerr));
    goto out;
  }
  if (oc_cli_producer_wait(rk, &dr, 0, 60000, errstr, sizeof(errstr)) != OC_OK) {
    oc_cli_errorf("could not produce to \"%s\": %s", topic, errstr);
    goto out;
  }
  if (status != 1 || dr.delivered != nrecords) {
    oc_cli_errorf("could not produce to \"%s\": %zu of %zu record(s) confirmed", topic,
                  dr.delivered, nrecords);
    goto out;
  }
  if (lines)
    printf("produced %zu records to %s\n", nrecords, topic);
  else
    printf("produced %zu bytes to %s partition %d offset %lld\n", len, topic,
           (int)dr.last_partition, (long long)dr.last_offset);
  rc = OC_CLI_EXIT_OK;
out:
  if (hdrs) rd_kafka_headers_destroy(hdrs);
  oc_cli_producer_destroy(rk);
  free(value);
  return rc;
}

int oc_cli_topic(oc_cli_t *cli, int argc, char **argv) {
  static const oc_cli_cmd_t cmds[] = {
      {"dump", oc_cli_topic_dump, "print every record of a topic as JSON lines"},
      {"produce", oc_cli_topic_produce, "produce one record (value from stdin)"},
  };
  return oc_cli_dispatch(cli, "topic", cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}
