import { Body, Controller, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { GateRequested, GateRequestedSchema } from '@warden/contracts';
import { decodeBody, decodeOutcome, GateAnswer } from '@warden/gateway-domain';
import { GATEWAY_EDGE, GatewayEdge, header, preferWaitMs } from '../edge';
import { GATE_ANSWER, GATE_REQUEST, OUTCOME, OUTCOME_ACCEPTED, PROBLEM } from './schemas';

export const AUTH_HEADERS = [
  ApiHeader({ name: 'Authorization', required: true, description: 'DPoP <agent token> (docs/protocol.md, Identity)' }),
  ApiHeader({
    name: 'DPoP',
    required: true,
    description: 'a DPoP proof (RFC 9449) for this call: htm POST, htu the URL called, ath the token hash, fresh jti',
  }),
];
const PROBLEMS = [
  ApiResponse({ status: 400, description: 'a bad body: problem+json naming the field', schema: PROBLEM }),
  ApiResponse({ status: 401, description: 'no, a bad or an expired agent token or DPoP proof', schema: PROBLEM }),
  ApiResponse({ status: 403, description: "the body names another agent than the token's", schema: PROBLEM }),
];
const apply =
  (...decorators: MethodDecorator[]): MethodDecorator =>
  (target, key, descriptor) => {
    for (const d of decorators) d(target, key, descriptor);
  };

@ApiTags('gate')
@Controller('v1')
export class GateHttpController {
  constructor(@Inject(GATEWAY_EDGE) private readonly edge: GatewayEdge) {}

  @Post('gate')
  @HttpCode(200)
  @ApiOperation({
    summary:
      "Asks the gate: publishes the GateRequested to gate.requests for the token's agent and answers with its decision, " +
      "waiting up to the request's deadline (capped by GATEWAY_MAX_WAIT_MS). No decision in time is a deny " +
      '(timedOut true), never an allow. With Prefer: wait=<s>, a pending_approval is waited past for the final decision.',
  })
  @ApiBody({ schema: GATE_REQUEST })
  @ApiHeader({
    name: 'Warden-Request-Proof',
    required: false,
    description: 'the request proof (docs/protocol.md), unless in the body',
  })
  @ApiHeader({
    name: 'Prefer',
    required: false,
    description: 'wait=<seconds>: wait for the final decision after pending_approval',
  })
  @ApiHeader({ name: 'traceparent', required: false, description: 'W3C trace context, passed on to the gate' })
  @apply(...AUTH_HEADERS, ...PROBLEMS)
  @ApiResponse({ status: 200, description: 'the decision (deny included)', schema: GATE_ANSWER })
  async gate(@Req() req: Request, @Body() body: unknown): Promise<GateAnswer> {
    const agent = this.edge.authenticate(req);
    const sent = decodeBody<GateRequested>(GateRequestedSchema, body);
    const request = this.edge.gateway.prepareRequest(sent, agent, header(req, 'warden-request-proof'));
    return this.edge.gateway.gate(request, {
      traceparent: header(req, 'traceparent'),
      approvalWaitMs: preferWaitMs(req),
    });
  }

  @Post('outcomes')
  @HttpCode(202)
  @ApiOperation({
    summary:
      "Reports a step's outcome: a StepCompleted or StepFailed with its outcome proof, published to gate.outcomes for the " +
      "token's agent. 202 once it is in Kafka; the budget settles it (an outcome without a valid proof changes nothing).",
  })
  @ApiBody({ schema: OUTCOME })
  @ApiHeader({ name: 'Warden-Outcome-Proof', required: false, description: 'the outcome proof, unless in the body' })
  @apply(...AUTH_HEADERS, ...PROBLEMS)
  @ApiResponse({ status: 202, description: 'published', schema: OUTCOME_ACCEPTED })
  async outcome(
    @Req() req: Request,
    @Body() body: unknown,
  ): Promise<{ accepted: true; requestId: string; eventId: string }> {
    const agent = this.edge.authenticate(req);
    const outcome = decodeOutcome(body);
    const { eventId } = await this.edge.gateway.outcome(
      outcome,
      agent,
      header(req, 'warden-outcome-proof'),
      header(req, 'traceparent'),
    );
    return { accepted: true, requestId: outcome.requestId, eventId };
  }
}
