/* topic.h (CLI): `ocelot topic dump` (every record of a topic as a JSON line, protobuf
 * envelopes decoded) and `ocelot topic produce` (one record from stdin, for tests). */
#ifndef OC_CLI_TOPIC_H
#define OC_CLI_TOPIC_H

#include <protobuf-c/protobuf-c.h>

#include "common/buf.h"
#include "tools/ocelot/cli.h"

int oc_cli_topic(oc_cli_t *cli, int argc, char **argv);

/* The protobuf message carried on topic (its ".dlq" suffix ignored): ObjectNotification
 * on input-notifications and source.*, ProcessedFile on processed-files, RuleMatchGroup
 * on rule-matches, Alert on alerts. NULL for any other topic. */
const ProtobufCMessageDescriptor *oc_cli_topic_descriptor(const char *topic);
/* Appends msg as a JSON object: every field under its .proto name, 64-bit integers as
 * numbers, enums by value name, bytes as base64, nested messages as objects. */
void oc_cli_pb_json(oc_buf_t *out, const ProtobufCMessage *msg);

#endif
