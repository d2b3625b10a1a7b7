/** Time and id formats several providers share. */

export function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/**
 * ISO 8601 UTC with `digits` fractional digits (Postmark writes 7, MailerSend 6): the milliseconds
 * padded with zeros, since the simulated clock has no finer grain.
 */
export function isoWithFraction(date: Date, digits: number, zone = 'Z'): string {
  const [whole = '', ms = '000'] = date.toISOString().slice(0, -1).split('.');
  return `${whole}${digits > 0 ? `.${ms.padEnd(digits, '0').slice(0, digits)}` : ''}${zone}`;
}

/** Unix seconds with a fraction as a JSON number (`1770146431.658`), as Mailgun and Postal send them. */
export function fractionalSeconds(date: Date): number {
  return date.getTime() / 1000;
}

/** The JSON text of `value`, as one compact line. */
export function json(value: unknown): string {
  return JSON.stringify(value);
}
