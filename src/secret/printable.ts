/*
 * Text keyhold did not write itself (a file name, a key read from a store, a server's message)
 * on its way to a terminal or a log: it must not move the cursor, erase what is shown or start a
 * line of its own. One home for this, used by the CLI's printers and by messages that quote such
 * text.
 */

/** Control characters (C0, DEL, C1) written as \xNN, never sent raw. */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** Outside text for a message: quoted, control characters escaped, at most `max` characters of it. */
export function quoted(text: string, max = 80): string {
  return printable(JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text));
}
