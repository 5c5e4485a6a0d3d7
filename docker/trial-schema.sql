-- Sample table for the docker compose trial (the seed's audit-log table). PostgreSQL's image
-- runs this once, when its data volume is first created.
CREATE TABLE IF NOT EXISTS public.nis2_audit_log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  actor       text NOT NULL,
  action      text NOT NULL,
  resource    text NOT NULL,
  outcome     text NOT NULL,
  details     jsonb NOT NULL DEFAULT '{}'
);
