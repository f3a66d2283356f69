#!/usr/bin/env node
/** The command line: run, validate, config, scrape, --version, and COMMAND --help. */
import './v8-flags.js'; // first: before any other module allocates
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { effectiveConfig } from '../core/config/effective.js';
import { loadConfigFile, type ResolvedConfig } from '../core/config/load.js';
import { ConfigError, errorMessage, formatIssue } from '../core/errors.js';
import { formatExposition } from '../core/exposition.js';
import { createLogger } from '../core/logger.js';
import { maskUrlsIn } from '../core/redact.js';
import type { Point } from '../core/model/metrics.js';
import { PROFILE_FAMILIES, type ProfileFamily } from '../core/model/profiles.js';
import { HttpScraper } from '../core/scrape/http.js';
import { makeTarget } from '../core/scrape/targets.js';
import { Service } from '../core/service.js';
import { parseDuration } from '../core/units.js';
import { VERSION } from '../core/version.js';
import { MetricsDeriver } from '../processors/pprof_metrics/derive.js';
import { DEFAULT_TOP_N } from '../processors/pprof_metrics/config.js';
import { DEFAULT_CPU_WINDOW_MS, DEFAULT_EXPVAR_PATH, DEFAULT_PATH_PREFIX, DEFAULT_PROFILES } from '../receivers/pprof/config.js';
import { scrapeCpu, scrapeTarget } from '../receivers/pprof/scrape.js';
import { registerBuiltins } from './builtins.js';

/** Each command's help: what `pprofcol COMMAND --help` prints (flags and an example). */
const COMMANDS: Record<string, { summary: string; usage: string; flags: string; example: string }> = {
  run: {
    summary: 'run the daemon',
    usage: 'pprofcol run --config FILE',
    flags: `  -c, --config FILE   the pipeline file (required)
  environment: PPROFCOL_LOG_LEVEL overrides service.telemetry.logs.level
  SIGINT/SIGTERM: stop scraping, flush what is queued within service.shutdown_timeout, exit 0`,
    example: 'pprofcol run --config pipeline.yaml',
  },
  validate: {
    summary: 'check a pipeline file',
    usage: 'pprofcol validate --config FILE',
    flags: `  -c, --config FILE   the pipeline file (required)
  exit 0 when valid (warnings on stderr); exit 1 with each error on stderr, one a line, as path: message`,
    example: 'pprofcol validate --config pipeline.yaml',
  },
  config: {
    summary: 'print the effective configuration',
    usage: 'pprofcol config --config FILE',
    flags: `  -c, --config FILE   the pipeline file (required)
  prints YAML on stdout: defaults filled in, \${env:VAR} expanded, secrets shown as <secret>;
  an invalid file: its errors on stderr as validate prints them, exit 1`,
    example: 'pprofcol config --config pipeline.yaml',
  },
  scrape: {
    summary: 'scrape one target once, print Prometheus text',
    usage: 'pprofcol scrape URL [--profiles a,b] [--timeout 10s] [--cpu-window 10s] [--top-n 10]',
    flags: `  URL                  the target's base, http://host:port (labels job="scrape", instance="host:port")
  --profiles LIST      families to derive, comma-separated (default ${DEFAULT_PROFILES.join(',')};
                       all: ${PROFILE_FAMILIES.join(', ')})
  --timeout DURATION   for the whole scrape (default 10s)
  --cpu-window DURATION  length of the CPU profile with --profiles cpu (default ${DEFAULT_CPU_WINDOW_MS / 1000}s)
  --top-n N            functions kept in a {function} breakdown, the rest summed as "other" (default ${DEFAULT_TOP_N})
  --path-prefix PATH   where the target serves pprof (default ${DEFAULT_PATH_PREFIX})
  --expvar-path PATH   where it serves expvar (default ${DEFAULT_EXPVAR_PATH})
  exit 0 when every profile was fetched and parsed, else 1 (the failures logged on stderr)`,
    example: 'pprofcol scrape http://127.0.0.1:6060 --profiles goroutine,heap,goroutine_functions',
  },
};

