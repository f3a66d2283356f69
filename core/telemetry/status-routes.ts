/**
 * The status routes of the telemetry listener: `/` and `/status` (HTML), `/api/v1/targets` (Prometheus's
 * shape) and `/api/v1/status/pipeline` (pprofcol's own JSON). GET and HEAD only; no request body is read,
 * so a request costs nothing beyond the listener's own header limits. The listener's authentication (if
 * configured) runs before these handlers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage } from '../errors.js';
import { pageOptions, renderStatusPage } from './status-page.js';
import { collectStatus, targetsApi, type StatusSource } from './status.js';

/** Answers the request and returns true when the path is one of its routes; false leaves it to the caller. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

const PATHS = new Set(['/', '/status', '/api/v1/targets', '/api/v1/status/pipeline']);

export function statusRoutes(source: StatusSource): RouteHandler {
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://listener');
    const path = url.pathname;
    if (!PATHS.has(path)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return true;
    }
    try {
      const status = collectStatus(source);
      if (path === '/api/v1/targets') sendJson(req, res, targetsApi(status, url.searchParams));
      else if (path === '/api/v1/status/pipeline') sendJson(req, res, { status: 'success', data: status });
      else send(req, res, 'text/html; charset=utf-8', renderStatusPage(status, pageOptions(url.searchParams)));
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot collect the status: ${errorMessage(err)}\n`);
    }
    return true;
  };
}

function sendJson(req: IncomingMessage, res: ServerResponse, value: unknown): void {
  send(req, res, 'application/json', JSON.stringify(value));
}

function send(req: IncomingMessage, res: ServerResponse, contentType: string, body: string): void {
  // no-store: the page is a moment's state; a cached copy would look live and be stale.
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}
