/** Minor units as the CLI prints them: "0.94 EUR" (two decimals, the product's currencies). */
export function money(minor: number, currency: string): string {
  return `${(minor / 100).toFixed(2)} ${currency}`;
}
