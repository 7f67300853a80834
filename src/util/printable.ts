/**
 * Text from other devices (names, reasons) made safe to show: C0 and C1 control characters
 * (terminal escape sequences among them), DEL, and Unicode bidirectional overrides become U+FFFD,
 * so a peer cannot move the cursor, recolour a terminal or reorder what is printed around it.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g

export function printable (text: string, maxChars = 200): string {
  return text.replace(UNSAFE, '\uFFFD').slice(0, maxChars)
}
