// The pprof receiver's CPU window schedule: due on a monotonic clock at a phase of the wall clock, so a
// wall-clock step neither stops nor bursts the windows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CpuSchedule } from '../../../receivers/pprof/cpu.js';

describe('cpu window schedule clocks', () => {
  const EVERY = 60_000;
  it('keeps windows due every `every` after the wall clock steps back', () => {
    const schedule = new CpuSchedule('job|a', EVERY);
    let wall = 1_700_000_000_000;
    let mono = 5_000;
    const windows: number[] = [];
    for (let i = 0; i < 40; i++) {
      if (schedule.due(wall, mono)) windows.push(mono);
      if (i === 10) wall -= 3_600_000; // an hour back, once
      wall += 15_000;
      mono += 15_000;
    }
    // 40 ticks of 15s = 10 min: one window a minute, the step back notwithstanding.
    assert.ok(windows.length >= 9, `${windows.length} windows in 10 minutes`);
    for (let i = 1; i < windows.length; i++) assert.equal(windows[i] - windows[i - 1], EVERY);
  });

  it('does not run a window per missed cycle after the wall clock steps forward', () => {
    const schedule = new CpuSchedule('job|a', EVERY);
    let wall = 1_700_000_000_000;
    let mono = 5_000;
    const windows: number[] = [];
    for (let i = 0; i < 40; i++) {
      if (schedule.due(wall, mono)) windows.push(mono);
      if (i === 10) wall += 3_630_000; // an hour and half a window forward
      wall += 15_000;
      mono += 15_000;
    }
    for (let i = 1; i < windows.length; i++) assert.equal(windows[i] - windows[i - 1], EVERY);
  });

  it('first window at the target phase of the wall clock', () => {
    const schedule = new CpuSchedule('job|a', EVERY);
    const wall = 1_700_000_000_000;
    const mono = 77;
    let at = -1;
    for (let t = 0; t <= EVERY; t += 1000) if (at < 0 && schedule.due(wall + t, mono + t)) at = wall + t;
    const again = new CpuSchedule('job|a', EVERY);
    let at2 = -1;
    for (let t = 0; t <= EVERY; t += 1000) if (at2 < 0 && again.due(wall + t, 9_999_999 + t)) at2 = wall + t;
    assert.ok(at >= 0);
    assert.equal(at, at2, 'the phase does not depend on the monotonic clock');
  });
});
