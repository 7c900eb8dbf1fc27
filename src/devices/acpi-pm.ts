/**
 * ACPI fixed-hardware power management: the PM1a event block (PM1_STS, PM1_EN) and the PM1a control block
 * (PM1_CNT) of ACPI 6.4 section 4.8.3, the registers an OS uses to enter a sleep state (S5 is soft-off, what
 * `poweroff` asks for), to see fixed events (the power button) and to get the SCI.
 *
 * Window: the event block (PM1_EVT_LEN = 4 bytes: PM1_STS at 0, PM1_EN at 2) followed by the control block
 * (PM1_CNT_LEN = 2 bytes at 4), 6 bytes in all; the board puts the window where the FADT's PM1a_EVT_BLK says and
 * PM1a_CNT_BLK = PM1a_EVT_BLK + 4. Accesses of 1, 2 or 4 bytes work at any offset inside the window: each byte is
 * handled as its register's byte lane (ACPICA uses 16-bit accesses; byte lanes keep SLP_TYP and SLP_EN, both in the
 * control register's high byte, in one write).
 *
 * What is modelled:
 * - PM1_STS: write 1 to clear. The one event this machine has is the power button (`pressPowerButton`, PWRBTN_STS);
 *   the other status bits exist and clear, but nothing sets them (no PM timer, no RTC alarm, no wake: the board
 *   declares none of them in the FADT).
 * - PM1_EN: every enable bit the spec defines is read/write (ACPICA checks that GBL_EN sticks before it trusts
 *   the global lock hardware).
 * - The SCI (an injected level line): high while a status bit is set together with its enable bit.
 * - PM1_CNT: SCI_EN reads 1 always (the FADT has no SMI_CMD port, so the platform is in ACPI mode from reset);
 *   BM_RLD and SLP_TYP are read/write; GBL_RLS and SLP_EN are write-only and read 0. Writing SLP_EN = 1 asks for
 *   sleep state SLP_TYP: `onSleep(slpTyp)`. Which SLP_TYP value means which state is the platform's choice (the
 *   DSDT's `\_Sx` packages say it); the board decides what to do with it.
 */

import type { BusDevice, DeviceStats, IrqLine, Snapshottable } from "./types.ts";

/** PM1_EVT_LEN: PM1_STS and PM1_EN, 2 bytes each. */
export const ACPI_PM1_EVT_LEN = 4;
/** PM1_CNT_LEN. */
export const ACPI_PM1_CNT_LEN = 2;
export const ACPI_PM1_STS_OFFSET = 0;
export const ACPI_PM1_EN_OFFSET = 2;
export const ACPI_PM1_CNT_OFFSET = ACPI_PM1_EVT_LEN;
export const ACPI_PM1_WINDOW_SIZE = ACPI_PM1_EVT_LEN + ACPI_PM1_CNT_LEN;

// PM1 status register bits (ACPI 6.4 table 4.16).
export const ACPI_PM1_TMR_STS = 1 << 0;
export const ACPI_PM1_BM_STS = 1 << 4;
export const ACPI_PM1_GBL_STS = 1 << 5;
export const ACPI_PM1_PWRBTN_STS = 1 << 8;
export const ACPI_PM1_SLPBTN_STS = 1 << 9;
export const ACPI_PM1_RTC_STS = 1 << 10;
export const ACPI_PM1_PCIEXP_WAKE_STS = 1 << 14;
export const ACPI_PM1_WAK_STS = 1 << 15;
const PM1_STS_DEFINED =
  ACPI_PM1_TMR_STS |
  ACPI_PM1_BM_STS |
  ACPI_PM1_GBL_STS |
  ACPI_PM1_PWRBTN_STS |
  ACPI_PM1_SLPBTN_STS |
  ACPI_PM1_RTC_STS |
  ACPI_PM1_PCIEXP_WAKE_STS |
  ACPI_PM1_WAK_STS;

// PM1 enable register bits (table 4.17): each sits at its status bit.
export const ACPI_PM1_TMR_EN = 1 << 0;
export const ACPI_PM1_GBL_EN = 1 << 5;
export const ACPI_PM1_PWRBTN_EN = 1 << 8;
export const ACPI_PM1_SLPBTN_EN = 1 << 9;
export const ACPI_PM1_RTC_EN = 1 << 10;
export const ACPI_PM1_PCIEXP_WAKE_DIS = 1 << 14;
const PM1_EN_DEFINED =
  ACPI_PM1_TMR_EN |
  ACPI_PM1_GBL_EN |
  ACPI_PM1_PWRBTN_EN |
  ACPI_PM1_SLPBTN_EN |
  ACPI_PM1_RTC_EN |
  ACPI_PM1_PCIEXP_WAKE_DIS;
/** The status/enable pairs that raise the SCI (PCIEXP_WAKE and WAK only wake the machine). */
const PM1_SCI_EVENTS = ACPI_PM1_TMR_EN | ACPI_PM1_GBL_EN | ACPI_PM1_PWRBTN_EN | ACPI_PM1_SLPBTN_EN | ACPI_PM1_RTC_EN;

