/**
 * `axvisor check` output: a resolved `VmConfig` as readable text, with every default made visible.
 */

import { formatSize, hex, hexRange } from "../../common/format.ts";
import { MappingFlags } from "../../hal/types.ts";
import { type BootFile, EMULATED_DEVICE_TYPE_CODES, type VmConfig } from "./types.ts";

/** MappingFlags bits as letters ("rwx", "rw-u" style): r w x, then u (user), d (device), n (uncached). */
export function formatMappingFlags(flags: number): string {
  const letter = (bit: number, ch: string): string => ((flags & bit) !== 0 ? ch : "-");
  let text = letter(MappingFlags.READ, "r") + letter(MappingFlags.WRITE, "w") + letter(MappingFlags.EXECUTE, "x");
  if ((flags & MappingFlags.USER) !== 0) text += "u";
  if ((flags & MappingFlags.DEVICE) !== 0) text += "d";
  if ((flags & MappingFlags.UNCACHED) !== 0) text += "n";
  return text;
}

function sizeText(size: number | undefined): string {
  return size === undefined ? "size unknown" : `${formatSize(size)}`;
}

function bootFileLine(label: string, file: BootFile | undefined, orElse: string): string {
  if (file === undefined) return `  ${label.padEnd(9)}${orElse}`;
  const at = file.loadAddr === undefined ? "address chosen by the builder" : `at ${hex(file.loadAddr)}`;
  return `  ${label.padEnd(9)}${file.path} (${sizeText(file.size)}) ${at}`;
}

/**
 * The machine the guest gets: `base.machine` chooses between the RISC-V `virt` boards (the hypervisor one by
 * default); an x86_64 guest always gets the PC and an aarch64 guest the arm64 `virt` board (and `base.machine`
 * must not name the bare RISC-V board for them).
 */
function machineText(config: VmConfig): string {
  if (config.arch === "x86_64") return "pc";
  if (config.arch === "aarch64") return "arm64-virt";
  return config.machine;
}

export function formatVmConfig(config: VmConfig): string {
  const k = config.kernel;
  const d = config.devices;
  const lines: string[] = [];
  lines.push(`VM ${config.id} "${config.name}" from ${config.source}`);
  lines.push(
    `  ${"machine".padEnd(9)}${config.arch}, ${machineText(config)}, backend ${config.backend}, vm_type ${config.vmType}, on reset: ${config.onReset}`,
  );
  const ids = config.physCpuIds === undefined ? "" : `, physical ids [${config.physCpuIds.join(", ")}]`;
  const sets = config.physCpuSets === undefined ? "" : `, affinity masks [${config.physCpuSets.map(hex).join(", ")}]`;
  lines.push(`  ${"vcpus".padEnd(9)}${config.cpuNum}${ids}${sets}`);
  for (const region of config.memoryRegions) {
    lines.push(
      `  ${"memory".padEnd(9)}${hexRange(region.gpa, region.size)} ${formatSize(region.size)} ${formatMappingFlags(region.flags)} ${region.mapType}`,
    );
  }
  const imageAt = k.image.format === "elf" ? `segments from ${hex(k.image.loadAddr)}` : `at ${hex(k.image.loadAddr)}`;
  lines.push(
    `  ${"kernel".padEnd(9)}${k.image.path} (${k.image.format}, ${sizeText(k.image.size)}) ${imageAt}, entry ${hex(k.entryPoint)}`,
  );
  if (k.imageLocation !== "fs") lines.push(`  ${"".padEnd(9)}image_location ${k.imageLocation}`);
  lines.push(bootFileLine("bios", k.bios, "none"));
  if (k.dtb === undefined) lines.push(`  ${"dtb".padEnd(9)}none (${config.arch})`);
  else if (k.dtb.kind === "generate") {
    const at = k.dtb.loadAddr === undefined ? "address chosen by the builder" : `at ${hex(k.dtb.loadAddr)}`;
    lines.push(`  ${"dtb".padEnd(9)}generated, ${at}`);
  } else lines.push(bootFileLine("dtb", k.dtb, ""));
  lines.push(bootFileLine("ramdisk", k.ramdisk, "none"));
  lines.push(`  ${"cmdline".padEnd(9)}${k.cmdline === undefined ? "(none)" : JSON.stringify(k.cmdline)}`);
  for (const disk of d.disks) {
    const serial = disk.serial === undefined ? "" : `, serial ${JSON.stringify(disk.serial)}`;
    lines.push(`  ${"disk".padEnd(9)}${disk.path} (${disk.readOnly ? "read-only" : "read-write"}${serial})`);
  }
  for (const net of d.nets) {
    lines.push(`  ${"net".padEnd(9)}tap ${net.tap}, mac ${net.mac}${net.macFrom === "default" ? " (default)" : ""}`);
  }
  if (config.arch === "riscv64") lines.push(`  ${"timebase".padEnd(9)}${k.timebaseFrequency} Hz`);
  for (const dev of d.emuDevices) {
    const code = hex(EMULATED_DEVICE_TYPE_CODES[dev.emuType]);
    const cfg = dev.cfgList.length === 0 ? "" : ` cfg [${dev.cfgList.join(", ")}]`;
    lines.push(
      `  ${"emulated".padEnd(9)}${dev.name} ${dev.emuType} (${code}) ${hexRange(dev.baseGpa, dev.length)} irq ${dev.irqId}${cfg}`,
    );
  }
  for (const dev of d.passthroughDevices) {
    lines.push(
      `  ${"passthru".padEnd(9)}${dev.name} gpa ${hex(dev.baseGpa)} hpa ${hex(dev.baseHpa)} length ${hex(dev.length)} irq ${dev.irqId}`,
    );
  }
  for (const addr of d.passthroughAddresses)
    lines.push(`  ${"passthru".padEnd(9)}address ${hexRange(addr.baseGpa, addr.length)}`);
  for (const excluded of d.excludedDevices) lines.push(`  ${"excluded".padEnd(9)}${excluded.join(", ")}`);
  const consoleText = d.console.kind === "file" ? `file ${d.console.path}` : d.console.kind;
  lines.push(
    `  ${"devices".padEnd(9)}interrupts ${d.interruptMode}, console ${consoleText}, unmapped MMIO ${d.unmappedMmio}`,
  );
  return lines.join("\n");
}
