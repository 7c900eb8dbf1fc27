/**
 * virtio-blk (OASIS virtio 1.2 §5.2 "Block Device"), one request queue, over a synchronous `BlockBackend`.
 *
 * A request is `struct virtio_blk_req { le32 type; le32 reserved; le64 sector; u8 data[]; u8 status; }`: the
 * 16-byte header and (for writes) the data are the chain's device-readable bytes; (for reads) the data and, last,
 * the status byte are its device-writable bytes. The device reads these as byte streams and never depends on
 * how the driver split them into descriptors (§2.7.4).
 *
 * Offered features: SEG_MAX and SIZE_MAX (what one request may carry), FLUSH, and RO for a read-only disk.
 * Requests:
 * - IN / OUT: the data length must be a multiple of 512, at most seg_max * size_max bytes, and the sectors must
 *   lie within `capacity`; otherwise (and on a backend error) the status is VIRTIO_BLK_S_IOERR. An OUT on a
 *   read-only disk is IOERR without touching the store (§5.2.6.2). When the driver did not negotiate FLUSH, every
 *   write is flushed before it completes (§5.2.6.2: with FLUSH offered but not negotiated, completed writes must
 *   be stable).
 * - FLUSH: flush the backend. GET_ID: the serial, NUL-padded to 20 bytes (truncated to the buffer).
 * - Anything else (DISCARD, WRITE_ZEROES, SECURE_ERASE, GET_LIFETIME, zoned commands, legacy SCSI): UNSUPP.
 * - The status byte is written last, after the data. A chain without a device-writable byte cannot carry a
 *   status: it is returned with used length 0 and counted as malformed.
 * - Used length (§2.7.8.2: bytes written from the start of the writable area): the whole writable area for a
 *   successful IN or GET_ID that filled it; 1 when the status byte is the only writable byte; otherwise 0 (an
 *   underestimate, which the spec allows when the data area was not written).
 */

import { DeviceError } from "../errors.ts";
import type { BlockBackend } from "./block-backend.ts";
import { readConfigBytes } from "./config-space.ts";
import { featureBit, hasFeature, VIRTIO_ID_BLOCK } from "./constants.ts";
import { serveQueue, type VirtioDevice, type VirtioDeviceContext } from "./device.ts";
import { type DescriptorChain, VIRTQ_MAX_SIZE } from "./queue.ts";

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
export const VIRTIO_BLK_CONFIG_SIZE = 60;

