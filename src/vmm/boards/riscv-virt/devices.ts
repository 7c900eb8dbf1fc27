/**
 * The devices of the riscv-virt boards, at the bases and PLIC sources `layout.ts` gives: the PLIC (contexts wired
 * to the harts' external-interrupt lines), the NS16550A UART, the SiFive test finisher, the Goldfish RTC (the wall
 * clock, as on QEMU's virt), axvisor's test device and boot timer, the CLINT (bare board only: VS guests use SBI
 * and Sstc timers), and the virtio-mmio windows (with a virtio-rng by default). Device models stay pure; this file
 * picks their bases and wires their interrupt lines.
 */

import { IRQ_M_EXT, IRQ_M_SOFT, IRQ_M_TIMER, IRQ_S_EXT } from "../../../arch/riscv64/traps.ts";
import { rangesOverlap } from "../../../common/ranges.ts";
import { BootTimer } from "../../../devices/boot-timer.ts";
import { Clint } from "../../../devices/clint.ts";
import { GoldfishRtc } from "../../../devices/goldfish-rtc.ts";
import { Plic } from "../../../devices/plic.ts";
import { SifiveTest } from "../../../devices/sifive-test.ts";
import { TestDevice } from "../../../devices/test-device.ts";
import type { IrqLine } from "../../../devices/types.ts";
import { Uart16550 } from "../../../devices/uart16550.ts";
import { EmptyVirtioMmioSlot } from "../../../devices/virtio/empty-slot.ts";
import { type VirtioDevice, VirtioMmioTransport, VirtioRng } from "../../../devices/virtio/index.ts";
import type { BoardServices } from "../../board.ts";
import type { TimerHandle } from "../../timer.ts";
import { placeVirtioDevices } from "../virtio-placement.ts";
import { plicContext, plicSize, RISCV_VIRT, virtioMmioWindow } from "./layout.ts";

export type RiscvBoardKind = "hypervisor" | "bare";

/** A virtio-mmio window as the device tree lists it. */
export interface VirtioMmioNode {
  readonly base: number;
  readonly size: number;
  readonly irq: number;
}

export interface RiscvVirtDevices {
  readonly uart: Uart16550;
  /** The CLINT of the bare board (undefined on the hypervisor board). */
  readonly clint: Clint | undefined;
  readonly rtc: GoldfishRtc;
  /** Every virtio-mmio window (layout windows, empty ones included, then any placed elsewhere). */
  readonly virtioNodes: readonly VirtioMmioNode[];
}

export interface DeviceOptions {
  readonly kind: RiscvBoardKind;
  /** The board's name, for messages. */
  readonly boardName: string;
  /** When the board was created (performance.now()), for the boot timer's report. */
  readonly createdAt: number;
  /** The UART's RX FIFO has room again: feed it waiting host input. */
  readonly onUartInputSpace: () => void;
}

