/**
 * virtio-blk (OASIS virtio 1.2 §5.2 "Block Device"), one request queue, over a synchronous `BlockBackend`.
 *
 * A request is `struct virtio_blk_req { le32 type; le32 reserved; le64 sector; u8 data[]; u8 status; }`: the
 * 16-byte header and (for writes) the data are the chain's device-readable bytes; (for reads) the data and, last,
 * the status byte are its device-writable bytes. The device reads these as byte streams and never depends on
 * how the driver split them into descriptors (§2.7.4).
 *
 * Offered features: SEG_MAX and SIZE_MAX (what one request may carry), FLUSH, and RO for a read-only disk; a
 * read-write disk also offers DISCARD and WRITE_ZEROES (a read-only one does not: there is nothing to change).
 * Requests:
 * - IN / OUT: the data length must be a multiple of 512, at most seg_max * size_max bytes, and the sectors must
 *   lie within `capacity`; otherwise (and on a backend error) the status is VIRTIO_BLK_S_IOERR. An OUT on a
 *   read-only disk is IOERR without touching the store (§5.2.6.2). When the driver did not negotiate FLUSH, every
 *   write is flushed before it completes (§5.2.6.2: with FLUSH offered but not negotiated, completed writes must
 *   be stable).
 * - FLUSH: flush the backend. GET_ID: the serial, NUL-padded to 20 bytes (truncated to the buffer).
 * - DISCARD / WRITE_ZEROES (§5.2.6, only when the driver negotiated the feature, else UNSUPP): the data is 1..max_seg
 *   16-byte segments `{ le64 sector; le32 num_sectors; le32 flags }`, all checked before any is done: a flag other
 *   than `unmap`, or `unmap` on a discard, is UNSUPP (§5.2.6.2); a data length that is not whole segments, too many
 *   segments, a segment over max_*_sectors or outside the disk is IOERR. A discard, and a write-zeroes with `unmap`
 *   (write_zeroes_may_unmap is 1), deallocate the range (`BlockBackend.deallocate`: a hole in a sparse image, so a
 *   guest's `fstrim` gives the space back to the host); where the backend cannot, and for a write-zeroes without
 *   `unmap`, zeros are written, a turn's budget at a time. Either way the range then reads as zeros.
 * - Anything else (SECURE_ERASE, GET_LIFETIME, zoned commands, legacy SCSI): UNSUPP.
 * - The status byte is written last, after the data. A chain without a device-writable byte cannot carry a
 *   status: it is returned with used length 0 and counted as malformed.
 * - The request queue is served in bounded turns (`QueueWorker`): a request of up to seg_max * size_max bytes
 *   (32 MiB by default) moves a turn's budget of data at a time, so a full queue of large requests cannot hold the
 *   thread every VM runs on. A request completes (status written, used ring) only when all its data has moved.
 * - Used length (§2.7.8.2: bytes written from the start of the writable area): the whole writable area for a
 *   successful IN or GET_ID that filled it; 1 when the status byte is the only writable byte; otherwise 0 (an
 *   underestimate, which the spec allows when the data area was not written).
 */

import { DeviceError } from "../errors.ts";
import type { BlockBackend } from "./block-backend.ts";
import { readConfigBytes } from "./config-space.ts";
import { featureBit, hasFeature, VIRTIO_ID_BLOCK } from "./constants.ts";
import { checkedQueueSize, type VirtioDevice, type VirtioDeviceContext } from "./device.ts";
import type { DescriptorChain } from "./queue.ts";
import { type ChainStep, type ChainWork, finished, QueueWorker } from "./queue-worker.ts";

