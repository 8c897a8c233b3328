/** How many groups a wheel spreads its members over (at most one per millisecond of its period). */
const SLOTS = 16;

/**
 * Calls `run` for every member about once per `periodMs`, with one timer for all of them: the
 * members are spread over up to 16 groups (a random one each), and each tick of the timer runs one
 * group, so a period's work does not land in one tick and connections opened together do not act
 * together. A member's first call comes within one period of joining. This replaces a timer per
 * member (a Node timer and its closure are about 300 bytes: memory per idle connection). The
 * timer runs only while the wheel has members and never keeps the process alive. Single process.
 */
export class TimerWheel<T> {
  private readonly groups: Array<Set<T>>;
  private readonly tickMs: number;
  private next = 0;
  private members = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    periodMs: number,
    private readonly run: (member: T) => void,
  ) {
    const slots = Math.max(1, Math.min(SLOTS, Math.floor(periodMs)));
    // Rounded up: a member is never called more often than once per period.
    this.tickMs = Math.ceil(periodMs / slots);
    this.groups = Array.from({ length: slots }, () => new Set<T>());
  }

  /** Adds `member`; returns its group, which `remove` needs. */
  add(member: T): number {
    const group = Math.floor(Math.random() * this.groups.length);
    this.groups[group]!.add(member);
    if (++this.members === 1) this.timer = setInterval(this.tick, this.tickMs).unref();
    return group;
  }

  /** Removes `member` from `group` (what `add` returned); a member not there is ignored. */
  remove(member: T, group: number): void {
    if (!this.groups[group]?.delete(member)) return;
    if (--this.members === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Members now (tests and diagnostics). */
  get size(): number {
    return this.members;
  }

  private readonly tick = (): void => {
    const group = this.groups[this.next]!;
    this.next = (this.next + 1) % this.groups.length;
    // A copy: `run` may remove members (a heartbeat that closes its session).
    for (const member of [...group]) this.run(member);
  };
}
