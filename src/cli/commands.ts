import type { Command } from "./io.js";

/**
 * Every command word and where its code lives. Modules load on demand so `keyhold run` does
 * not pay for the vault or the scanner at start-up.
 */
export interface CommandEntry {
  summary: string;
  load: () => Promise<Command>;
}

export const commands: Record<string, CommandEntry> = {
  audit: { summary: "show or verify the audit log", load: async () => (await import("./audit.js")).auditCommand },
};
