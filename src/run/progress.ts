/**
 * The live progress line of long runs: env steps, steps/s, episodes, latest test success and
 * return, ETA. On a terminal it redraws one line; otherwise (CI, log files) it prints a line at
 * most every `intervalMs`.
 */
export interface ProgressState {
  tEnv: number;
  tMax: number;
  episodes: number;
  testSuccess?: number;
  testReturn?: number;
  loss?: number;
  epsilon?: number;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  return h > 0
    ? `${h}h${String(m).padStart(2, "0")}m`
    : m > 0
      ? `${m}m${String(s).padStart(2, "0")}s`
      : `${s}s`;
}

export class Progress {
  private readonly start = Date.now();
  private readonly startT: number;
  private lastPrint = 0;
  private readonly tty: boolean;

  constructor(
    startTEnv: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly intervalMs = 10_000,
    private readonly label = "",
  ) {
    this.startT = startTEnv;
    this.tty = Boolean(out.isTTY);
  }

  line(s: ProgressState): string {
    const elapsed = (Date.now() - this.start) / 1000;
    const rate = elapsed > 0 ? (s.tEnv - this.startT) / elapsed : 0;
    const eta = rate > 0 ? (s.tMax - s.tEnv) / rate : Number.NaN;
    const pct = ((100 * s.tEnv) / s.tMax).toFixed(1);
    const parts = [
      `${this.label}t_env ${s.tEnv.toLocaleString("en-US")}/${s.tMax.toLocaleString("en-US")} (${pct}%)`,
      `${rate.toFixed(1)} steps/s`,
      `${s.episodes} episodes`,
    ];
    if (s.testSuccess !== undefined)
      parts.push(`test success ${(100 * s.testSuccess).toFixed(1)}%`);
    if (s.testReturn !== undefined) parts.push(`test return ${s.testReturn.toFixed(2)}`);
    if (s.loss !== undefined) parts.push(`loss ${s.loss.toPrecision(3)}`);
    if (s.epsilon !== undefined) parts.push(`ε ${s.epsilon.toFixed(3)}`);
    parts.push(`elapsed ${formatDuration(elapsed)}`, `ETA ${formatDuration(eta)}`);
    return parts.join(" | ");
  }

  update(s: ProgressState, force = false): void {
    const now = Date.now();
    if (this.tty) {
      if (force || now - this.lastPrint >= 250) {
        this.out.write(`\r\x1b[K${this.line(s)}`);
        this.lastPrint = now;
      }
    } else if (force || now - this.lastPrint >= this.intervalMs) {
      this.out.write(`${this.line(s)}\n`);
      this.lastPrint = now;
    }
  }

  done(s: ProgressState): void {
    this.update(s, true);
    if (this.tty) this.out.write("\n");
  }
}
