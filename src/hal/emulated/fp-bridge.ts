/**
 * The seam between the hart and the F/D unit in `./fpu/` (owned by the FPU engineer; contract in the project
 * brief): `FpState` holds the 32 FP registers as binary64 words plus fflags/frm, and `execFp` executes one
 * OP-FP / FMADD / FMSUB / FNMSUB / FNMADD instruction. The hart does FP loads/stores, NaN-boxing and the FS
 * checks itself and imports only these names from here.
 */

export { execFp, FP_ILLEGAL, FP_OK, FpState } from "./fpu/index.ts";
