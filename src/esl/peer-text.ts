const MAX_PEER_TEXT = 200;

/**
 * Text that came from the peer (a disconnect notice, a rejection body, a Reply-Text) made safe
 * for a log line, an error and /health: its first line only, control characters removed, and
 * capped, so a hostile or broken peer cannot write megabytes or extra lines into our output.
 */
export function peerText(text: string | Buffer, max = MAX_PEER_TEXT): string {
  const str =
    typeof text === "string" ? text : text.toString("utf8", 0, Math.min(text.length, max * 4));
  const lf = str.indexOf("\n");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the purpose
  const line = (lf === -1 ? str : str.slice(0, lf)).replace(/[\u0000-\u001f\u007f]/g, "").trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
