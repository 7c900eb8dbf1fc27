import { describe, expect, test } from "bun:test";
import { DeferredWork } from "./deferred-work.ts";

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("DeferredWork", () => {
  test("a task runs in a later turn, never at once; what a turn defers waits for the next turn", async () => {
    const work = new DeferredWork();
    const ran: string[] = [];
    work.defer(() => {
      ran.push("a");
      work.defer(() => ran.push("c"));
    });
    work.defer(() => ran.push("b"));
    expect(ran).toEqual([]);
    await nextTurn();
    expect(ran).toEqual(["a", "b"]);
    await nextTurn();
    expect(ran).toEqual(["a", "b", "c"]);
    expect(work.stats).toEqual({ turns: 2, tasks: 3 });
  });

  test("while the gate says wait (a congested console), nothing runs; then the turn runs", async () => {
    let open: (() => void) | undefined;
    let waiting: Promise<void> | undefined = new Promise<void>((resolve) => {
      open = resolve;
    });
    const work = new DeferredWork(() => waiting);
    const ran: number[] = [];
    work.defer(() => ran.push(1));
    for (let i = 0; i < 5; i++) await nextTurn();
    expect(ran).toEqual([]);
    waiting = undefined;
    open?.();
    await nextTurn();
    expect(ran).toEqual([1]);
  });

  test("close drops pending tasks and refuses new ones (the VM was released)", async () => {
    const work = new DeferredWork();
    const ran: number[] = [];
    work.defer(() => ran.push(1));
    work.close();
    work.defer(() => ran.push(2));
    await nextTurn();
    await nextTurn();
    expect(ran).toEqual([]);
    expect(work.pending).toBe(0);
  });
});