// Feature bits (§5.2.3).
export const VIRTIO_BLK_F_SIZE_MAX = 1;
export const VIRTIO_BLK_F_SEG_MAX = 2;
export const VIRTIO_BLK_F_GEOMETRY = 4;
export const VIRTIO_BLK_F_RO = 5;
export const VIRTIO_BLK_F_BLK_SIZE = 6;
export const VIRTIO_BLK_F_FLUSH = 9;
export const VIRTIO_BLK_F_TOPOLOGY = 10;
export const VIRTIO_BLK_F_CONFIG_WCE = 11;
export const VIRTIO_BLK_F_MQ = 12;
export const VIRTIO_BLK_F_DISCARD = 13;
export const VIRTIO_BLK_F_WRITE_ZEROES = 14;
export const VIRTIO_BLK_F_LIFETIME = 15;
export const VIRTIO_BLK_F_SECURE_ERASE = 16;
export const VIRTIO_BLK_F_ZONED = 17;

// Request types (§5.2.6).
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_GET_LIFETIME = 10;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;
export const VIRTIO_BLK_T_SECURE_ERASE = 14;

// Status values.
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

/** The protocol's sector: capacity and `sector` are in these units whatever the disk's block size. */
export const VIRTIO_BLK_SECTOR_SIZE = 512;
/** Length of the device ID string returned by VIRTIO_BLK_T_GET_ID. */
export const VIRTIO_BLK_ID_BYTES = 20;
/** type, reserved, sector. */
export const VIRTIO_BLK_REQ_HEADER_SIZE = 16;

// Configuration space layout (`struct virtio_blk_config`), up to `unused1`.
export const VIRTIO_BLK_CONFIG_CAPACITY = 0;
export const VIRTIO_BLK_CONFIG_SIZE_MAX = 8;
export const VIRTIO_BLK_CONFIG_SEG_MAX = 12;
export const VIRTIO_BLK_CONFIG_GEOMETRY = 16;
export const VIRTIO_BLK_CONFIG_BLK_SIZE = 20;
export const VIRTIO_BLK_CONFIG_TOPOLOGY = 24;
export const VIRTIO_BLK_CONFIG_WRITEBACK = 32;
export const VIRTIO_BLK_CONFIG_NUM_QUEUES = 34;
export const VIRTIO_BLK_CONFIG_MAX_DISCARD_SECTORS = 36;
export const VIRTIO_BLK_CONFIG_MAX_DISCARD_SEG = 40;
export const VIRTIO_BLK_CONFIG_DISCARD_SECTOR_ALIGNMENT = 44;
export const VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS = 48;
export const VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SEG = 52;
export const VIRTIO_BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP = 56;
export const VIRTIO_BLK_CONFIG_SIZE = 60;

/** `struct virtio_blk_discard_write_zeroes`: le64 sector, le32 num_sectors, le32 flags. */
export const VIRTIO_BLK_DWZ_SEGMENT_SIZE = 16;
/** The one defined flag of a discard/write-zeroes segment; every other bit is reserved. */
export const VIRTIO_BLK_DWZ_FLAG_UNMAP = 1;
/** Sectors one discard or write-zeroes segment may cover: QEMU's limit (just under 2 GiB). */
export const VIRTIO_BLK_MAX_DISCARD_SECTORS = 0x3f_ffff;
export const VIRTIO_BLK_MAX_WRITE_ZEROES_SECTORS = 0x3f_ffff;
/**
 * Segments per request. Linux merges the free ranges `fstrim` sends into multi-segment discards; 32 segments are
 * 512 bytes of header to read, and the work behind them is bounded per turn like any data.
 */
export const VIRTIO_BLK_MAX_DISCARD_SEG = 32;
export const VIRTIO_BLK_MAX_WRITE_ZEROES_SEG = 32;
/**
 * Discard alignment hint, in sectors: 4 KiB, the block of the host file systems images live on. The host kernel
 * zeroes the unaligned ends of a punched range in place instead of freeing them, so aligned discards free the most.
 */
export const VIRTIO_BLK_DISCARD_SECTOR_ALIGNMENT = 8;
/** What one deallocation (one fallocate call) counts against a turn's budget. */
const DEALLOCATE_COST = 0x1000;