/** Create the board's devices on the MMIO bus and wire their interrupt lines. */
export function attachDevices(s: BoardServices, options: DeviceOptions): RiscvVirtDevices {
  const harts = s.vcpuCount;
  const bare = options.kind === "bare";

  // PLIC: context 2h is hart h's M-mode, 2h+1 its S-mode (QEMU virt numbering). A VS guest has no M-mode: its
  // M contexts exist (so guests written for QEMU find the same addresses) but drive nothing.
  const contexts: IrqLine[] = [];
  for (let hart = 0; hart < harts; hart++) {
    contexts[plicContext(hart, "M")] = bare
      ? cpuInterruptLine(s, hart, IRQ_M_EXT)
      : { set: () => undefined, trigger: () => undefined };
    contexts[plicContext(hart, "S")] = cpuInterruptLine(s, hart, IRQ_S_EXT);
  }
  const plic = new Plic({ sources: RISCV_VIRT.PLIC_NUM_SOURCES - 1, contexts });
  s.mmio.insert(RISCV_VIRT.PLIC_BASE, plicSize(harts), plic);

  const uart = new Uart16550({
    sink: (bytes) => s.console.write(bytes),
    irq: plic.sourceLine(RISCV_VIRT.UART0_IRQ),
    onInputSpace: options.onUartInputSpace,
  });
  s.mmio.insert(RISCV_VIRT.UART0_BASE, RISCV_VIRT.UART0_SIZE, uart);

  s.mmio.insert(
    RISCV_VIRT.SIFIVE_TEST_BASE,
    RISCV_VIRT.SIFIVE_TEST_SIZE,
    new SifiveTest({
      onFinish: ({ action, code }) =>
        s.requestSystemDown(
          action === "reset" ? "reboot" : "poweroff",
          action === "fail" ? Math.max(1, code) : code,
          `sifive,test finisher: ${action} (code ${code})`,
        ),
    }),
  );
  const rtc = new GoldfishRtc({ irq: plic.sourceLine(RISCV_VIRT.GOLDFISH_RTC_IRQ) });
  s.mmio.insert(RISCV_VIRT.GOLDFISH_RTC_BASE, RISCV_VIRT.GOLDFISH_RTC_SIZE, rtc);
  s.mmio.insert(RISCV_VIRT.TEST_DEVICE_BASE, RISCV_VIRT.TEST_DEVICE_SIZE, new TestDevice());
  s.mmio.insert(
    RISCV_VIRT.BOOT_TIMER_BASE,
    RISCV_VIRT.BOOT_TIMER_SIZE,
    new BootTimer({
      onBootComplete: () => {
        const ms = performance.now() - options.createdAt;
        s.log.info(`${s.label}: Guest-boot-time = ${Math.round(ms * 1000)} us ${ms.toFixed(0)} ms`);
      },
    }),
  );

  let clint: Clint | undefined;
  if (bare) {
    clint = new Clint({
      harts: Array.from({ length: harts }, (_, hart) => ({
        msip: cpuInterruptLine(s, hart, IRQ_M_SOFT),
        mtip: cpuInterruptLine(s, hart, IRQ_M_TIMER),
      })),
      now: () => s.now(),
    });
    s.mmio.insert(RISCV_VIRT.CLINT_BASE, RISCV_VIRT.CLINT_SIZE, clint);
  }

  const virtioNodes = attachVirtio(s, plic, options.boardName);
  return { uart, clint, rtc, virtioNodes };
}

/** An interrupt line into hart `hart`'s interrupt-pending bit `cause`, waking the hart on a rising level. */
function cpuInterruptLine(s: BoardServices, hart: number, cause: number): IrqLine {
  const set = (level: boolean): void => {
    s.vcpu(hart).arch.setInterruptLevel(cause, level);
    if (level) s.wakeVcpu(hart);
  };
  return {
    set,
    trigger: () => {
      set(true);
      set(false);
    },
  };
}

/**
 * virtio-mmio: the devices the config asks for, placed as on every board (../virtio-placement.ts) on PLIC sources;
 * unless the config has a virtio-rng entry or `[devices] rng = false`, a virtio-rng goes in the highest layout
 * window whose range and PLIC source no other device uses (Linux's /dev/hwrng; none if every window is taken);
 * every window left over holds an empty slot (DeviceID 0), so the device tree can list all of them as QEMU does.
 * Returns the windows for the device tree.
 */
function attachVirtio(s: BoardServices, plic: Plic, boardName: string): VirtioMmioNode[] {
  const placed = new Map<number, { irq: number; size: number }>();
  const place = (base: number, size: number, irq: number, device: VirtioDevice<unknown>): void => {
    const transport = new VirtioMmioTransport({
      device,
      memory: s.memory,
      irq: plic.sourceLine(irq),
      deferWork: s.deferWork,
    });
    s.mmio.insert(base, size, transport);
    placed.set(base, { irq, size });
  };
  placeVirtioDevices(s, {
    boardName,
    windows: Array.from({ length: RISCV_VIRT.VIRTIO_MMIO_COUNT }, (_, i) => virtioMmioWindow(i)),
    place: (_what, slot, device) => place(slot.base, slot.size, slot.irq, device),
  });
  const explicitRng = s.config.devices.emuDevices.some((d) => d.emuType === "virtio-rng");
  if (s.config.devices.rng && !explicitRng) {
    const window = freeVirtioWindow(s, placed);
    if (window === undefined) {
      s.log.warn(`${s.label}: no free virtio-mmio window for the default virtio-rng; set [devices] rng = false`);
    } else {
      place(window.base, window.size, window.irq, new VirtioRng());
    }
  }
  const nodes: VirtioMmioNode[] = [];
  for (let i = 0; i < RISCV_VIRT.VIRTIO_MMIO_COUNT; i++) {
    const window = virtioMmioWindow(i);
    if (!placed.has(window.base)) s.mmio.insert(window.base, window.size, new EmptyVirtioMmioSlot());
    nodes.push(window);
  }
  for (const [base, { irq, size }] of placed) {
    if (!nodes.some((w) => w.base === base)) nodes.push({ base, size, irq });
  }
  return nodes;
}

