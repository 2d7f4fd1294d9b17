/**
 * Progress and messages for long CLI work, on stderr so stdout stays data. Modes: a TTY
 * progress bar (cli-progress) with counts and ETA, plain lines for CI and pipes, quiet (warnings
 * only: they name rows the user must fix) and silent for tests.
 */
import { SingleBar, Presets } from 'cli-progress';

export type ReporterMode = 'tty' | 'plain' | 'quiet' | 'silent';

export interface Reporter {
  start(label: string, total: number): void;
  tick(done: number): void;
  stop(): void;
  info(message: string): void;
  warn(message: string): void;
}

export function defaultReporterMode(): ReporterMode {
  return process.stderr.isTTY ? 'tty' : 'plain';
}

export function createReporter(mode: ReporterMode = defaultReporterMode(), stream: NodeJS.WritableStream = process.stderr): Reporter {
  if (mode === 'silent') return { start() {}, tick() {}, stop() {}, info() {}, warn() {} };
  const write = (line: string) => stream.write(`${line}\n`);
  if (mode === 'quiet') return { start() {}, tick() {}, stop() {}, info() {}, warn: (message) => write(`warning: ${message}`) };
  if (mode === 'tty') {
    let bar: SingleBar | undefined;
    return {
      start(label, total) {
        bar = new SingleBar({ format: `${label} [{bar}] {value}/{total} {percentage}% | ETA {eta_formatted}`, stream }, Presets.shades_classic);
        bar.start(total, 0);
      },
      tick: (done) => bar?.update(done),
      stop: () => bar?.stop(),
      info: write,
      warn: (message) => write(`warning: ${message}`),
    };
  }
  // Plain: a line at start, about every 10% and at the end.
  let label = '';
  let total = 0;
  let lastDecile = -1;
  return {
    start(name, count) {
      label = name;
      total = count;
      lastDecile = -1;
      write(`${label}: 0/${total}`);
    },
    tick(done) {
      const decile = total === 0 ? 10 : Math.floor((done / total) * 10);
      if (decile > lastDecile && done > 0) {
        lastDecile = decile;
        write(`${label}: ${done}/${total}`);
      }
    },
    stop() {},
    info: write,
    warn: (message) => write(`warning: ${message}`),
  };
}
