/**
 * Trap delegation (medeleg/hedeleg, mideleg/hideleg) from every mode, the CSRs a trap writes, interrupt
 * priority and masking, xRET and WFI rules, LR/SC reservations.
 */
import { describe, expect, test } from "bun:test";
import {
  ENVCFG_HI_STCE,
  HSTATUS_GVA,
  HSTATUS_SPV,
  HSTATUS_SPVP,
  HSTATUS_VTSR,
  HSTATUS_VTVM,
  HSTATUS_VTW,
  MSTATUS_MIE,
  MSTATUS_MPIE,
  MSTATUS_MPP,
  MSTATUS_MPP_SHIFT,
  MSTATUS_MPRV,
  MSTATUS_SIE,
  MSTATUS_SPIE,
  MSTATUS_SPP,
  MSTATUS_TSR,
  MSTATUS_TVM,
  MSTATUS_TW,
} from "../../src/arch/riscv64/csr.ts";
import {
  CAUSE_BREAKPOINT,
  CAUSE_ILLEGAL_INSTRUCTION,
  CAUSE_MISALIGNED_LOAD,
  CAUSE_MISALIGNED_STORE,
  CAUSE_VIRTUAL_INSTRUCTION,
  IRQ_M_EXT,
  IRQ_M_SOFT,
  IRQ_M_TIMER,
  MIP_MSIP,
  MIP_MTIP,
  MIP_SEIP,
  MIP_STIP,
  MIP_VSTIP,
  PRV_M,
  PRV_S,
  VS_INTERRUPTS,
} from "../../src/arch/riscv64/traps.ts";
import { ALL_INTERRUPTS } from "../../src/hal/emulated/constants.ts";
import { STOP_HALT } from "../../src/hal/emulated/hart.ts";
import { mipValue, setExternalLine, setHvip, wakeupPending } from "../../src/hal/emulated/interrupts.ts";
import { timerDeadline, updateTimers } from "../../src/hal/emulated/timers.ts";
import * as A from "./asm.ts";
import { type HartFixture, type Mode, makeHart, RAM_BASE } from "./fixture.ts";

const CODE = RAM_BASE + 0x1000;
const MTVEC = RAM_BASE + 0x4000;
const STVEC = RAM_BASE + 0x5000;
const VSTVEC = RAM_BASE + 0x6000;
const MODES: Mode[] = ["M", "HS", "U", "VS", "VU"];

/** Point the trap vectors at parking loops (`j .`), so running on after a trap does not trap again. */
function prepare(f: HartFixture): void {
  f.hart.mtvec = MTVEC;
  f.hart.stvec = STVEC;
  f.hart.vstvec = VSTVEC;
  const park = new Array<number>(16).fill(A.jal(0, 0));
  for (const base of [MTVEC, STVEC, VSTVEC]) f.write(base, park);
}

function where(f: HartFixture): string {
  const h = f.hart;
  const mode = h.priv === PRV_M ? "M" : h.priv === PRV_S ? (h.virt ? "VS" : "HS") : h.virt ? "VU" : "U";
  return `${mode}@${(h.pc - RAM_BASE).toString(16)}`;
}

