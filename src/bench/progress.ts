import cliProgress from 'cli-progress';

/** Progress of a suite run, in guest requests (the unit every case has). */
export interface Progress {
  startCase(index: number, total: number, caseId: string): void;
  advance(requestsDoneInCase: number): void;
  finishCase(caseRequests: number): void;
  stop(): void;
}

/**
 * A bar with ETA on stderr when stderr is a terminal (redrawn at most 5 times a second, so it
 * never slows the simulation); silent otherwise, leaving stdout to machine output.
 */
export function createProgress(
  totalRequests: number,
  enabled = process.stderr.isTTY === true,
): Progress {
  if (!enabled) {
    return { startCase() {}, advance() {}, finishCase() {}, stop() {} };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: ' {bar} {percentage}% | case {caseIndex}/{caseTotal} {caseId} | ETA {eta_formatted}',
      fps: 5,
      etaBuffer: 200,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 24,
      // Forced on (--progress always) into a log: a plain line every 5 s, like fio --eta-newline.
      noTTYOutput: process.stderr.isTTY !== true,
      notTTYSchedule: 5000,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(1, totalRequests), 0, { caseIndex: 0, caseTotal: 0, caseId: '' });
  let base = 0;
  return {
    startCase(index, total, caseId) {
      bar.update(base, { caseIndex: index + 1, caseTotal: total, caseId: caseId.slice(0, 60) });
    },
    advance(done) {
      bar.update(base + done);
    },
    finishCase(caseRequests) {
      base += caseRequests;
      bar.update(base);
    },
    stop() {
      bar.stop();
    },
  };
}
