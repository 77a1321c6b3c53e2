/* cli.h: what the ocelot subcommands share: the configuration, error output, option
 * parsing helpers, and Postgres / Kafka clients built the way every command needs them
 * (the error is printed once, here, and the command just exits). */
#ifndef OC_CLI_H
#define OC_CLI_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"
#include "common/pg.h"

/* Exit codes of every command. */
#define OC_CLI_EXIT_OK 0
#define OC_CLI_EXIT_FAIL 1  /* the command ran and failed (dependency down, bad data) */
#define OC_CLI_EXIT_USAGE 2 /* bad arguments or configuration */

/* Configuration variables of the CLI beyond the runtime's. */
#define OC_CLI_ENV_OBJECT_ROOT "OCELOT_OBJECT_ROOT"
#define OC_CLI_ENV_LAKE_ROOT "OCELOT_LAKE_ROOT"

/* How long a command waits for the broker to answer a metadata request before it
 * reports the broker unreachable. */
#define OC_CLI_BROKER_TIMEOUT_MS 10000

typedef struct oc_cli {
  oc_config_t *cfg; /* loaded from the environment before a command runs */
} oc_cli_t;

/* A subcommand: argv[0] is its name ("add", "dump", "notify"). Returns an exit code. */
typedef int (*oc_cli_cmd_fn)(oc_cli_t *cli, int argc, char **argv);

typedef struct oc_cli_cmd {
  const char *name;
  oc_cli_cmd_fn fn;
  const char *summary; /* one line for the command list */
} oc_cli_cmd_t;

/* Runs the subcommand of a command group (`ocelot sources add ...`): argv[0] is the
 * group, argv[1] the subcommand. Prints the group's usage on --help or a bad name. */
int oc_cli_dispatch(oc_cli_t *cli, const char *group, const oc_cli_cmd_t *cmds, size_t ncmds,
                    int argc, char **argv);

/* "ocelot: <message>" on stderr. */
void oc_cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reports a getopt_long failure (c is '?' or ':') for `what` and returns
 * OC_CLI_EXIT_USAGE. */
int oc_cli_bad_option(const char *what, int c, char **argv);
/* Parses an integer option within [min, max]; prints the error and returns false. */
bool oc_cli_parse_ll(const char *opt, const char *text, long long min, long long max,
                     long long *out);

const char *oc_cli_brokers(const oc_cli_t *cli);
const char *oc_cli_object_root(const oc_cli_t *cli);

/* Connects to OCELOT_PG_DSN and (migrate) applies pending migrations, so every command
 * works against a fresh database. NULL after printing the reason. */
oc_pg_t *oc_cli_pg_open(const oc_cli_t *cli, bool migrate);

/* Delivery bookkeeping of a CLI producer. A record produced with a msg_opaque pointing
 * to an int gets *status = 1 when delivered, -1 when it failed. */
typedef struct oc_cli_dr {
  size_t delivered, failed;
  rd_kafka_resp_err_t last_err;
  int32_t last_partition; /* of the last delivered record */
  int64_t last_offset;
} oc_cli_dr_t;

/* A producer (idempotent, acks=all, OCELOT_KAFKA_<PROP> applied) whose delivery reports
 * land in *dr. Checks that the broker answers (OC_CLI_BROKER_TIMEOUT_MS). NULL after
 * printing the reason. */
rd_kafka_t *oc_cli_producer_new(const oc_cli_t *cli, oc_cli_dr_t *dr);
/* Waits until every queued record has a delivery report or timeout_ms passed. OC_OK when
 * nothing failed and nothing is left; otherwise an error with the reason in errstr. */
oc_err_t oc_cli_producer_wait(rd_kafka_t *rk, const oc_cli_dr_t *dr, size_t failed_before,
                              int timeout_ms, char *errstr, size_t errstr_size);
/* Drops whatever is still queued and destroys the producer (accepts NULL). */
void oc_cli_producer_destroy(rd_kafka_t *rk);
/* Asks the broker for metadata (of topic, or the cluster when NULL). OC_OK with
 * *exists set, or OC_ERR_UNAVAILABLE with a message naming the brokers. *partitions
 * (may be NULL) gets the partition count of topic. */
oc_err_t oc_cli_topic_info(rd_kafka_t *rk, const char *brokers, const char *topic, int timeout_ms,
                           bool *exists, int *partitions, char *errstr, size_t errstr_size);
/* True for a usable Kafka topic name (1..249 of [A-Za-z0-9._-], not "." or ".."). */
bool oc_cli_topic_name_ok(const char *name);

/* Reads a whole file (at most max bytes) into a malloc'd NUL-terminated buffer. NULL
 * after printing the reason. */
char *oc_cli_read_file(const char *path, size_t max, size_t *len);
/* Creates dir and its parents (mode 0755). 0 or -1 with errno. */
int oc_cli_mkdirs(const char *dir);

#endif
