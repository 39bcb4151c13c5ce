/**
 * CH-2 results and their Diameter Result-Code numbers (spec/ch2-contract.md "Results"; RFC 4006 §9, RFC 6733 §7.1).
 */
export const Ch2ResultCode = {
  SUCCESS: 2001, // DIAMETER_SUCCESS
  CREDIT_CONTROL_NOT_APPLICABLE: 4011, // RFC 4006 §9.1: the service is free / not credit-controlled
  END_USER_SERVICE_DENIED: 4010, // RFC 4006 §9.1
  CREDIT_LIMIT_REACHED: 4012, // RFC 4006 §9.1: the account cannot cover the service
  USER_UNKNOWN: 5030, // RFC 4006 §9.1
  RATING_FAILED: 5031, // RFC 4006 §9.1
  UNKNOWN_RESERVATION: 5002, // DIAMETER_UNKNOWN_SESSION_ID (RFC 6733 §7.1.5): no such credit-control session
  INVALID_REQUEST: 5004, // DIAMETER_INVALID_AVP_VALUE (RFC 6733 §7.1.5)
  TOO_BUSY: 3004, // DIAMETER_TOO_BUSY (RFC 6733 §7.1.3)
} as const;

export type Ch2Result = keyof typeof Ch2ResultCode;

export const CH2_RESULTS = Object.keys(Ch2ResultCode) as Ch2Result[];

/** Results after which the caller may deliver the service. */
export function isGranted(result: Ch2Result): boolean {
  return result === 'SUCCESS' || result === 'CREDIT_CONTROL_NOT_APPLICABLE';
}
