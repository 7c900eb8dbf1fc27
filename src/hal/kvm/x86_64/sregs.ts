/** Segment, descriptor-table and control registers of an x86 vCPU (struct kvm_sregs, KVM_GET/SET_SREGS). */
import type { X86DescriptorTable, X86Segment, X86SegmentRegister } from "../../../arch/x86_64/segments.ts";
import type { X86VcpuState } from "../../../arch/x86_64/vcpu-state.ts";
import * as sys from "../sys.ts";
import { KVM_DTABLE_LAYOUT, KVM_GET_SREGS, KVM_SEGMENT_LAYOUT, KVM_SET_SREGS, KVM_SREGS_LAYOUT } from "./abi.ts";

const S = KVM_SREGS_LAYOUT.fields;
const SEG = KVM_SEGMENT_LAYOUT.fields;

/** The special registers as KVM reports them (for tests and diagnostics). */
export interface X86SpecialRegisters {
  readonly cr0: bigint;
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly efer: bigint;
  readonly cs: X86Segment;
  readonly ss: X86Segment;
  readonly ds: X86Segment;
  readonly es: X86Segment;
  readonly fs: X86Segment;
  readonly gs: X86Segment;
}

/** Set the state's segments, descriptor tables and control registers; KVM keeps the rest as it was. */
export function setSregs(vcpuFd: number, state: X86VcpuState): void {
  const sregs = new Uint8Array(KVM_SREGS_LAYOUT.size);
  sys.ioctlBuf(vcpuFd, KVM_GET_SREGS, sregs);
  const view = new DataView(sregs.buffer);
  for (const [name, segment] of Object.entries(state.segments ?? {})) {
    if (segment !== undefined) writeSegment(view, S[name as X86SegmentRegister].offset, segment);
  }
  if (state.gdt !== undefined) writeDtable(view, S.gdt.offset, state.gdt);
  if (state.idt !== undefined) writeDtable(view, S.idt.offset, state.idt);
  if (state.cr0 !== undefined) view.setBigUint64(S.cr0.offset, state.cr0, true);
  if (state.cr3 !== undefined) view.setBigUint64(S.cr3.offset, state.cr3, true);
  if (state.cr4 !== undefined) view.setBigUint64(S.cr4.offset, state.cr4, true);
  if (state.efer !== undefined) view.setBigUint64(S.efer.offset, state.efer, true);
  sys.ioctlBuf(vcpuFd, KVM_SET_SREGS, sregs);
}

export function getSregs(vcpuFd: number): X86SpecialRegisters {
  const sregs = new Uint8Array(KVM_SREGS_LAYOUT.size);
  sys.ioctlBuf(vcpuFd, KVM_GET_SREGS, sregs);
  const view = new DataView(sregs.buffer);
  return {
    cr0: view.getBigUint64(S.cr0.offset, true),
    cr3: view.getBigUint64(S.cr3.offset, true),
    cr4: view.getBigUint64(S.cr4.offset, true),
    efer: view.getBigUint64(S.efer.offset, true),
    cs: readSegment(view, S.cs.offset),
    ss: readSegment(view, S.ss.offset),
    ds: readSegment(view, S.ds.offset),
    es: readSegment(view, S.es.offset),
    fs: readSegment(view, S.fs.offset),
    gs: readSegment(view, S.gs.offset),
  };
}

function writeSegment(view: DataView, at: number, segment: X86Segment): void {
  view.setBigUint64(at + SEG.base.offset, BigInt(segment.base), true);
  view.setUint32(at + SEG.limit.offset, segment.limit >>> 0, true);
  view.setUint16(at + SEG.selector.offset, segment.selector, true);
  view.setUint8(at + SEG.type.offset, segment.type);
  view.setUint8(at + SEG.present.offset, segment.present ? 1 : 0);
  view.setUint8(at + SEG.dpl.offset, segment.dpl);
  view.setUint8(at + SEG.db.offset, segment.db ? 1 : 0);
  view.setUint8(at + SEG.s.offset, segment.s ? 1 : 0);
  view.setUint8(at + SEG.l.offset, segment.l ? 1 : 0);
  view.setUint8(at + SEG.g.offset, segment.g ? 1 : 0);
  view.setUint8(at + SEG.avl.offset, segment.avl ? 1 : 0);
  view.setUint8(at + SEG.unusable.offset, segment.unusable === true ? 1 : 0);
}

function readSegment(view: DataView, at: number): X86Segment {
  return {
    base: Number(view.getBigUint64(at + SEG.base.offset, true)),
    limit: view.getUint32(at + SEG.limit.offset, true),
    selector: view.getUint16(at + SEG.selector.offset, true),
    type: view.getUint8(at + SEG.type.offset),
    present: view.getUint8(at + SEG.present.offset) !== 0,
    dpl: view.getUint8(at + SEG.dpl.offset),
    db: view.getUint8(at + SEG.db.offset) !== 0,
    s: view.getUint8(at + SEG.s.offset) !== 0,
    l: view.getUint8(at + SEG.l.offset) !== 0,
    g: view.getUint8(at + SEG.g.offset) !== 0,
    avl: view.getUint8(at + SEG.avl.offset) !== 0,
    unusable: view.getUint8(at + SEG.unusable.offset) !== 0,
  };
}

function writeDtable(view: DataView, at: number, table: X86DescriptorTable): void {
  view.setBigUint64(at + KVM_DTABLE_LAYOUT.fields.base.offset, BigInt(table.base), true);
  view.setUint16(at + KVM_DTABLE_LAYOUT.fields.limit.offset, table.limit, true);
}
