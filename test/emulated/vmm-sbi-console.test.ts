/**
 * The riscv-virt board lets the emulated hart answer byte-at-a-time SBI console output (RiscvVcpuOps
 * .answerConsoleOnHart): a VS-mode guest's legacy console_putchar and DBCN console_write_byte reach the VM's
 * console in order with its other SBI console output, and count as SBI calls as when the VMM dispatched them.
 */

import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  SBI_EXT_DBCN,
  SBI_EXT_DBCN_CONSOLE_WRITE,
  SBI_EXT_DBCN_CONSOLE_WRITE_BYTE,
} from "../../src/arch/riscv64/sbi.ts";
import { emulatedBackend } from "../../src/hal/emulated/index.ts";
import type { EmulatedVcpu } from "../../src/hal/emulated/vcpu.ts";
import { boardFor } from "../../src/vmm/boards/index.ts";
import { assembleVm } from "../../src/vmm/builder.ts";
import { loadVmConfig } from "../../src/vmm/config/index.ts";
import { writeVsGuestConfig } from "../support/flood-guest.ts";
import * as A from "./asm.ts";

const dir = mkdtempSync(join(tmpdir(), "axvisor-sbi-console-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const KERNEL_BASE = 0x8020_0000; // writeVsGuestConfig's
const SRST = 0x53525354;

test("putchar and write_byte answered on the hart reach the console in order and count as SBI calls", async () => {
  const p = new A.Program(KERNEL_BASE);
  const putchar = (c: string): void => {
    p.emit(A.li(A.a7, 1), A.li(A.a0, c.charCodeAt(0)), A.ecall());
  };
  const writeByte = (c: string): void => {
    p.emit(A.li(A.a7, Number(SBI_EXT_DBCN)), A.li(A.a6, Number(SBI_EXT_DBCN_CONSOLE_WRITE_BYTE)));
    p.emit(A.li(A.a0, c.charCodeAt(0)), A.ecall());
  };
  for (const c of "ab") putchar(c);
  writeByte("c");
  // console_write of 2 bytes from guest RAM (the VMM answers it): "de", stored at `text` below.
  p.emit(A.li(A.a7, Number(SBI_EXT_DBCN)), A.li(A.a6, Number(SBI_EXT_DBCN_CONSOLE_WRITE)));
  p.emit(A.li(A.a0, 2), A.li(A.a1, KERNEL_BASE + 0x800), A.li(A.a2, 0), A.ecall());
  putchar("\n");
  p.emit(A.li(A.a7, SRST), A.li(A.a6, 0), A.li(A.a0, 0), A.li(A.a1, 0), A.ecall());
  const code = p.assemble();
  const image = new Uint8Array(0x802);
  image.set(code);
  image.set(new TextEncoder().encode("de"), 0x800);
  const config = loadVmConfig(writeVsGuestConfig(dir, "sbi-console", image));
  let output = "";
  const decoder = new TextDecoder();
  const vm = assembleVm(config, {
    hypervisor: emulatedBackend.open(),
    board: boardFor(config),
    console: {
      write: (bytes) => {
        output += decoder.decode(bytes);
      },
      close: () => undefined,
    },
  });
  const result = await vm.run();
  expect(result.reason).toBe("poweroff");
  expect(output).toBe("abcde\n");
  // 3 putchar, 1 write_byte, 1 console_write, SRST.
  expect(vm.stats.board.sbiCalls).toBe(6);
  // Only console_write and SRST trapped to the VMM: the other four were answered on the hart.
  expect((vm.vcpu(0).arch as EmulatedVcpu).hart.stats.exceptions).toBe(2);
});