// PM1 control register bits (table 4.18).
export const ACPI_PM1_SCI_EN = 1 << 0;
export const ACPI_PM1_BM_RLD = 1 << 1;
export const ACPI_PM1_GBL_RLS = 1 << 2;
export const ACPI_PM1_SLP_TYP_SHIFT = 10;
export const ACPI_PM1_SLP_TYP_MASK = 0x7 << ACPI_PM1_SLP_TYP_SHIFT;
export const ACPI_PM1_SLP_EN = 1 << 13;
/** The control bits that keep what is written. */
const PM1_CNT_STORED = ACPI_PM1_BM_RLD | ACPI_PM1_SLP_TYP_MASK;

export interface AcpiPm1Options {
  /** The SCI (level: high while an enabled event is pending). */
  readonly sci: IrqLine;
  /** The OS wrote SLP_EN = 1: enter sleep state `slpTyp` (the 3-bit SLP_TYP written with it). */
  readonly onSleep: (slpTyp: number) => void;
}

export interface AcpiPm1Stats extends DeviceStats {
  /** SLP_EN writes. */
  sleepRequests: number;
  powerButtonPresses: number;
  /** GBL_RLS writes (the OS released the global lock to firmware; there is none to tell). */
  globalLockReleases: number;
}

export interface AcpiPm1State {
  readonly status: number;
  readonly enable: number;
  /** BM_RLD and SLP_TYP as last written. */
  readonly control: number;
}

export class AcpiPm1 implements BusDevice, Snapshottable<AcpiPm1State> {
  readonly name = "acpi-pm1";
  readonly windowSize = ACPI_PM1_WINDOW_SIZE;
  readonly stats: AcpiPm1Stats = { badAccesses: 0, sleepRequests: 0, powerButtonPresses: 0, globalLockReleases: 0 };
  readonly #sci: IrqLine;
  readonly #onSleep: (slpTyp: number) => void;
  #status = 0;
  #enable = 0;
  #control = 0;
  #sciLevel = false;

  constructor(options: AcpiPm1Options) {
    this.#sci = options.sci;
    this.#onSleep = options.onSleep;
  }

  /** PWRBTN_EN: an OS driver listens to the fixed power button (Linux's ACPI button driver sets it). */
  get powerButtonEnabled(): boolean {
    return (this.#enable & ACPI_PM1_PWRBTN_EN) !== 0;
  }

  /** Press (and release) the fixed-feature power button: PWRBTN_STS is set, the SCI rises if PWRBTN_EN is. */
  pressPowerButton(): void {
    this.stats.powerButtonPresses++;
    this.#status |= ACPI_PM1_PWRBTN_STS;
    this.#updateSci();
  }

  read(offset: number, width: 1 | 2 | 4): number {
    if (offset < 0 || offset + width > ACPI_PM1_WINDOW_SIZE) {
      this.stats.badAccesses++;
      return 0;
    }
    let value = 0;
    for (let i = 0; i < width; i++) value |= this.#readByte(offset + i) << (8 * i);
    return value >>> 0;
  }

  write(offset: number, width: 1 | 2 | 4, value: number): void {
    if (offset < 0 || offset + width > ACPI_PM1_WINDOW_SIZE) {
      this.stats.badAccesses++;
      return;
    }
    for (let i = 0; i < width; i++) this.#writeByte(offset + i, (value >>> (8 * i)) & 0xff);
  }

  snapshot(): AcpiPm1State {
    return { status: this.#status, enable: this.#enable, control: this.#control };
  }

  restore(state: AcpiPm1State): void {
    this.#status = state.status & PM1_STS_DEFINED;
    this.#enable = state.enable & PM1_EN_DEFINED;
    this.#control = state.control & PM1_CNT_STORED;
    this.#sciLevel = (this.#status & this.#enable & PM1_SCI_EVENTS) !== 0;
    this.#sci.set(this.#sciLevel);
  }

  #readByte(offset: number): number {
    const [register, shift] = this.#lane(offset);
    return (register >>> shift) & 0xff;
  }

  /** The 16-bit register value behind byte `offset`, and the byte's shift inside it. */
  #lane(offset: number): [number, number] {
    const shift = (offset & 1) * 8;
    if (offset < ACPI_PM1_EN_OFFSET) return [this.#status, shift];
    if (offset < ACPI_PM1_CNT_OFFSET) return [this.#enable, shift];
    return [this.#control | ACPI_PM1_SCI_EN, shift];
  }

  #writeByte(offset: number, byte: number): void {
    const shift = (offset & 1) * 8;
    const bits = byte << shift;
    const lane = 0xff << shift;
    if (offset < ACPI_PM1_EN_OFFSET) {
      this.#status &= ~(bits & PM1_STS_DEFINED);
    } else if (offset < ACPI_PM1_CNT_OFFSET) {
      this.#enable = (this.#enable & ~lane) | (bits & PM1_EN_DEFINED);
    } else {
      this.#control = (this.#control & ~lane) | (bits & PM1_CNT_STORED);
      if ((bits & ACPI_PM1_GBL_RLS) !== 0) this.stats.globalLockReleases++;
      if ((bits & ACPI_PM1_SLP_EN) !== 0) {
        this.stats.sleepRequests++;
        this.#onSleep((this.#control & ACPI_PM1_SLP_TYP_MASK) >>> ACPI_PM1_SLP_TYP_SHIFT);
      }
      return;
    }
    this.#updateSci();
  }

  #updateSci(): void {
    const level = (this.#status & this.#enable & PM1_SCI_EVENTS) !== 0;
    if (level === this.#sciLevel) return;
    this.#sciLevel = level;
    this.#sci.set(level);
  }
}