export const VIRTIO_BLK_DEFAULT_QUEUE_SIZE = 256;
/** Default largest segment: 128 KiB (QEMU leaves size_max 0; a bound keeps one request's work bounded). */
export const VIRTIO_BLK_DEFAULT_SIZE_MAX = 0x2_0000;
/** Bytes moved between the backend and guest memory per step. */
const TRANSFER_CHUNK = 0x1_0000;
/**
 * Bytes of data the request queue moves per turn. Larger than the default: the disk path reuses one buffer (no
 * allocation per byte), so half a MiB of pread/pwrite through the page cache costs well under a millisecond.
 */
export const VIRTIO_BLK_TURN_BUDGET = 0x8_0000;

export interface VirtioBlockOptions {
  readonly backend: BlockBackend;
  /** Offer VIRTIO_BLK_F_RO and fail writes. Default false. */
  readonly readOnly?: boolean;
  /** The device ID string for GET_ID (ASCII, at most 20 bytes). Default "axvisor-virtio-blk". */
  readonly serial?: string;
  /** Maximum request queue size (a power of two, 4..32768). Default 256. */
  readonly queueSize?: number;
  /** `size_max`: the largest segment in bytes (at least 4096). Default 128 KiB. */
  readonly sizeMax?: number;
}

export interface VirtioBlockStats {
  requests: number;
  reads: number;
  writes: number;
  flushes: number;
  bytesRead: number;
  bytesWritten: number;
  discards: number;
  writeZeroes: number;
  /** Bytes of discard/write-zeroes ranges the backend deallocated (holes punched). */
  bytesDeallocated: number;
  /** Bytes of discard/write-zeroes ranges written as zeros (no unmap, or a backend that cannot deallocate). */
  bytesZeroed: number;
  /** Requests completed with VIRTIO_BLK_S_IOERR. */
  ioErrors: number;
  /** Requests completed with VIRTIO_BLK_S_UNSUPP. */
  unsupported: number;
  /** Chains without room for a status byte, or with a short header. */
  malformed: number;
}

/** Nothing guest-visible lives in the device beyond the transport's registers and queues. */
export type VirtioBlockState = Readonly<Record<string, never>>;

const QUEUE_REQUEST = 0;

/** One segment of a discard or write-zeroes request, in bytes; `deallocate`: a discard, or `unmap` was set. */
interface ClearRange {
  readonly offset: number;
  readonly length: number;
  readonly deallocate: boolean;
}

export class VirtioBlock implements VirtioDevice<VirtioBlockState> {
  readonly name = "virtio-blk";
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly features: bigint;
  readonly queueMaxSizes: readonly number[];
  readonly configSize = VIRTIO_BLK_CONFIG_SIZE;
  readonly backend: BlockBackend;
  readonly readOnly: boolean;
  /** Disk size in 512-byte sectors (a partial last sector is not visible). */
  readonly capacity: number;
  readonly segMax: number;
  readonly sizeMax: number;
  readonly stats: VirtioBlockStats = {
    requests: 0,
    reads: 0,
    writes: 0,
    flushes: 0,
    bytesRead: 0,
    bytesWritten: 0,
    discards: 0,
    writeZeroes: 0,
    bytesDeallocated: 0,
    bytesZeroed: 0,
    ioErrors: 0,
    unsupported: 0,
    malformed: 0,
  };

