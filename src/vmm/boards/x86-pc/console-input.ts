/**
 * Console input of the PC board: host keyboard bytes wait here until COM1's RX FIFO has room (the UART asks for
 * more when it does), so nothing typed is lost while the guest is slow to read (the riscv-virt boards do the same
 * with their UART).
 */

import type { Uart16550 } from "../../../devices/uart16550.ts";

export class X86ConsoleInput {
  /** Host input not yet accepted by the UART's RX FIFO. */
  #pending: number[] = [];
  #uart: Uart16550 | undefined;

  /** The UART that takes the input (until then, input waits). */
  attach(uart: Uart16550): void {
    this.#uart = uart;
    this.feed();
  }

  /** Host keyboard input for the guest. */
  push(bytes: Uint8Array): void {
    for (const byte of bytes) this.#pending.push(byte);
    this.feed();
  }

  /** Move waiting input into the UART's RX FIFO, as much as fits. */
  feed(): void {
    const uart = this.#uart;
    if (uart === undefined || this.#pending.length === 0) return;
    const accepted = uart.enqueueInput(Uint8Array.from(this.#pending.slice(0, uart.rxSpace)));
    this.#pending.splice(0, accepted);
  }

  /** Drop waiting input (the VM is closing). */
  clear(): void {
    this.#pending = [];
  }
}
