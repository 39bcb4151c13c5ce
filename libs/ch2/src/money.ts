/**
 * The largest amount of money the enabler keeps or moves, in minor units: 10^14 − 1.
 *
 * Every change of credit is a Redis Lua script, and Lua numbers are doubles: cjson encodes a number with 14
 * significant digits and Lua's `..` formats one with `%.14g`, so an amount of 10^14 or more is rounded in answers
 * and in stored charge records (and past 2^53 a double is not even exact). Balances are kept at or below this
 * limit (opening balance, top-ups and refunds are refused beyond it); every other amount — a debit, a hold, a
 * refund — is bounded by a balance, so capping the balance keeps every amount exact end to end.
 */
export const MAX_MONEY = 99_999_999_999_999;