  readonly #config = new Uint8Array(VIRTIO_BLK_CONFIG_SIZE);
  readonly #id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
  readonly #header = new Uint8Array(VIRTIO_BLK_REQ_HEADER_SIZE);
  readonly #headerView = new DataView(this.#header.buffer);
  readonly #chunk = new Uint8Array(TRANSFER_CHUNK);
  /** Never written: the source of write-zeroes data. */
  readonly #zeros = new Uint8Array(TRANSFER_CHUNK);
  readonly #segments = new Uint8Array(
    Math.max(VIRTIO_BLK_MAX_DISCARD_SEG, VIRTIO_BLK_MAX_WRITE_ZEROES_SEG) * VIRTIO_BLK_DWZ_SEGMENT_SIZE,
  );
  #context: VirtioDeviceContext | undefined;
  #requests: QueueWorker | undefined;

  constructor(options: VirtioBlockOptions) {
    const what = "Cannot create a virtio-blk device";
    const queueSize = checkedQueueSize("virtio-blk", what, options.queueSize ?? VIRTIO_BLK_DEFAULT_QUEUE_SIZE, 4);
    const sizeMax = options.sizeMax ?? VIRTIO_BLK_DEFAULT_SIZE_MAX;
    if (!Number.isInteger(sizeMax) || sizeMax < 4096 || sizeMax > 0xffff_ffff) {
      throw new DeviceError(
        "virtio-blk",
        "invalid-config",
        `${what}: size_max ${String(sizeMax)} is not in 4096..2^32-1`,
      );
    }
    const serial = options.serial ?? "axvisor-virtio-blk";
    if (!/^[\x20-\x7e]*$/.test(serial) || serial.length > VIRTIO_BLK_ID_BYTES) {
      throw new DeviceError(
        "virtio-blk",
        "invalid-config",
        `${what}: serial ${JSON.stringify(serial)} is not printable ASCII of at most ${String(VIRTIO_BLK_ID_BYTES)} bytes`,
      );
    }
    const size = options.backend.size;
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new DeviceError(
        "virtio-blk",
        "invalid-config",
        `${what}: the backend size ${String(size)} is not a byte count`,
      );
    }
    this.backend = options.backend;
    this.readOnly = options.readOnly ?? false;
    this.capacity = Math.floor(size / VIRTIO_BLK_SECTOR_SIZE);
    // A request is header + data segments + status in at most queueSize descriptors (§2.7.5.3.1), as QEMU does.
    this.segMax = queueSize - 2;
    this.sizeMax = sizeMax;
    this.queueMaxSizes = [queueSize];
    this.features =
      featureBit(VIRTIO_BLK_F_SIZE_MAX) |
      featureBit(VIRTIO_BLK_F_SEG_MAX) |
      featureBit(VIRTIO_BLK_F_FLUSH) |
      (this.readOnly
        ? featureBit(VIRTIO_BLK_F_RO)
        : featureBit(VIRTIO_BLK_F_DISCARD) | featureBit(VIRTIO_BLK_F_WRITE_ZEROES));
    this.#id.set(new TextEncoder().encode(serial));

    const view = new DataView(this.#config.buffer);
    view.setBigUint64(VIRTIO_BLK_CONFIG_CAPACITY, BigInt(this.capacity), true);
    view.setUint32(VIRTIO_BLK_CONFIG_SIZE_MAX, sizeMax, true);
    view.setUint32(VIRTIO_BLK_CONFIG_SEG_MAX, this.segMax, true);
    if (!this.readOnly) {
      view.setUint32(VIRTIO_BLK_CONFIG_MAX_DISCARD_SECTORS, VIRTIO_BLK_MAX_DISCARD_SECTORS, true);
      view.setUint32(VIRTIO_BLK_CONFIG_MAX_DISCARD_SEG, VIRTIO_BLK_MAX_DISCARD_SEG, true);
      view.setUint32(VIRTIO_BLK_CONFIG_DISCARD_SECTOR_ALIGNMENT, VIRTIO_BLK_DISCARD_SECTOR_ALIGNMENT, true);
      view.setUint32(VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SECTORS, VIRTIO_BLK_MAX_WRITE_ZEROES_SECTORS, true);
      view.setUint32(VIRTIO_BLK_CONFIG_MAX_WRITE_ZEROES_SEG, VIRTIO_BLK_MAX_WRITE_ZEROES_SEG, true);
      view.setUint8(VIRTIO_BLK_CONFIG_WRITE_ZEROES_MAY_UNMAP, 1);
    }
  }

  /** The most data bytes one request may carry (seg_max segments of size_max). */
  get maxRequestBytes(): number {
    return this.segMax * this.sizeMax;
  }

  readConfig(offset: number, width: 1 | 2 | 4): number {
    return readConfigBytes(this.#config, offset, width);
  }

  writeConfig(): void {
    // Every field is read-only without VIRTIO_BLK_F_CONFIG_WCE (not offered): writes are ignored.
  }

  activate(context: VirtioDeviceContext): void {
    this.#context = context;
    this.#requests = new QueueWorker(QUEUE_REQUEST, (chain) => this.#begin(chain, context), {
      budget: VIRTIO_BLK_TURN_BUDGET,
    });
  }

  reset(): void {
    this.#context = undefined;
    this.#requests = undefined;
  }

  queueNotify(index: number): void {
    const context = this.#context;
    if (context === undefined || index !== QUEUE_REQUEST) return;
    this.#requests?.serve(context);
  }

  snapshot(): VirtioBlockState {
    if (this.#requests?.busy === true) {
      throw new DeviceError(
        "virtio-blk",
        "invalid-state",
        "Cannot snapshot the disk: requests are being served over several turns (take it once the VM is idle)",
      );
    }
    return {};
  }

  restore(): void {
    // Nothing to restore: the backing store is host state, the queues belong to the transport.
  }

  /**
   * Start one request. IN and OUT move their data over as many steps as the budget needs; everything else (and
   * every request that fails its checks) finishes at once. The status byte goes last, after the data.
   */
  #begin(chain: DescriptorChain, context: VirtioDeviceContext): ChainWork {
    this.stats.requests++;
    if (chain.writableLength < 1) {
      this.stats.malformed++;
      return finished(0);
    }
    const statusAt = chain.writableLength - 1;
    const statusOnly = statusAt === 0 ? 1 : 0;
    const complete = (status: number, used: number): ChainStep => {
      if (status === VIRTIO_BLK_S_IOERR) this.stats.ioErrors++;
      if (status === VIRTIO_BLK_S_UNSUPP) this.stats.unsupported++;
      chain.write(statusAt, Uint8Array.of(status));
      return { spent: 1, used };
    };
    if (chain.read(0, this.#header) < VIRTIO_BLK_REQ_HEADER_SIZE) {
      this.stats.malformed++;
      return () => complete(VIRTIO_BLK_S_IOERR, statusOnly);
    }
    const type = this.#headerView.getUint32(0, true);
    const sectorLow = this.#headerView.getUint32(8, true);
    const sectorHigh = this.#headerView.getUint32(12, true);
    switch (type) {
      case VIRTIO_BLK_T_IN: {
        const offset = this.#range(sectorLow, sectorHigh, statusAt);
        if (offset === undefined) return () => complete(VIRTIO_BLK_S_IOERR, statusOnly);
        this.stats.reads++;
        return this.#transfer(chain, "in", offset, statusAt, (ok) =>
          ok ? complete(VIRTIO_BLK_S_OK, chain.writableLength) : complete(VIRTIO_BLK_S_IOERR, statusOnly),
        );
      }
      case VIRTIO_BLK_T_OUT: {
        if (this.readOnly) return () => complete(VIRTIO_BLK_S_IOERR, statusOnly);
        const length = chain.readableLength - VIRTIO_BLK_REQ_HEADER_SIZE;
        const offset = this.#range(sectorLow, sectorHigh, length);
        if (offset === undefined) return () => complete(VIRTIO_BLK_S_IOERR, statusOnly);
        this.stats.writes++;
        return this.#transfer(chain, "out", offset, length, (ok) => {
          if (!ok) return complete(VIRTIO_BLK_S_IOERR, statusOnly);
          // A driver that cannot send FLUSH gets write-through semantics.
          if (!hasFeature(context.features, VIRTIO_BLK_F_FLUSH)) {
            try {
              this.backend.flush();
            } catch {
              return complete(VIRTIO_BLK_S_IOERR, statusOnly);
            }
          }
          return complete(VIRTIO_BLK_S_OK, statusOnly);
        });
      }
      case VIRTIO_BLK_T_FLUSH:
        return () => complete(this.#flush(), statusOnly);
      case VIRTIO_BLK_T_DISCARD:
      case VIRTIO_BLK_T_WRITE_ZEROES: {
        const discard = type === VIRTIO_BLK_T_DISCARD;
        if (!hasFeature(context.features, discard ? VIRTIO_BLK_F_DISCARD : VIRTIO_BLK_F_WRITE_ZEROES))
          return () => complete(VIRTIO_BLK_S_UNSUPP, statusOnly);
        if (this.readOnly) return () => complete(VIRTIO_BLK_S_IOERR, statusOnly);
        const ranges = this.#segmentsOf(chain, discard);
        if (typeof ranges === "number") return () => complete(ranges, statusOnly);
        if (discard) this.stats.discards++;
        else this.stats.writeZeroes++;
        return this.#clear(ranges, (ok) => {
          if (!ok) return complete(VIRTIO_BLK_S_IOERR, statusOnly);
          if (!hasFeature(context.features, VIRTIO_BLK_F_FLUSH)) {
            try {
              this.backend.flush();
            } catch {
              return complete(VIRTIO_BLK_S_IOERR, statusOnly);
            }
          }
          return complete(VIRTIO_BLK_S_OK, statusOnly);
        });
      }
      case VIRTIO_BLK_T_GET_ID:
        return () => {
          const n = Math.min(VIRTIO_BLK_ID_BYTES, statusAt);
          chain.write(0, this.#id.subarray(0, n));
          return complete(VIRTIO_BLK_S_OK, n === statusAt ? chain.writableLength : n);
        };
      default:
        return () => complete(VIRTIO_BLK_S_UNSUPP, statusOnly);
    }
  }

  /**
   * The byte ranges of a discard or write-zeroes request's segments, every one checked before any is served, or
   * the status that refuses the request: UNSUPP for a reserved flag or `unmap` on a discard (§5.2.6.2), IOERR for
   * data that is not 1..max_seg whole segments, a segment over max_*_sectors, or one outside the disk.
   */
  #segmentsOf(chain: DescriptorChain, discard: boolean): ClearRange[] | number {
    const length = chain.readableLength - VIRTIO_BLK_REQ_HEADER_SIZE;
    const maxSegments = discard ? VIRTIO_BLK_MAX_DISCARD_SEG : VIRTIO_BLK_MAX_WRITE_ZEROES_SEG;
    const maxSectors = discard ? VIRTIO_BLK_MAX_DISCARD_SECTORS : VIRTIO_BLK_MAX_WRITE_ZEROES_SECTORS;
    if (
      length < VIRTIO_BLK_DWZ_SEGMENT_SIZE ||
      length % VIRTIO_BLK_DWZ_SEGMENT_SIZE !== 0 ||
      length > maxSegments * VIRTIO_BLK_DWZ_SEGMENT_SIZE
    ) {
      this.stats.malformed++;
      return VIRTIO_BLK_S_IOERR;
    }
    const bytes = this.#segments.subarray(0, length);
    if (chain.read(VIRTIO_BLK_REQ_HEADER_SIZE, bytes) < length) {
      this.stats.malformed++;
      return VIRTIO_BLK_S_IOERR;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const ranges: ClearRange[] = [];
    let status = VIRTIO_BLK_S_OK;
    for (let at = 0; at < length; at += VIRTIO_BLK_DWZ_SEGMENT_SIZE) {
      const sectorLow = view.getUint32(at, true);
      const sectorHigh = view.getUint32(at + 4, true);
      const sectors = view.getUint32(at + 8, true);
      const flags = view.getUint32(at + 12, true);
      const unmap = (flags & VIRTIO_BLK_DWZ_FLAG_UNMAP) !== 0;
      // UNSUPP wins over IOERR: a driver using flags we do not know gets told so, whatever else is wrong.
      if ((flags & ~VIRTIO_BLK_DWZ_FLAG_UNMAP) !== 0 || (discard && unmap)) return VIRTIO_BLK_S_UNSUPP;
      if (status !== VIRTIO_BLK_S_OK) continue;
      const offset =
        sectors > maxSectors ? undefined : this.#range(sectorLow, sectorHigh, sectors * VIRTIO_BLK_SECTOR_SIZE, true);
      if (offset === undefined) status = VIRTIO_BLK_S_IOERR;
      else if (sectors > 0)
        ranges.push({ offset, length: sectors * VIRTIO_BLK_SECTOR_SIZE, deallocate: discard || unmap });
    }
    return status === VIRTIO_BLK_S_OK ? ranges : status;
  }

  /**
   * Make `ranges` read as zeros: a deallocation where asked and the backend can (one call per range), zeros
   * written otherwise, a budget's worth per step; `end(ok)` completes the request.
   */
  #clear(ranges: readonly ClearRange[], end: (ok: boolean) => ChainStep): ChainWork {
    let index = 0;
    let done = 0;
    let zeroing = false;
    return (budget) => {
      let spent = 0;
      try {
        while (index < ranges.length && spent < budget) {
          const range = ranges[index];
          if (range === undefined) break;
          if (!zeroing && done === 0 && range.deallocate) {
            spent += DEALLOCATE_COST;
            if (this.backend.deallocate?.(range.offset, range.length) === true) {
              this.stats.bytesDeallocated += range.length;
              index++;
              continue;
            }
          }
          zeroing = true;
          const n = Math.min(TRANSFER_CHUNK, range.length - done, Math.max(1, budget - spent));
          this.backend.write(range.offset + done, this.#zeros.subarray(0, n));
          done += n;
          spent += n;
          this.stats.bytesZeroed += n;
          if (done === range.length) {
            index++;
            done = 0;
            zeroing = false;
          }
        }
      } catch {
        return end(false);
      }
      if (index < ranges.length) return { spent };
      const last = end(true);
      return { spent: spent + last.spent, used: last.used ?? 0 };
    };
  }

  /** The byte offset of a request's data, or undefined when it does not fit the disk or the request limits. */
  #range(sectorLow: number, sectorHigh: number, length: number, unbounded = false): number | undefined {
    if (length % VIRTIO_BLK_SECTOR_SIZE !== 0 || (!unbounded && length > this.maxRequestBytes)) return undefined;
    // Compare in sectors: a 64-bit sector number from the guest can exceed 2^53.
    if (sectorHigh > 0 && sectorHigh * 0x1_0000_0000 > this.capacity) return undefined;
    const sector = sectorHigh * 0x1_0000_0000 + sectorLow;
    if (sector > this.capacity || length / VIRTIO_BLK_SECTOR_SIZE > this.capacity - sector) return undefined;
    return sector * VIRTIO_BLK_SECTOR_SIZE;
  }

  /**
   * Move `length` bytes between the disk at `offset` and the chain (IN: into its writable bytes from 0; OUT: from
   * its readable bytes after the header), a budget's worth per step; `end(ok)` completes the request.
   */
  #transfer(
    chain: DescriptorChain,
    direction: "in" | "out",
    offset: number,
    length: number,
    end: (ok: boolean) => ChainStep,
  ): ChainWork {
    let done = 0;
    return (budget) => {
      let spent = 0;
      try {
        while (done < length && spent < budget) {
          const buffer = this.#chunk.subarray(0, Math.min(TRANSFER_CHUNK, length - done, budget - spent));
          if (direction === "in") {
            this.backend.read(offset + done, buffer);
            chain.write(done, buffer);
          } else {
            chain.read(VIRTIO_BLK_REQ_HEADER_SIZE + done, buffer);
            this.backend.write(offset + done, buffer);
          }
          done += buffer.length;
          spent += buffer.length;
        }
      } catch {
        return end(false);
      }
      if (done < length) return { spent };
      if (direction === "in") this.stats.bytesRead += length;
      else this.stats.bytesWritten += length;
      const last = end(true);
      return { spent: spent + last.spent, used: last.used ?? 0 };
    };
  }

  #flush(): number {
    this.stats.flushes++;
    try {
      this.backend.flush();
      return VIRTIO_BLK_S_OK;
    } catch {
      return VIRTIO_BLK_S_IOERR;
    }
  }
}
