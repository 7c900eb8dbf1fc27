import { describe, expect, test } from "bun:test";
import { RecordingIrqLine } from "../../test/support/recording-irq-line.ts";
import {
  ACPI_PM1_BM_RLD,
  ACPI_PM1_GBL_EN,
  ACPI_PM1_GBL_RLS,
  ACPI_PM1_PWRBTN_EN,
  ACPI_PM1_PWRBTN_STS,
  ACPI_PM1_SCI_EN,
  ACPI_PM1_SLP_EN,
  ACPI_PM1_SLP_TYP_SHIFT,
  ACPI_PM1_WAK_STS,
  ACPI_PM1_WINDOW_SIZE,
  AcpiPm1,
  ACPI_PM1_CNT_OFFSET as CNT,
  ACPI_PM1_EN_OFFSET as EN,
  ACPI_PM1_STS_OFFSET as STS,
} from "./acpi-pm.ts";
import { Bus } from "./bus.ts";

function make() {
  const sci = new RecordingIrqLine();
  const sleeps: number[] = [];
  const dev = new AcpiPm1({ sci, onSleep: (slpTyp) => sleeps.push(slpTyp) });
  return { dev, sci, sleeps };
}

describe("ACPI PM1 control block", () => {
  test("SCI_EN reads 1 from reset (ACPI mode: no SMI_CMD); writing it 0 does not leave ACPI mode", () => {
    const { dev } = make();
    expect(dev.read(CNT, 2)).toBe(ACPI_PM1_SCI_EN);
    dev.write(CNT, 2, 0);
    expect(dev.read(CNT, 2) & ACPI_PM1_SCI_EN).toBe(ACPI_PM1_SCI_EN);
  });

  test("ACPICA's S5 sequence: SLP_TYP alone does nothing, SLP_TYP + SLP_EN asks for that state once", () => {
    const { dev, sleeps } = make();
    const slpTyp = 5 << ACPI_PM1_SLP_TYP_SHIFT;
    // Write #1: SLP_TYP only (read-modify-write keeps SCI_EN as read).
    dev.write(CNT, 2, (dev.read(CNT, 2) & ~(7 << ACPI_PM1_SLP_TYP_SHIFT)) | slpTyp);
    expect(sleeps).toEqual([]);
    expect(dev.read(CNT, 2)).toBe(ACPI_PM1_SCI_EN | slpTyp);
    // Write #2: SLP_TYP + SLP_EN.
    dev.write(CNT, 2, dev.read(CNT, 2) | ACPI_PM1_SLP_EN);
    expect(sleeps).toEqual([5]);
    // SLP_EN is write-only.
    expect(dev.read(CNT, 2) & ACPI_PM1_SLP_EN).toBe(0);
    expect(dev.stats.sleepRequests).toBe(1);
  });

  test("a byte write to the high byte carries SLP_TYP and SLP_EN together", () => {
    const { dev, sleeps } = make();
    dev.write(CNT + 1, 1, (ACPI_PM1_SLP_EN | (3 << ACPI_PM1_SLP_TYP_SHIFT)) >>> 8);
    expect(sleeps).toEqual([3]);
  });

  test("BM_RLD is kept, GBL_RLS is write-only and counted", () => {
    const { dev } = make();
    dev.write(CNT, 2, ACPI_PM1_BM_RLD | ACPI_PM1_GBL_RLS);
    expect(dev.read(CNT, 2)).toBe(ACPI_PM1_SCI_EN | ACPI_PM1_BM_RLD);
    expect(dev.stats.globalLockReleases).toBe(1);
  });
});

