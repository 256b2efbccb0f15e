import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import { DomainError } from '@warden/kernel';
import type { Request, Response } from 'express';
import { Problem, problemOf } from '../http/problem';
import { Logger } from '../observability/logger';

/** Every HTTP error leaves as application/problem+json. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    let problem: Problem;
    if (error instanceof DomainError) {
      problem = problemOf(error, req.url);
    } else if (error instanceof HttpException) {
      const status = error.getStatus();
      const body = error.getResponse();
      const detail = typeof body === 'string' ? body : ((body as { message?: unknown }).message ?? error.message);
      problem = {
        type: status === 400 ? 'https://warden.dev/problems/invalid-body' : 'about:blank',
        title: error.name.replace(/Exception$/, ''),
        status,
        detail: Array.isArray(detail) ? detail.join('; ') : String(detail),
        instance: req.url,
      };
    } else {
      this.logger.error('unhandled error', { error, path: req.url });
      problem = {
        type: 'about:blank',
        title: 'Internal Server Error',
        status: 500,
        detail: 'an internal error occurred',
        instance: req.url,
      };
    }
    res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
  }
}
