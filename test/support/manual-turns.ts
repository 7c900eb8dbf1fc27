/**
 * The VMM's deferred device work (a later turn of its event loop), driven by hand in device tests: tasks wait
 * until the test runs a turn, so a test sees exactly what one turn's budget did.
 */
export class ManualTurns {
  readonly pending: Array<() => void> = [];
  turns = 0;

  /** What a transport's `deferWork` option gets. */
  readonly defer = (task: () => void): void => {
    this.pending.push(task);
  };

  /** Run the tasks deferred so far (one turn); tasks they defer wait for the next. Returns how many ran. */
  runTurn(): number {
    const tasks = this.pending.splice(0);
    if (tasks.length > 0) this.turns++;
    for (const task of tasks) task();
    return tasks.length;
  }

  /** Run turns until nothing is deferred; returns how many ran. Throws past `limit` (work that never ends). */
  runAll(limit = 100_000): number {
    let turns = 0;
    while (this.pending.length > 0) {
      if (++turns > limit) throw new Error(`deferred work still pending after ${limit} turns`);
      this.runTurn();
    }
    return turns;
  }
}
