import { MigrationInterface, QueryRunner } from 'typeorm';
import { checkpointTableSql } from '@warden/platform';

export class Init1763700000000 implements MigrationInterface {
  name = 'Init1763700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(checkpointTableSql('trace'));
    await q.query(`CREATE TABLE trace.requests (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      agent_id text NOT NULL,
      run_id text NOT NULL,
      step_id text,
      idempotency_key text,
      attempt integer,
      action_kind text,
      tool text,
      action text,
      requested_at timestamptz,
      deadline_at timestamptz,
      request jsonb,
      request_source text,
      reservation_id text,
      reservation jsonb,
      reservation_status text,
      settlement jsonb,
      decision jsonb,
      verdict text,
      reason text,
      decided_at timestamptz,
      decision_latency_ms double precision,
      decisions_seen integer NOT NULL,
      approval jsonb,
      approval_status text,
      outcome jsonb,
      outcome_status text,
      actual_tokens double precision,
      cost_micros double precision,
      updated_at timestamptz
    )`);
    await q.query(`CREATE INDEX requests_run_timeline ON trace.requests (tenant_id, run_id, agent_id, requested_at)`);
    await q.query(`CREATE TABLE trace.runs (
      id text PRIMARY KEY,
      tenant_id text NOT NULL,
      agent_id text NOT NULL,
      run_id text NOT NULL,
      first_seen_at timestamptz,
      last_seen_at timestamptz,
      requests integer NOT NULL,
      allowed integer NOT NULL,
      denied integer NOT NULL,
      pending integer NOT NULL,
      expired integer NOT NULL,
      already_completed integer NOT NULL,
      tokens double precision NOT NULL,
      cost_micros double precision NOT NULL,
      last_verdict text,
      last_request_id text,
      last_decided_at timestamptz,
      halted boolean NOT NULL,
      request_states jsonb NOT NULL
    )`);
    await q.query(`CREATE INDEX runs_by_run ON trace.runs (tenant_id, run_id, agent_id)`);
    await q.query(`CREATE INDEX runs_by_activity ON trace.runs (tenant_id, last_seen_at DESC)`);
    await q.query(`CREATE INDEX runs_by_agent ON trace.runs (tenant_id, agent_id, last_seen_at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE trace.runs`);
    await q.query(`DROP TABLE trace.requests`);
    await q.query(`DROP TABLE trace.projection_checkpoints`);
  }
}
