/**
 * The request bodies of the API server, as Firecracker's swagger/firecracker.yaml defines them (the subset we
 * take), checked with zod. Fields Firecracker has and we do not act on are accepted when they hold the value that
 * changes nothing (smt false, track_dirty_pages false, cache_type "Unsafe", io_engine "Sync", ...) and refused
 * otherwise, so a client never believes it got something it did not. Our additions are marked.
 */

import { z } from "zod";

const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1 to 64 letters, digits, '_' or '-'");

export const machineConfigSchema = z.strictObject({
  vcpu_count: z.number().int().min(1).max(32),
  mem_size_mib: z
    .number()
    .int()
    .min(1)
    .max(1024 * 1024),
  smt: z.literal(false).optional(),
  track_dirty_pages: z.literal(false).optional(),
  huge_pages: z.literal("None").optional(),
  cpu_template: z.literal("None").optional(),
  /**
   * Ours: the guest architecture, which picks the board (RISC-V virt, x86 PC, arm64 virt). Default: the kernel
   * image's own (bzImage, ELF machine, Linux Image magic), else riscv64.
   */
  arch: z.enum(["riscv64", "x86_64", "aarch64"]).optional(),
  /** Ours: which backend runs the VM (default auto). */
  backend: z.enum(["auto", "emulated", "kvm"]).optional(),
});
export type MachineConfig = z.infer<typeof machineConfigSchema>;

export const bootSourceSchema = z.strictObject({
  kernel_image_path: z.string().min(1),
  boot_args: z.string().optional(),
  initrd_path: z.string().min(1).optional(),
  /**
   * Ours: where a flat binary or a Linux Image loads and starts (default: the board's convention, 2 MiB into RAM
   * on RISC-V, the start of RAM on arm64; an x86 flat binary has none). ELF files and bzImages carry their own.
   */
  load_addr: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});
export type BootSource = z.infer<typeof bootSourceSchema>;

export const driveSchema = z.strictObject({
  drive_id: id,
  path_on_host: z.string().min(1),
  is_root_device: z.boolean(),
  is_read_only: z.boolean().optional(),
  partuuid: z.string().optional(),
  cache_type: z.literal("Unsafe").optional(),
  io_engine: z.literal("Sync").optional(),
});
export type Drive = z.infer<typeof driveSchema>;

export const networkInterfaceSchema = z.strictObject({
  iface_id: id,
  /** The host TAP interface (`[[devices.nets]]` `tap`). */
  host_dev_name: z.string().min(1),
  guest_mac: z.string().optional(),
  mtu: z.number().int().min(68).max(65535).optional(),
});
export type NetworkInterface = z.infer<typeof networkInterfaceSchema>;

export const actionSchema = z.strictObject({
  action_type: z.enum(["InstanceStart", "SendCtrlAltDel", "FlushMetrics"]),
});

export const vmStateSchema = z.strictObject({
  state: z.enum(["Paused", "Resumed"]),
});

export const snapshotCreateSchema = z.strictObject({
  snapshot_path: z.string().min(1),
  mem_file_path: z.string().min(1),
  snapshot_type: z.literal("Full").optional(),
});

export const snapshotLoadSchema = z
  .strictObject({
    snapshot_path: z.string().min(1),
    mem_file_path: z.string().min(1).optional(),
    mem_backend: z.strictObject({ backend_type: z.literal("File"), backend_path: z.string().min(1) }).optional(),
    resume_vm: z.boolean().optional(),
    enable_diff_snapshots: z.literal(false).optional(),
    track_dirty_pages: z.literal(false).optional(),
  })
  .refine((body) => (body.mem_file_path === undefined) !== (body.mem_backend === undefined), {
    message: "exactly one of mem_file_path and mem_backend must be given",
    path: ["mem_backend"],
  });

/** A zod failure as one line naming each bad field: `vcpu_count: Too big: expected number to be <=32`. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length === 0 ? "body" : issue.path.join(".")}: ${issue.message}`)
    .join("; ");
}
