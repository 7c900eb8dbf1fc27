/**
 * Console input of the riscv-virt boards: host keyboard bytes wait here until the UART's RX FIFO has room (the
 * UART asks for more when it does), and SBI console reads and HTIF getchar take bytes from the UART, as OpenSBI's
 * getchar does on QEMU virt, so a guest sees one input stream whichever way it reads.
 */

import { LSR_DR, UART_LSR, UART_RBR, type Uart16550 } from "../../../devices/uart16550.ts";

export class ConsoleInput {
  /** Host input not yet accepted by the UART's RX FIFO. */
  #pending: number[] = [];
  #uart: Uart16550 | undefined;

  /** The UART that takes the input (until then, input waits). */
  attach(uart: Uart16550): void {
    this.#uart = uart;
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

  /** Up to `maxBytes` bytes the UART has received (empty when none); never blocks. */
  read(maxBytes: number): Uint8Array {
    const uart = this.#uart;
    const out: number[] = [];
    while (uart !== undefined && out.length < maxBytes && (uart.read(UART_LSR, 1) & LSR_DR) !== 0)
      out.push(uart.read(UART_RBR, 1));
    return Uint8Array.from(out);
  }

  /** Drop waiting input (the VM is closing). */
  clear(): void {
    this.#pending = [];
  }
}
