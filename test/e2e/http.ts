import { callerHeaders } from '@warden/platform';

/** A tiny HTTP client for the services' admin APIs, calling as the given identity. */
export interface Identity {
  readonly subject: string;
  readonly roles: readonly string[];
  readonly tenant: string;
}

export interface Reply<T = Record<string, unknown>> {
  readonly status: number;
  readonly contentType: string;
  readonly body: T;
}

export async function call<T = Record<string, unknown>>(
  base: string,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  who: Identity,
  body?: unknown,
): Promise<Reply<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(await callerHeaders(who)) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    body: (text ? JSON.parse(text) : {}) as T,
  };
}
