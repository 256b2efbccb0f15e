import { Body, Controller, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { problemOf } from '@warden/platform';
import {
  AuthzenDecision,
  AuthzenEvaluation,
  authzenRequest,
  AuthenticatedAgent,
  evaluateBatch,
  parseBatch,
  toAuthzenDecision,
} from '@warden/gateway-domain';
import { GATEWAY_EDGE, GatewayEdge, header } from '../edge';
import {
  AUTHZEN_DECISION,
  AUTHZEN_EVALUATION,
  AUTHZEN_EVALUATIONS,
  AUTHZEN_EVALUATIONS_ANSWER,
  PROBLEM,
} from './schemas';
import { AUTH_HEADERS } from './gate.http.controller';

const apply =
  (...decorators: MethodDecorator[]): MethodDecorator =>
  (target, key, descriptor) => {
    for (const d of decorators) d(target, key, descriptor);
  };

/**
 * OpenID AuthZEN Authorization API 1.0, Access Evaluation API: the gate as a policy decision
 * point. Each evaluation is one gate request (libs/gateway/domain/src/authzen.ts has the mapping); `decision` is true only
 * on allow, and a request that gets no decision in time is `false`.
 */
@ApiTags('authzen')
@Controller('access/v1')
export class AuthzenHttpController {
  constructor(@Inject(GATEWAY_EDGE) private readonly edge: GatewayEdge) {}

  @Post('evaluation')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'AuthZEN 1.0 Access Evaluation: subject (the agent), action (the tool action), resource (the tool, model, memory, agent ' +
      'or step) and context (run id, request id, times, arguments, estimates, the request proof) as one gate request; ' +
      'answers {decision, context} with the decision token in context on allow.',
  })
  @ApiBody({ schema: AUTHZEN_EVALUATION })
  @apply(...AUTH_HEADERS)
  @ApiResponse({ status: 200, description: 'the decision', schema: AUTHZEN_DECISION })
  @ApiResponse({ status: 400, description: 'a bad request: problem+json naming the member at fault', schema: PROBLEM })
  @ApiResponse({ status: 401, description: 'no, a bad or an expired agent token or DPoP proof', schema: PROBLEM })
  async evaluation(@Req() req: Request, @Body() body: unknown): Promise<AuthzenDecision> {
    const agent = this.edge.authenticate(req);
    return this.evaluate(body as AuthzenEvaluation, agent, req, '');
  }

  @Post('evaluations')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'AuthZEN 1.0 Access Evaluations: several evaluations in one call, each a gate request; top-level subject, action, ' +
      'resource and context are defaults each evaluation may replace. options.evaluations_semantic: execute_all (default, ' +
      'in parallel), deny_on_first_deny or permit_on_first_permit (in order, stopping early). An evaluation that cannot be ' +
      'asked is decision false with context.error.',
  })
  @ApiBody({ schema: AUTHZEN_EVALUATIONS })
  @apply(...AUTH_HEADERS)
  @ApiResponse({ status: 200, description: 'the decisions, in order', schema: AUTHZEN_EVALUATIONS_ANSWER })
  @ApiResponse({ status: 400, description: 'a bad batch: problem+json naming the member at fault', schema: PROBLEM })
  @ApiResponse({ status: 401, description: 'no, a bad or an expired agent token or DPoP proof', schema: PROBLEM })
  async evaluations(
    @Req() req: Request,
    @Body() body: unknown,
  ): Promise<{ evaluations: AuthzenDecision[] } | AuthzenDecision> {
    const agent = this.edge.authenticate(req);
    return evaluateBatch(
      parseBatch(body),
      (e, at) => this.evaluate(e, agent, req, at),
      (error) => problemOf(error).status,
    );
  }

  private async evaluate(
    e: AuthzenEvaluation,
    agent: AuthenticatedAgent,
    req: Request,
    at: string,
  ): Promise<AuthzenDecision> {
    const request = authzenRequest(e, agent, this.edge.gateway.rules, at);
    return toAuthzenDecision(await this.edge.gateway.gate(request, { traceparent: header(req, 'traceparent') }));
  }
}
