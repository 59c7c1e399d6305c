/**
 * systemd time spans, read the way systemd reads them: --not-after ("+30d"), and the schedule of
 * `rotate --render-timer --every` ("30d") that a timer unit and keyhold both read.
 */

const SPAN_UNITS: Record<string, number> = {
  s: 1,
  sec: 1,
  second: 1,
  seconds: 1,
  m: 60,
  min: 60,
  minute: 60,
  minutes: 60,
  h: 3600,
  hr: 3600,
  hour: 3600,
  hours: 3600,
  d: 86400,
  day: 86400,
  days: 86400,
  w: 604800,
  week: 604800,
  weeks: 604800,
  month: 2629800,
  months: 2629800,
  M: 2629800,
  y: 31557600,
  year: 31557600,
  years: 31557600,
};

/**
 * A systemd time span ("30d", "1h30min", "2 weeks"; a bare number is seconds) in seconds, or NaN
 * when it is not one. The units are systemd's own (a month is 30.44 days, a year 365.25), so a
 * span keyhold accepts means the same to systemd.
 */
export function spanSeconds(span: string): number {
  const text = span.trim();
  const parts = [...text.matchAll(/\s*(\d+)\s*([A-Za-z]*)/gy)];
  const consumed = parts.map((p) => p[0]).join("");
  if (parts.length === 0 || consumed.trim() !== text) return Number.NaN;
  let seconds = 0;
  for (const p of parts) {
    const unit = SPAN_UNITS[p[2] === "" ? "s" : (p[2] as string)];
    if (unit === undefined) return Number.NaN;
    seconds += Number(p[1]) * unit;
  }
  return seconds;
}
