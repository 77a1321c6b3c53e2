/* render.c: Alert -> webhook JSON (see render.h). */
#include "services/alert-delivery/render.h"

#include <string.h>

#include "common/json.h"
#include "common/timeutil.h"

static void oc_render_str(oc_buf_t *out, const char *key, const char *s) {
  oc_buf_putc(out, ',');
  oc_json_write_string(out, key, strlen(key));
  oc_buf_putc(out, ':');
  oc_json_write_string(out, s ? s : "", s ? strlen(s) : 0);
}

static void oc_render_time(oc_buf_t *out, const char *key, int64_t us) {
  char t[32];
  oc_time_format_rfc3339(us, t);
  oc_render_str(out, key, t);
}

/* A JSON text embedded as a value: parsed and re-serialized compactly; not JSON -> a
 * string; empty -> null. */
static void oc_render_embedded(oc_buf_t *out, const char *text, oc_arena_t *a) {
  char err[128];
  size_t len = text ? strlen(text) : 0;
  const oc_json_t *v;
  if (len == 0) {
    oc_buf_puts(out, "null");
    return;
  }
  v = oc_json_parse(a, text, len, OC_RENDER_JSON_DEPTH, err, sizeof(err));
  if (v)
    oc_json_serialize(out, v);
  else
    oc_json_write_string(out, text, len);
}

bool oc_render_alert(oc_buf_t *out, const Ocelot__V1__Alert *al, oc_arena_t *a) {
  oc_buf_puts(out, "{\"id\":");
  oc_json_write_string(out, al->alert_id, strlen(al->alert_id));
  oc_render_str(out, "rule_id", al->rule_id);
  oc_render_str(out, "rule_version", al->rule_version);
  oc_render_str(out, "title", al->title);
  oc_render_str(out, "severity", al->severity);
  oc_render_str(out, "dedup", al->dedup);
  oc_buf_puts(out, ",\"event_count\":");
  oc_buf_append_u64(out, al->event_count);
  oc_render_time(out, "first_event_time", al->first_event_time_us);
  oc_render_time(out, "last_event_time", al->last_event_time_us);
  oc_render_time(out, "created_at", al->created_at_us);
  oc_render_str(out, "log_type", al->log_type);
  oc_buf_puts(out, al->is_error ? ",\"is_error\":true" : ",\"is_error\":false");
  oc_buf_puts(out, ",\"context\":");
  oc_render_embedded(out, al->alert_context_json, a);
  oc_render_str(out, "description", al->description);
  oc_render_str(out, "reference", al->reference);
  oc_render_str(out, "runbook", al->runbook);
  oc_buf_puts(out, ",\"destinations\":[");
  for (size_t i = 0; i < al->n_destinations; i++) {
    if (i) oc_buf_putc(out, ',');
    oc_json_write_string(out, al->destinations[i], strlen(al->destinations[i]));
  }
  oc_buf_puts(out, "],\"sample_events\":[");
  for (size_t i = 0; i < al->n_sample_events; i++) {
    if (i) oc_buf_putc(out, ',');
    oc_render_embedded(out, al->sample_events[i], a);
  }
  oc_buf_puts(out, "]}");
  return oc_buf_ok(out);
}