/**
 * The highest layout window whose range overlaps no device on the bus and whose PLIC source no configured
 * device uses (an `emu_devices` entry may sit outside the windows but still take a window's source).
 */
function freeVirtioWindow(
  s: BoardServices,
  placed: ReadonlyMap<number, { irq: number; size: number }>,
): VirtioMmioNode | undefined {
  const usedIrqs = new Set([...placed.values()].map((p) => p.irq));
  for (const device of s.config.devices.emuDevices) usedIrqs.add(device.irqId);
  for (let i = RISCV_VIRT.VIRTIO_MMIO_COUNT - 1; i >= 0; i--) {
    const window = virtioMmioWindow(i);
    if (usedIrqs.has(window.irq)) continue;
    if (s.mmio.entries().some((e) => rangesOverlap(e.base, e.length, window.base, window.size))) continue;
    return window;
  }
  return undefined;
}

/**
 * The bare board's CLINT on the VMM's timer wheel: between vCPU runs, bring the MTIP lines up to date (a deadline
 * may have passed while a hart ran) and keep one wheel timer at the next change (writes to mtimecmp move it).
 */
export class ClintTimer {
  readonly #clint: Clint;
  readonly #s: BoardServices;
  #timer: TimerHandle | undefined;
  #deadline: number | undefined;

  constructor(clint: Clint, services: BoardServices) {
    this.#clint = clint;
    this.#s = services;
  }

  poll(): void {
    const clint = this.#clint;
    clint.tick();
    const deadline = clint.nextDeadline();
    if (deadline === this.#deadline) return;
    const timers = this.#s.timers;
    timers.cancel(this.#timer);
    this.#deadline = deadline;
    this.#timer =
      deadline === undefined
        ? undefined
        : timers.add(deadline, () => {
            this.#timer = undefined;
            this.#deadline = undefined;
            clint.tick();
          });
  }
}

/**
 * The Goldfish RTC's alarm on the VMM's timer wheel: between vCPU runs, fire an alarm that came due and keep one
 * wheel timer at the armed alarm (converted from the RTC's wall-clock nanoseconds to VM timebase ticks).
 */
export class RtcAlarmTimer {
  readonly #rtc: GoldfishRtc;
  readonly #s: BoardServices;
  #timer: TimerHandle | undefined;
  #alarm: bigint | undefined;

  constructor(rtc: GoldfishRtc, services: BoardServices) {
    this.#rtc = rtc;
    this.#s = services;
  }

  poll(): void {
    const rtc = this.#rtc;
    rtc.tick();
    const alarm = rtc.alarmDeadline();
    if (alarm === this.#alarm) return;
    const timers = this.#s.timers;
    timers.cancel(this.#timer);
    this.#alarm = alarm;
    this.#timer = undefined;
    if (alarm === undefined) return;
    const aheadNs = Number(alarm - rtc.now());
    const ticks = Math.max(0, Math.ceil((aheadNs * this.#s.halVm.timebaseHz) / 1e9));
    this.#timer = timers.add(this.#s.now() + ticks, () => {
      this.#timer = undefined;
      this.#alarm = undefined;
      rtc.tick();
      // Fired early by rounding: the next poll re-arms it.
    });
  }
}
