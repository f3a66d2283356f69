// Child processes of the benchmarks that run the daemon and the replay (many-targets, soak): the first
// stdout line a child prints (its ports), a daemon's telemetry coming up, and a stop that cannot hang.
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** The child's first line on stdout; rejects when it exits first or prints nothing within `timeoutMs`. */
export function waitLine(child: ChildProcess, what: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${what}: no output within ${timeoutMs} ms`)), timeoutMs);
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl === -1) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve(buf.slice(0, nl));
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}`)));
  });
}

/** Waits until a daemon's telemetry answers 200 (a minute at most); fails at once if the daemon exits. */
export async function waitUp(telemetry: string, proc: ChildProcess, logFile: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(telemetry, { signal: AbortSignal.timeout(20_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (i > 600 || proc.exitCode !== null) throw new Error(`daemon did not come up; see ${logFile}`);
    await sleep(100);
  }
}

/** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the child has exited. */
export async function stopChild(child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}
