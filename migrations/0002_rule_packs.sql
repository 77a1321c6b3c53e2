-- Panther detection packs stored by `ocelot rules upload` (versioned) and loaded by the
-- rules-engine: rules (kind 'python': body = the .yml metadata, python = the rule's
-- file), data models and global helpers, each tagged with its pack, its path inside the
-- pack (origin: where the .yml was; filename: the Python file next to it) and a digest
-- of its content so an unchanged upload creates no new version. Every version is kept
-- in pack_item_versions.

CREATE TABLE packs (
  id          text PRIMARY KEY,
  version     bigint NOT NULL DEFAULT 1,
  digest      text NOT NULL,
  items       integer NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE rules
  ADD COLUMN pack_id   text REFERENCES packs(id) ON DELETE CASCADE,
  ADD COLUMN origin    text,
  ADD COLUMN filename  text,
  ADD COLUMN python    text,
  ADD COLUMN digest    text;

CREATE TABLE data_models (
  id          text PRIMARY KEY,
  version     bigint NOT NULL DEFAULT 1,
  pack_id     text REFERENCES packs(id) ON DELETE CASCADE,
  origin      text NOT NULL,
  filename    text,
  body        text NOT NULL,
  python      text,
  digest      text NOT NULL,
  enabled     boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE global_helpers (
  id          text PRIMARY KEY,
  version     bigint NOT NULL DEFAULT 1,
  pack_id     text REFERENCES packs(id) ON DELETE CASCADE,
  origin      text NOT NULL,
  filename    text,
  body        text NOT NULL,
  python      text,
  digest      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pack_item_versions (
  item_type   text NOT NULL CHECK (item_type IN ('rule', 'data_model', 'global')),
  id          text NOT NULL,
  version     bigint NOT NULL,
  pack_id     text NOT NULL,
  origin      text NOT NULL,
  filename    text,
  body        text NOT NULL,
  python      text,
  digest      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (item_type, id, version)
);