describe("exception delegation matrix", () => {
  const bad = 0xffff_ffff; // an illegal instruction
  for (const from of MODES) {
    for (const medeleg of [false, true]) {
      for (const hedeleg of [false, true]) {
        const expected = from === "M" || !medeleg ? "M" : (from === "VS" || from === "VU") && hedeleg ? "VS" : "HS";
        test(`illegal instruction in ${from} (medeleg=${+medeleg}, hedeleg=${+hedeleg}) traps to ${expected}`, () => {
          const f = makeHart();
          prepare(f);
          f.write(CODE, [bad]);
          if (medeleg) f.hart.medeleg = 1 << CAUSE_ILLEGAL_INSTRUCTION;
          if (hedeleg) f.hart.hedeleg = 1 << CAUSE_ILLEGAL_INSTRUCTION;
          f.hart.mstatus |= MSTATUS_MIE | MSTATUS_SIE;
          f.hart.vsstatus |= MSTATUS_SIE;
          f.enter(from, CODE);
          f.run(1);
          const h = f.hart;
          const fromPriv = from === "M" ? 3 : from === "HS" || from === "VS" ? 1 : 0;
          const fromVirt = from === "VS" || from === "VU";
          if (expected === "M") {
            expect(where(f)).toBe(`M@${(MTVEC - RAM_BASE).toString(16)}`);
            expect([h.mcauseLo, h.mepc, h.mtval]).toEqual([2, CODE, bad >>> 0]);
            expect((h.mstatus >>> 11) & 3).toBe(fromPriv);
            expect(h.mstatusMpv).toBe(fromVirt);
            expect(h.mstatus & (MSTATUS_MIE | MSTATUS_MPIE)).toBe(MSTATUS_MPIE);
          } else if (expected === "HS") {
            expect(where(f)).toBe(`HS@${(STVEC - RAM_BASE).toString(16)}`);
            expect([h.scauseLo, h.sepc, h.stval]).toEqual([2, CODE, bad >>> 0]);
            expect((h.mstatus & MSTATUS_SPP) !== 0).toBe(fromPriv === 1);
            expect((h.hstatus & HSTATUS_SPV) !== 0).toBe(fromVirt);
            if (fromVirt) expect((h.hstatus & HSTATUS_SPVP) !== 0).toBe(fromPriv === 1);
            expect(h.mstatus & (MSTATUS_SIE | MSTATUS_SPIE)).toBe(MSTATUS_SPIE);
            expect(h.hstatus & HSTATUS_GVA).toBe(0);
          } else {
            expect(where(f)).toBe(`VS@${(VSTVEC - RAM_BASE).toString(16)}`);
            expect([h.vscauseLo, h.vsepc, h.vstval]).toEqual([2, CODE, bad >>> 0]);
            expect((h.vsstatus & MSTATUS_SPP) !== 0).toBe(fromPriv === 1);
            expect(h.vsstatus & (MSTATUS_SIE | MSTATUS_SPIE)).toBe(MSTATUS_SPIE);
            expect(h.scauseLo).toBe(0);
          }
        });
      }
    }
  }

  test("ecall causes depend on the mode: U 8, HS 9, VS 10, M 11 (VU ecall is 8)", () => {
    const causes: Record<Mode, number> = { U: 8, HS: 9, VS: 10, M: 11, VU: 8 };
    for (const mode of MODES) {
      const f = makeHart();
      prepare(f);
      f.write(CODE, [A.ecall()]);
      f.enter(mode, CODE);
      f.run(1);
      expect([mode, f.hart.mcauseLo, f.hart.mtval]).toEqual([mode, causes[mode], 0]);
    }
  });

  test("ebreak reports the pc in tval and sets GVA for a virtualized trap to HS", () => {
    const f = makeHart();
    prepare(f);
    f.hart.medeleg = 1 << CAUSE_BREAKPOINT;
    f.write(CODE, [A.ebreak()]);
    f.enter("VS", CODE);
    f.run(1);
    expect([where(f), f.hart.scauseLo, f.hart.stval]).toEqual([`HS@5000`, 3, CODE]);
    expect(f.hart.hstatus & HSTATUS_GVA).toBe(HSTATUS_GVA);
  });
});