const USAGE = `usage:
${Object.values(COMMANDS).map((c) => `  ${c.usage}\n      ${c.summary}`).join('\n')}
  pprofcol COMMAND --help   that command's flags and an example
  pprofcol --version`;

function commandHelp(command: string): string {
  const c = COMMANDS[command];
  return `usage: ${c.usage}\n\n${c.summary}\n\nflags:\n${c.flags}\n\nexample:\n  ${c.example}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === 'version') {
    process.stdout.write(`pprofcol ${VERSION}\n`);
    return 0;
  }
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    const topic = rest[0];
    if (command === 'help' && topic !== undefined && topic in COMMANDS) process.stdout.write(commandHelp(topic));
    else process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command in COMMANDS && (rest.includes('--help') || rest.includes('-h'))) {
    process.stdout.write(commandHelp(command));
    return 0;
  }
  registerBuiltins();
  switch (command) {
    case 'run':
      return run(rest);
    case 'validate':
      return validate(rest);
    case 'config':
      return printConfig(rest);
    case 'scrape':
      return scrape(rest);
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}

function configArg(args: string[]): string {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, strict: true });
  if (values.config === undefined) throw new UsageError('--config FILE is required');
  return values.config;
}

class UsageError extends Error {}

/** One line on stderr, with any credentials in URLs masked (a config's endpoint may carry them). */
function say(line: string): void {
  process.stderr.write(`${maskUrlsIn(line)}\n`);
}

/** Loads the file, or prints its errors (one a line, as `path: message`) and answers undefined. */
async function loadOrReport(file: string): Promise<ResolvedConfig | undefined> {
  try {
    return await loadConfigFile(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const issue of err.issues) say(formatIssue(issue));
      return undefined;
    }
    throw err;
  }
}

async function validate(args: string[]): Promise<number> {
  const file = configArg(args);
  const config = await loadOrReport(file);
  if (config === undefined) return 1;
  for (const warning of config.warnings) say(`warning: ${warning}`);
  say(`${file}: valid`);
  return 0;
}

async function printConfig(args: string[]): Promise<number> {
  const config = await loadOrReport(configArg(args));
  if (config === undefined) return 1;
  for (const warning of config.warnings) say(`warning: ${warning}`);
  process.stdout.write(stringify(effectiveConfig(config), { lineWidth: 0 }));
  return 0;
}

async function run(args: string[]): Promise<number> {
  const config = await loadOrReport(configArg(args));
  if (config === undefined) return 1;
  const logs = config.service.telemetry.logs;
  const logger = createLogger(process.env.PPROFCOL_LOG_LEVEL ?? logs.level, logs.encoding);
  for (const warning of config.warnings) logger.warn(warning);
  const service = new Service(config, logger);
  guardProcess(logger);
  // Node's default for SIGHUP is to exit (129), losing the queue; operators send it by habit to reload.
  // Until reload exists the daemon runs on with the configuration it started with. Installed before
  // start, which may take seconds (a durable buffer opening), so no moment of the run exits on it.
  let hangups = 0;
  process.on('SIGHUP', () => {
    const context = { signal: 'SIGHUP', file: configArg(args), received: ++hangups };
    if (hangups === 1) logger.warn(context, 'SIGHUP: configuration reload is not implemented yet; running on with the configuration loaded at start (logged once)');
    else logger.debug(context, 'SIGHUP: reload is not implemented yet; ignored');
  });
  await service.start();
  return new Promise<number>((resolve) => {
    let signals = 0;
    const stop = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting at once');
        resolve(1);
        return;
      }
      logger.info({ signal }, 'stopping: no new scrapes, flushing what is queued');
      service.shutdown().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err: errorMessage(err) }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * A daemon must outlive one component's bug: a promise rejection nobody handled is logged (once per
 * distinct message, with its stack) and the process goes on, instead of Node's default exit.
 */
function guardProcess(logger: ReturnType<typeof createLogger>): void {
  const seen = new Set<string>();
  process.on('unhandledRejection', (reason: unknown) => {
    const message = errorMessage(reason);
    if (seen.has(message)) return;
    if (seen.size < 1000) seen.add(message);
    logger.error({ err: message, stack: reason instanceof Error ? reason.stack : undefined }, 'unhandled promise rejection (a bug: please report it); continuing');
  });
}

async function scrape(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      profiles: { type: 'string' },
      timeout: { type: 'string', default: '10s' },
      'path-prefix': { type: 'string', default: DEFAULT_PATH_PREFIX },
      'expvar-path': { type: 'string', default: DEFAULT_EXPVAR_PATH },
      'cpu-window': { type: 'string', default: `${DEFAULT_CPU_WINDOW_MS / 1000}s` },
      'top-n': { type: 'string', default: String(DEFAULT_TOP_N) },
    },
  });
  if (positionals.length !== 1) throw new UsageError('scrape takes exactly one URL (http://host:port)');
  let url: URL;
  try {
    url = new URL(positionals[0].includes('://') ? positionals[0] : `http://${positionals[0]}`);
  } catch {
    throw new UsageError(`"${positionals[0]}" is not a URL`);
  }
  const profiles = (values.profiles?.split(',').map((p) => p.trim()) ?? DEFAULT_PROFILES) as ProfileFamily[];
  const unknown = profiles.filter((p) => !PROFILE_FAMILIES.includes(p));
  if (unknown.length > 0) throw new UsageError(`--profiles: unknown ${unknown.join(', ')} (known: ${PROFILE_FAMILIES.join(', ')})`);
  const timeoutMs = parseDuration(values.timeout ?? '10s');
  if (timeoutMs === undefined) throw new UsageError(`--timeout: "${values.timeout}" is not a duration`);

  const cpuWindowMs = parseDuration(values['cpu-window'] ?? '10s');
  if (cpuWindowMs === undefined || cpuWindowMs < 1000) throw new UsageError(`--cpu-window: "${values['cpu-window']}" is not a duration of 1s or more`);
  const topN = Number(values['top-n']);
  if (!Number.isInteger(topN) || topN < 0) throw new UsageError(`--top-n: "${values['top-n']}" is not a count`);

  const scheme = url.protocol.replace(':', '');
  const target = makeTarget('scrape', scheme, url.host, {});
  const http = new HttpScraper({}, process.cwd());
  try {
    // One shot: every family is fetched now (no per-family intervals); the cpu window runs beside the rest.
    const settings = {
      pathPrefix: values['path-prefix'] ?? DEFAULT_PATH_PREFIX,
      expvarPath: values['expvar-path'] ?? DEFAULT_EXPVAR_PATH,
      profiles,
      timeoutMs,
      bodySizeLimit: 64 * 1024 * 1024,
    };
    const startedMs = Date.now();
    const [result, cpu] = await Promise.all([
      scrapeTarget(http, target, settings, startedMs),
      profiles.includes('cpu') ? scrapeCpu(http, target, settings, cpuWindowMs, startedMs) : undefined,
    ]);
    const points: Point[] = [];
    const deriver = new MetricsDeriver({ topN });
    // cpu first, so that the scrape's pprof_up accounts for it.
    if (cpu !== undefined) deriver.derive(cpu, points);
    deriver.derive(result, points);
    process.stdout.write(formatExposition(points, { timestamps: false }));
    const all = [...result.results, ...(cpu?.results ?? [])];
    const logger = createLogger();
    for (const r of all) {
      if (r.ok === false) logger.warn({ target: url.host, profile: r.family, reason: r.reason, error: r.message }, 'profile failed');
      if (r.ok === 'busy') logger.info({ target: url.host, profile: r.family, error: r.message }, 'busy: another CPU profile is running');
    }
    return all.every((r) => r.ok !== false) ? 0 : 1;
  } finally {
    await http.close();
  }
}

/** Exits once stdout has drained: process.exit alone can cut off piped output. */
function exitAfterFlush(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

main(process.argv.slice(2)).then(
  (code) => exitAfterFlush(code),
  (err: unknown) => {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      const command = process.argv[2];
      say(`${errorMessage(err)}\n${command !== undefined && command in COMMANDS ? commandHelp(command).trimEnd() : USAGE}`);
      exitAfterFlush(2);
      return;
    }
    say(`pprofcol: ${errorMessage(err)}`);
    exitAfterFlush(1);
  },
);