export const VIRTIO_BLK_DEFAULT_QUEUE_SIZE = 256;
/** Default largest segment: 128 KiB (QEMU leaves size_max 0; a bound keeps one request's work bounded). */
export const VIRTIO_BLK_DEFAULT_SIZE_MAX = 0x2_0000;
/** Bytes moved between the backend and guest memory per step. */
const TRANSFER_CHUNK = 0x1_0000;

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
    ioErrors: 0,
    unsupported: 0,
    malformed: 0,
  };

  readonly #config = new Uint8Array(VIRTIO_BLK_CONFIG_SIZE);
  readonly #id = new Uint8Array(VIRTIO_BLK_ID_BYTES);
  readonly #header = new Uint8Array(VIRTIO_BLK_REQ_HEADER_SIZE);
  readonly #headerView = new DataView(this.#header.buffer);
  readonly #chunk = new Uint8Array(TRANSFER_CHUNK);
  #context: VirtioDeviceContext | undefined;

  constructor(options: VirtioBlockOptions) {
    const what = "Cannot create a virtio-blk device";
    const queueSize = options.queueSize ?? VIRTIO_BLK_DEFAULT_QUEUE_SIZE;
    if (
      !Number.isInteger(queueSize) ||
      queueSize < 4 ||
      queueSize > VIRTQ_MAX_SIZE ||
      (queueSize & (queueSize - 1)) !== 0
    ) {
      throw new DeviceError(
        "virtio-blk",
        "invalid-config",
        `${what}: queue size ${String(queueSize)} is not a power of two in 4..${String(VIRTQ_MAX_SIZE)}`,
      );
    }
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
      (this.readOnly ? featureBit(VIRTIO_BLK_F_RO) : 0n);
    this.#id.set(new TextEncoder().encode(serial));

    const view = new DataView(this.#config.buffer);
    view.setBigUint64(VIRTIO_BLK_CONFIG_CAPACITY, BigInt(this.capacity), true);
    view.setUint32(VIRTIO_BLK_CONFIG_SIZE_MAX, sizeMax, true);
    view.setUint32(VIRTIO_BLK_CONFIG_SEG_MAX, this.segMax, true);
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
  }

  reset(): void {
    this.#context = undefined;
  }

  queueNotify(index: number): void {
    const context = this.#context;
    if (context === undefined || index !== QUEUE_REQUEST) return;
    serveQueue(context, index, (chain) => this.#handle(chain, context));
  }

  snapshot(): VirtioBlockState {
    return {};
  }

  restore(): void {
    // Nothing to restore: the backing store is host state, the queues belong to the transport.
  }

  /** Carry out one request; returns the used length. */
  #handle(chain: DescriptorChain, context: VirtioDeviceContext): number {
    this.stats.requests++;
    if (chain.writableLength < 1) {
      this.stats.malformed++;
      return 0;
    }
    const statusAt = chain.writableLength - 1;
    let status: number;
    let used = statusAt === 0 ? 1 : 0;
    if (chain.read(0, this.#header) < VIRTIO_BLK_REQ_HEADER_SIZE) {
      this.stats.malformed++;
      status = VIRTIO_BLK_S_IOERR;
    } else {
      const type = this.#headerView.getUint32(0, true);
      const sectorLow = this.#headerView.getUint32(8, true);
      const sectorHigh = this.#headerView.getUint32(12, true);
      switch (type) {
        case VIRTIO_BLK_T_IN:
          status = this.#read(chain, sectorLow, sectorHigh, statusAt);
          if (status === VIRTIO_BLK_S_OK) used = chain.writableLength;
          break;
        case VIRTIO_BLK_T_OUT:
          status = this.#write(chain, sectorLow, sectorHigh, context);
          break;
        case VIRTIO_BLK_T_FLUSH:
          status = this.#flush();
          break;
        case VIRTIO_BLK_T_GET_ID: {
          const n = Math.min(VIRTIO_BLK_ID_BYTES, statusAt);
          chain.write(0, this.#id.subarray(0, n));
          status = VIRTIO_BLK_S_OK;
          used = n === statusAt ? chain.writableLength : n;
          break;
        }
        default:
          status = VIRTIO_BLK_S_UNSUPP;
      }
    }
    if (status === VIRTIO_BLK_S_IOERR) this.stats.ioErrors++;
    if (status === VIRTIO_BLK_S_UNSUPP) this.stats.unsupported++;
    chain.write(statusAt, Uint8Array.of(status));
    return used;
  }

  /** The byte offset of a request's data, or undefined when it does not fit the disk or the request limits. */
  #range(sectorLow: number, sectorHigh: number, length: number): number | undefined {
    if (length % VIRTIO_BLK_SECTOR_SIZE !== 0 || length > this.maxRequestBytes) return undefined;
    // Compare in sectors: a 64-bit sector number from the guest can exceed 2^53.
    if (sectorHigh > 0 && sectorHigh * 0x1_0000_0000 > this.capacity) return undefined;
    const sector = sectorHigh * 0x1_0000_0000 + sectorLow;
    if (sector > this.capacity || length / VIRTIO_BLK_SECTOR_SIZE > this.capacity - sector) return undefined;
    return sector * VIRTIO_BLK_SECTOR_SIZE;
  }

  #read(chain: DescriptorChain, sectorLow: number, sectorHigh: number, length: number): number {
    const offset = this.#range(sectorLow, sectorHigh, length);
    if (offset === undefined) return VIRTIO_BLK_S_IOERR;
    this.stats.reads++;
    try {
      for (let done = 0; done < length; ) {
        const buffer = this.#chunk.subarray(0, Math.min(TRANSFER_CHUNK, length - done));
        this.backend.read(offset + done, buffer);
        chain.write(done, buffer);
        done += buffer.length;
      }
    } catch {
      return VIRTIO_BLK_S_IOERR;
    }
    this.stats.bytesRead += length;
    return VIRTIO_BLK_S_OK;
  }

  #write(chain: DescriptorChain, sectorLow: number, sectorHigh: number, context: VirtioDeviceContext): number {
    if (this.readOnly) return VIRTIO_BLK_S_IOERR;
    const length = chain.readableLength - VIRTIO_BLK_REQ_HEADER_SIZE;
    const offset = this.#range(sectorLow, sectorHigh, length);
    if (offset === undefined) return VIRTIO_BLK_S_IOERR;
    this.stats.writes++;
    try {
      for (let done = 0; done < length; ) {
        const buffer = this.#chunk.subarray(0, Math.min(TRANSFER_CHUNK, length - done));
        chain.read(VIRTIO_BLK_REQ_HEADER_SIZE + done, buffer);
        this.backend.write(offset + done, buffer);
        done += buffer.length;
      }
      // A driver that cannot send FLUSH gets write-through semantics.
      if (!hasFeature(context.features, VIRTIO_BLK_F_FLUSH)) this.backend.flush();
    } catch {
      return VIRTIO_BLK_S_IOERR;
    }
    this.stats.bytesWritten += length;
    return VIRTIO_BLK_S_OK;
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