describe("interrupts", () => {
  function setup(from: Mode, configure: (f: HartFixture) => void): HartFixture {
    const f = makeHart();
    prepare(f);
    f.write(CODE, [A.addi(A.a0, A.a0, 1), A.addi(A.a0, A.a0, 1)]);
    configure(f);
    f.enter(from, CODE);
    f.run(1);
    return f;
  }

  test("a machine timer interrupt is taken below M always, in M only with MIE", () => {
    for (const from of MODES) {
      for (const mie of [false, true]) {
        const f = setup(from, (f) => {
          f.hart.mie = MIP_MTIP;
          setExternalLine(f.hart, IRQ_M_TIMER, true);
          if (mie) f.hart.mstatus |= MSTATUS_MIE;
        });
        const taken = from !== "M" || mie;
        expect([from, mie, where(f)]).toEqual([from, mie, taken ? "M@4000" : "M@1004"]);
        if (taken) expect([f.hart.mcauseLo, f.hart.mcauseHi]).toEqual([7, 0x80000000 | 0]);
      }
    }
  });

  test("a delegated supervisor timer interrupt: HS with SIE, always from U/VS/VU, never in M", () => {
    for (const from of MODES) {
      for (const sie of [false, true]) {
        const f = setup(from, (f) => {
          f.hart.mideleg |= MIP_STIP;
          f.hart.mie = MIP_STIP;
          f.hart.mipSoft = MIP_STIP;
          f.hart.mstatus |= MSTATUS_MIE;
          if (sie) f.hart.mstatus |= MSTATUS_SIE;
        });
        const taken = from === "U" || from === "VS" || from === "VU" || (from === "HS" && sie);
        const stay = from === "M" ? "M@1004" : `${from}@1004`;
        expect([from, sie, where(f)]).toEqual([from, sie, taken ? "HS@5000" : stay]);
        if (taken) expect(f.hart.scauseLo).toBe(5);
      }
    }
  });

  test("VS timer via hvip: to VS (cause 5) with hideleg when vsstatus.SIE or in VU; to HS (cause 6) without", () => {
    for (const hideleg of [false, true]) {
      for (const from of MODES) {
        for (const vsie of [false, true]) {
          const f = setup(from, (f) => {
            f.hart.mie = MIP_VSTIP;
            setHvip(f.hart, MIP_VSTIP, true);
            if (hideleg) f.hart.hideleg = VS_INTERRUPTS;
            if (vsie) f.hart.vsstatus |= MSTATUS_SIE;
          });
          let expected: string;
          if (hideleg) {
            const taken = from === "VU" || (from === "VS" && vsie);
            expected = taken ? "VS@6000" : `${from}@1004`;
          } else {
            // HS-level: taken whenever V=1, or in HS with SIE (clear here), never in M.
            expected = from === "VS" || from === "VU" || from === "U" ? "HS@5000" : `${from}@1004`;
          }
          expect([hideleg, from, vsie, where(f)]).toEqual([hideleg, from, vsie, expected]);
          if (expected === "VS@6000") expect([f.hart.vscauseLo, f.hart.vscauseHi]).toEqual([5, 0x80000000 | 0]);
          if (expected === "HS@5000") expect(f.hart.scauseLo).toBe(6);
        }
      }
    }
  });

  test("priority: MEI before MSI before MTI; M-level before S-level; vectored mtvec", () => {
    const f = setup("HS", (f) => {
      f.hart.mie = ALL_INTERRUPTS;
      f.hart.mideleg |= MIP_SEIP;
      f.hart.mipSoft = MIP_SEIP;
      setExternalLine(f.hart, IRQ_M_TIMER, true);
      setExternalLine(f.hart, IRQ_M_SOFT, true);
      f.hart.mtvec = MTVEC + 1; // vectored
    });
    expect([where(f), f.hart.mcauseLo]).toEqual([`M@${(0x4000 + 4 * 3).toString(16)}`, 3]);
    setExternalLine(f.hart, IRQ_M_EXT, true);
    f.enter("HS", CODE);
    f.run(1);
    expect(f.hart.mcauseLo).toBe(11);
  });

  test("wakeupPending ignores the global enables (the WFI condition)", () => {
    const f = makeHart();
    f.hart.mie = MIP_MTIP;
    expect(wakeupPending(f.hart)).toBe(false);
    setExternalLine(f.hart, IRQ_M_TIMER, true);
    expect(wakeupPending(f.hart)).toBe(true);
  });

  test("Sstc: stimecmp <= time raises STIP (read-only then); vstimecmp with htimedelta raises VSTIP", () => {
    const f = makeHart();
    f.hart.menvcfgHi = ENVCFG_HI_STCE;
    f.hart.henvcfgHi = ENVCFG_HI_STCE;
    f.hart.stimecmpLo = 100;
    f.hart.stimecmpHi = 0;
    f.hart.vstimecmpLo = 1000;
    f.hart.vstimecmpHi = 0;
    f.hart.htimedeltaLo = 500;
    updateTimers(f.hart, 99);
    expect(mipValue(f.hart) & (MIP_STIP | MIP_VSTIP)).toBe(0);
    updateTimers(f.hart, 100);
    expect(mipValue(f.hart) & (MIP_STIP | MIP_VSTIP)).toBe(MIP_STIP);
    updateTimers(f.hart, 500);
    expect(mipValue(f.hart) & (MIP_STIP | MIP_VSTIP)).toBe(MIP_STIP | MIP_VSTIP);
    expect(timerDeadline(f.hart)).toBe(100);
    f.hart.stimecmpLo = -1;
    f.hart.stimecmpHi = -1;
    expect(timerDeadline(f.hart)).toBe(500);
  });
});