describe("ACPI PM1 event block and the SCI", () => {
  test("enable bits stick (ACPICA's GBL_EN check); undefined bits read 0", () => {
    const { dev } = make();
    dev.write(EN, 2, 0xffff);
    expect(dev.read(EN, 2)).toBe(0x4721);
    dev.write(EN, 2, ACPI_PM1_GBL_EN);
    expect(dev.read(EN, 2)).toBe(ACPI_PM1_GBL_EN);
  });

  test("the power button: status without enable raises no SCI; enabling raises it; write-1-to-clear drops it", () => {
    const { dev, sci } = make();
    expect(dev.powerButtonEnabled).toBe(false);
    dev.pressPowerButton();
    expect(dev.read(STS, 2)).toBe(ACPI_PM1_PWRBTN_STS);
    expect(sci.level).toBe(false);
    dev.write(EN, 2, ACPI_PM1_PWRBTN_EN);
    expect(dev.powerButtonEnabled).toBe(true);
    expect(sci.level).toBe(true);
    // Writing 0s clears nothing; writing another bit's 1 clears only that bit.
    dev.write(STS, 2, 0);
    dev.write(STS, 2, ACPI_PM1_WAK_STS);
    expect(sci.level).toBe(true);
    dev.write(STS, 2, ACPI_PM1_PWRBTN_STS);
    expect(dev.read(STS, 2)).toBe(0);
    expect(sci.changes()).toEqual([true, false]);
    // Pressed again while enabled: the SCI rises at once.
    dev.pressPowerButton();
    expect(sci.level).toBe(true);
    expect(dev.stats.powerButtonPresses).toBe(2);
  });

  test("disabling the event lowers the SCI while the status stays set", () => {
    const { dev, sci } = make();
    dev.write(EN, 2, ACPI_PM1_PWRBTN_EN);
    dev.pressPowerButton();
    dev.write(EN, 2, 0);
    expect(sci.level).toBe(false);
    expect(dev.read(STS, 2)).toBe(ACPI_PM1_PWRBTN_STS);
  });

  test("a 4-byte read of the event block gives PM1_STS | PM1_EN << 16; byte lanes work", () => {
    const { dev } = make();
    dev.write(EN + 1, 1, ACPI_PM1_PWRBTN_EN >>> 8);
    dev.pressPowerButton();
    expect(dev.read(STS, 4)).toBe((ACPI_PM1_PWRBTN_EN << 16) | ACPI_PM1_PWRBTN_STS);
    expect(dev.read(STS + 1, 1)).toBe(ACPI_PM1_PWRBTN_STS >>> 8);
    expect(dev.read(STS, 1)).toBe(0);
  });
});

describe("ACPI PM1 window", () => {
  test("sits on a port bus as one 6-byte window; accesses past its end are refused by the bus", () => {
    const { dev, sleeps } = make();
    const bus = new Bus("port");
    bus.insert(0x600, dev.windowSize, dev);
    expect(dev.windowSize).toBe(ACPI_PM1_WINDOW_SIZE);
    bus.write(0x604, 2, BigInt(ACPI_PM1_SLP_EN | (5 << ACPI_PM1_SLP_TYP_SHIFT)));
    expect(sleeps).toEqual([5]);
    expect(bus.read(0x604, 4).kind).toBe("bad-access");
  });

  test("an access past the window counts as bad when called directly", () => {
    const { dev } = make();
    expect(dev.read(5, 2)).toBe(0);
    dev.write(6, 1, 0xff);
    expect(dev.stats.badAccesses).toBe(2);
  });

  test("snapshot and restore keep the registers and drive the SCI", () => {
    const a = make();
    a.dev.write(EN, 2, ACPI_PM1_PWRBTN_EN | ACPI_PM1_GBL_EN);
    a.dev.write(CNT, 2, ACPI_PM1_BM_RLD | (5 << ACPI_PM1_SLP_TYP_SHIFT));
    a.dev.pressPowerButton();
    const state = a.dev.snapshot();
    const b = make();
    b.dev.restore(JSON.parse(JSON.stringify(state)));
    expect(b.dev.snapshot()).toEqual(state);
    expect(b.sci.level).toBe(true);
  });
});
