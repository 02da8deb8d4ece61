import type { Logger } from '@nestjs/common';

/**
 * A background task run every `intervalMs`, one round at a time (a round still under way when
 * the next is due skips that one). A failed round is logged as a warning and the next goes on.
 * The timer does not keep the process alive; stop() waits for the round under way.
 */
export class Periodic {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;

  constructor(
    private readonly what: string,
    private readonly logger: Logger,
  ) {}

  /** Starts the rounds; an interval of 0 or less starts nothing. */
  start(intervalMs: number, round: () => Promise<unknown>): void {
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = round()
        .catch((err) => this.logger.warn(`${this.what} failed: ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => (this.running = undefined));
    }, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