describe("xRET, WFI, TSR/VTSR/TW/VTW", () => {
  function exec(from: Mode, insn: number, configure: (f: HartFixture) => void = () => {}): HartFixture {
    const f = makeHart();
    prepare(f);
    f.write(CODE, [insn]);
    configure(f);
    f.enter(from, CODE);
    f.run(1);
    return f;
  }

  test("mret returns to MPP/MPV and clears MPRV when leaving M", () => {
    const f = exec("M", A.mret(), (f) => {
      f.hart.mepc = RAM_BASE + 0x100;
      f.hart.mstatus |= (PRV_S << MSTATUS_MPP_SHIFT) | MSTATUS_MPRV | MSTATUS_MPIE;
      f.hart.mstatusMpv = true;
    });
    expect(where(f)).toBe("VS@100");
    expect(f.hart.mstatus & (MSTATUS_MPRV | MSTATUS_MPP | MSTATUS_MIE | MSTATUS_MPIE)).toBe(MSTATUS_MIE | MSTATUS_MPIE);
    expect(f.hart.mstatusMpv).toBe(false);
    expect(where(exec("HS", A.mret()))).toBe("M@4000");
  });

  test("sret: HS uses sstatus/hstatus.SPV, VS uses vsstatus; TSR and VTSR trap", () => {
    const f = exec("HS", A.sret(), (f) => {
      f.hart.sepc = RAM_BASE + 0x200;
      f.hart.mstatus |= MSTATUS_SPP;
      f.hart.hstatus |= HSTATUS_SPV;
    });
    expect(where(f)).toBe("VS@200");
    const g = exec("VS", A.sret(), (f) => {
      f.hart.vsepc = RAM_BASE + 0x300;
    });
    expect(where(g)).toBe("VU@300");
    expect([where(exec("HS", A.sret(), (f) => (f.hart.mstatus |= MSTATUS_TSR))), 0]).toEqual(["M@4000", 0]);
    const v = exec("VS", A.sret(), (f) => (f.hart.hstatus |= HSTATUS_VTSR));
    expect([where(v), v.hart.mcauseLo]).toEqual(["M@4000", CAUSE_VIRTUAL_INSTRUCTION]);
    const u = exec("U", A.sret());
    expect(u.hart.mcauseLo).toBe(CAUSE_ILLEGAL_INSTRUCTION);
    const vu = exec("VU", A.sret());
    expect(vu.hart.mcauseLo).toBe(CAUSE_VIRTUAL_INSTRUCTION);
  });

  test("WFI: TW illegal below M; VTW and VU give virtual instruction; U illegal; M halts when idle", () => {
    expect(exec("HS", A.wfi(), (f) => (f.hart.mstatus |= MSTATUS_TW)).hart.mcauseLo).toBe(2);
    expect(exec("VS", A.wfi(), (f) => (f.hart.mstatus |= MSTATUS_TW)).hart.mcauseLo).toBe(2);
    expect(exec("VS", A.wfi(), (f) => (f.hart.hstatus |= HSTATUS_VTW)).hart.mcauseLo).toBe(22);
    expect(exec("VU", A.wfi()).hart.mcauseLo).toBe(22);
    expect(exec("U", A.wfi()).hart.mcauseLo).toBe(2);
    const vs = exec("VS", A.wfi());
    expect(where(vs)).toBe("VS@1004");
    const m = exec("M", A.wfi());
    expect([where(m), m.hart.stop]).toEqual(["M@1004", STOP_HALT]);
    const busy = exec("M", A.wfi(), (f) => {
      f.hart.mie = MIP_MSIP;
      setExternalLine(f.hart, IRQ_M_SOFT, true);
    });
    expect(busy.hart.stop).toBe(0);
  });

  test("sfence.vma / hfence: illegal or virtual by mode, TVM and VTVM", () => {
    expect(exec("U", A.sfenceVma()).hart.mcauseLo).toBe(2);
    expect(exec("VU", A.sfenceVma()).hart.mcauseLo).toBe(22);
    expect(exec("HS", A.sfenceVma(), (f) => (f.hart.mstatus |= MSTATUS_TVM)).hart.mcauseLo).toBe(2);
    expect(exec("VS", A.sfenceVma(), (f) => (f.hart.hstatus |= HSTATUS_VTVM)).hart.mcauseLo).toBe(22);
    expect(where(exec("VS", A.sfenceVma(), (f) => (f.hart.mstatus |= MSTATUS_TVM)))).toBe("VS@1004");
    expect(exec("VS", A.hfenceGvma()).hart.mcauseLo).toBe(22);
    expect(exec("U", A.hfenceVvma()).hart.mcauseLo).toBe(2);
    expect(exec("HS", A.hfenceGvma(), (f) => (f.hart.mstatus |= MSTATUS_TVM)).hart.mcauseLo).toBe(2);
    expect(where(exec("HS", A.hfenceVvma(), (f) => (f.hart.mstatus |= MSTATUS_TVM)))).toBe("HS@1004");
  });
});

