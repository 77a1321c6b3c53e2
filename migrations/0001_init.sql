-- Ocelot's core schema: sources, log types, rules, outputs, alerting state.

CREATE TABLE sources (
  id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
  label       text NOT NULL,
  bucket      text NOT NULL,
  prefix      text NOT NULL DEFAULT '',
  log_types   text[] NOT NULL CHECK (cardinality(log_types) > 0),
  enabled     boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (bucket, prefix)
);

-- Custom JSON log types (issue 3 extends this with full schemas).
CREATE TABLE log_types (
  name              text PRIMARY KEY,
  event_time_field  text,            -- dotted path of the event time; NULL = parse time
  required_fields   text[] NOT NULL DEFAULT '{}',
  schema            text,            -- schema document, when given
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Detections stored in Postgres (YAML text); the rules-engine also loads a directory.
CREATE TABLE rules (
  id          text PRIMARY KEY,
  version     bigint NOT NULL DEFAULT 1,
  kind        text NOT NULL DEFAULT 'yaml' CHECK (kind IN ('yaml', 'python')),
  body        text NOT NULL,
  enabled     boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Alert destinations.
CREATE TABLE outputs (
  id          text PRIMARY KEY,
  type        text NOT NULL CHECK (type IN ('webhook')),
  name        text NOT NULL,
  config      jsonb NOT NULL,       -- webhook: {"url": "...", "timeout_ms": 5000, "headers": {...}}
  enabled     boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Inbox: RuleMatchGroup ids already applied by the alert-forwarder.
CREATE TABLE processed_matches (
  id            text PRIMARY KEY,
  alert_id      text,               -- the alert the match was counted into
  processed_at  timestamptz NOT NULL DEFAULT now()
);
-- Retention (OCELOT_INBOX_RETENTION_HOURS) deletes by age.
CREATE INDEX processed_matches_processed_at ON processed_matches (processed_at);

-- The open dedup window per (rule id, dedup string).
CREATE TABLE alert_dedup (
  dedup_key         text PRIMARY KEY,  -- rule_id || ':' || dedup  (error matches: 'error:' prefix)
  rule_id           text NOT NULL,
  dedup             text NOT NULL,
  alert_id          text NOT NULL,     -- id of the current window's alert (held or created)
  window_start      timestamptz NOT NULL,  -- first event time of the window
  event_count       bigint NOT NULL,
  first_event_time  timestamptz NOT NULL,
  last_event_time   timestamptz NOT NULL,
  threshold         integer NOT NULL DEFAULT 1,
  alert_created     boolean NOT NULL DEFAULT false,
  updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alerts (
  id                text PRIMARY KEY,
  rule_id           text NOT NULL,
  rule_version      text NOT NULL DEFAULT '',
  dedup_key         text NOT NULL,
  dedup             text NOT NULL,
  title             text NOT NULL,
  severity          text NOT NULL,
  log_type          text NOT NULL DEFAULT '',
  is_error          boolean NOT NULL DEFAULT false,
  event_count       bigint NOT NULL,
  first_event_time  timestamptz NOT NULL,
  last_event_time   timestamptz NOT NULL,
  context           jsonb,
  description       text NOT NULL DEFAULT '',
  reference         text NOT NULL DEFAULT '',
  runbook           text NOT NULL DEFAULT '',
  destinations      text[] NOT NULL DEFAULT '{}',
  skip_delivery     boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_rule_created ON alerts (rule_id, created_at DESC);

-- Which match groups fed which alert (samples kept for the analyst). No foreign key to
-- alerts: matches held below a rule's Threshold are linked to the window's deterministic
-- alert id before the alerts row exists (it appears when the threshold is reached).
CREATE TABLE alert_events (
  alert_id       text NOT NULL,
  match_id       text NOT NULL,
  match_count    bigint NOT NULL,
  sample_events  jsonb,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (alert_id, match_id)
);

-- Transactional outbox relayed to Kafka by the alert-forwarder.
CREATE TABLE outbox (
  id          bigserial PRIMARY KEY,
  topic       text NOT NULL,
  key         text NOT NULL,
  payload     bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Every delivery attempt; at most one success per (alert, output).
CREATE TABLE alert_deliveries (
  id           bigserial PRIMARY KEY,
  alert_id     text NOT NULL,
  output_id    text NOT NULL,
  attempt      integer NOT NULL,
  success      boolean NOT NULL,
  status_code  integer,
  error        text,
  duration_ms  integer,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX alert_deliveries_one_success ON alert_deliveries (alert_id, output_id) WHERE success;
CREATE INDEX alert_deliveries_alert ON alert_deliveries (alert_id);

CREATE TABLE settings (
  key         text PRIMARY KEY,
  value       jsonb NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