describe("LR/SC", () => {
  const DATA = RAM_BASE + 0x8000;
  function lrsc(between: number[], configure: (f: HartFixture) => void = () => {}): HartFixture {
    const f = makeHart();
    prepare(f);
    f.write(CODE, [...A.li(A.s0, DATA), A.lrD(A.a0, A.s0), ...between, A.li(A.t0, 99), A.scD(A.a1, A.t0, A.s0)].flat());
    f.write64(DATA, 7n);
    configure(f);
    f.enter("M", CODE);
    return f;
  }

  test("a reserved SC succeeds and stores; a second SC fails", () => {
    const f = lrsc([]);
    f.run(20);
    expect([f.x(A.a0), f.x(A.a1), f.read64(DATA)]).toEqual([7n, 0n, 99n]);
    f.write(CODE + 0x100, [A.scD(A.a2, A.t0, A.s0)]);
    f.hart.pc = CODE + 0x100;
    f.run(1);
    expect(f.x(A.a2)).toBe(1n);
  });

  test("SC to another address fails; a store by someone else breaks the reservation", () => {
    const f = lrsc([A.addi(A.s0, A.s0, 8)]);
    f.run(20);
    expect([f.x(A.a1), f.read64(DATA + 8)]).toEqual([1n, 0n]);
    const g = lrsc([A.addi(0, 0, 0)]);
    g.run(4); // li (2-3 insns) + lr
    g.write64(DATA, 5n); // external write (VMM / device / other hart through notifyWritten)
    g.run(20);
    expect(g.x(A.a1)).toBe(1n);
    expect(g.read64(DATA)).toBe(5n);
  });

  test("misaligned LR raises load-address-misaligned, misaligned AMO store/AMO-misaligned", () => {
    const f = makeHart();
    prepare(f);
    f.write(CODE, [...A.li(A.s0, DATA + 4), A.lrD(A.a0, A.s0)].flat());
    f.enter("M", CODE);
    f.run(10);
    expect([f.hart.mcauseLo, f.hart.mtval]).toEqual([CAUSE_MISALIGNED_LOAD, DATA + 4]);
    const g = makeHart();
    prepare(g);
    g.write(CODE, [...A.li(A.s0, DATA + 2), A.amoaddW(A.a0, A.a1, A.s0)].flat());
    g.enter("M", CODE);
    g.run(10);
    expect(g.hart.mcauseLo).toBe(CAUSE_MISALIGNED_STORE);
  });
});
