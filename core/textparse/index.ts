/**
 * Prometheus text exposition 0.0.4 and OpenMetrics 1.0 parser, shared by every component that reads
 * `/metrics` pages. One pass over the page, by hand (no regex per line): a 20,000-series page is parsed
 * every second in the benchmark. What it checks follows Prometheus's textparse: metric and label
 * names, a label name repeated in one series, values and timestamps, and for OpenMetrics the final
 * `# EOF`. Any violation rejects the whole page (the scrape fails, `up` 0), as Prometheus does.
 *
 * With a sample limit it stops at the limit (ScrapeLimitError, reason `sample_limit`): memory is then
 * bounded by the limit's samples, not by the page.
 *
 * Each sample names its family (type, HELP, UNIT). Families are looked up in a caller-owned cache so
 * a target's families are the same objects scrape after scrape (metadata is constant; style.md: define once).
 */
import { PprofcolError } from '../errors.js';
import { type Labels, type MetricFamily, type MetricType, copyLabels, makeLabels } from '../model/metrics.js';
import { sampleLimitError } from '../scrape/limits.js';

export type ExpositionFormat = 'text' | 'openmetrics';

/** Prometheus 2.42's scrape Accept header: OpenMetrics first, then text 0.0.4, then anything. */
export const SCRAPE_ACCEPT_HEADER =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

export class TextParseError extends PprofcolError {
  readonly line: number;
  constructor(line: number, message: string) {
    super('ERR_TEXTPARSE', `line ${line}: ${message}`);
    this.name = 'TextParseError';
    this.line = line;
  }
}

export interface ParsedSample {
  family: MetricFamily;
  name: string;
  /** Labels as the page has them (no `__name__`); a fresh object the caller may change. */
  labels: Labels;
  value: number;
  /** Milliseconds; undefined when the page gave no timestamp. */
  timestampMs: number | undefined;
  /** Name plus the label block as written: the same text identifies the same series on the next scrape. */
  rawKey: string;
  /** True when `labels` is a copy of a known series' (the page's label block was not parsed). */
  known: boolean;
  /** The known series this sample is, when it is one (the caller's own object, handed back). */
  entry: KnownSeries | undefined;
}

/** A series seen before, as the caller keeps it: its raw key, name, final labels, and place in the last page. */
export interface KnownSeries {
  readonly rawKey: string;
  readonly name: string;
  readonly labels: Labels;
  /** Its position in `SeriesLookup.order`. */
  readonly index: number;
}

/**
 * Series already worked out on earlier pages. A page usually lists its series in the same order every
 * time, so the parser first compares the text at a sample's start with the series that followed the last
 * one matched (no slice, no hash: `startsWith` on the page), then falls back to a lookup by raw key. On a
 * hit it skips building the label set (the text is the same as last time, so it was valid then) and hands
 * on a copy of the known labels.
 */
export interface SeriesLookup {
  readonly order: ReadonlyArray<KnownSeries>;
  get(rawKey: string): KnownSeries | undefined;
}

/** The format a Content-Type announces; Prometheus falls back to text 0.0.4 for anything else. */
export function formatOf(contentType: string | undefined): ExpositionFormat {
  if (contentType === undefined) return 'text';
  return contentType.toLowerCase().startsWith('application/openmetrics-text') ? 'openmetrics' : 'text';
}

/** Families by name, kept by the caller across scrapes of one target. */
export type FamilyCache = Map<string, MetricFamily>;

const TYPES_TEXT: Record<string, MetricType> = {
  counter: 'counter',
  gauge: 'gauge',
  histogram: 'histogram',
  summary: 'summary',
  untyped: 'untyped',
};
// OpenMetrics types the model has no own type for: info and stateset are gauges of value 1 or 0
// (as Prometheus stores them); gaugehistogram keeps its buckets as a histogram.
const TYPES_OM: Record<string, MetricType> = {
  counter: 'counter',
  gauge: 'gauge',
  histogram: 'histogram',
  gaugehistogram: 'histogram',
  summary: 'summary',
  info: 'gauge',
  stateset: 'gauge',
  unknown: 'untyped',
};

/** Suffixes under which a family's samples appear, by type. */
const SUFFIXES: Record<MetricType, readonly string[]> = {
  counter: ['_total', '_created'],
  histogram: ['_bucket', '_sum', '_count', '_created', '_gsum', '_gcount'],
  summary: ['_sum', '_count', '_created'],
  gauge: ['_info'],
  untyped: [],
};

interface Draft {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
  typed: boolean;
  /** Set at the family's first sample; HELP/TYPE after that are errors in OpenMetrics, ignored in text. */
  frozen: MetricFamily | undefined;
}

const CH_SP = 32;
const CH_TAB = 9;
const CH_HASH = 35;
const CH_LBRACE = 123;
const CH_RBRACE = 125;
const CH_EQ = 61;
const CH_QUOTE = 34;
const CH_COMMA = 44;
const CH_BSLASH = 92;

function isNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58;
}
function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57);
}
function isLabelStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}
function isLabelChar(c: number): boolean {
  return isLabelStart(c) || (c >= 48 && c <= 57);
}

const FLOAT_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A value as Go's strconv.ParseFloat reads the forms exposition uses (NaN, ±Inf, decimals). */
function parseValue(text: string): number | undefined {
  const n = +text;
  // `+text` accepts '', ' ', '0x10', 'Infinity': check the form when it is not a plain decimal.
  if (text.length > 0 && n === n && FLOAT_RE.test(text)) return n;
  switch (text.toLowerCase()) {
    case 'nan':
      return NaN;
    case '+inf':
    case 'inf':
      return Infinity;
    case '-inf':
      return -Infinity;
    default:
      return undefined;
  }
}

const CH_MINUS = 45;
const CH_0 = 48;
const CH_9 = 57;
/** Digits of an integer that a double holds exactly whatever they are (10^15 < 2^53). */
const MAX_EXACT_DIGITS = 15;
/** readInteger's value (a module variable: no object per sample to return two numbers). */
let integerValue = 0;

/**
 * A value that is a plain integer (`-`? digits, at most MAX_EXACT_DIGITS, then a blank or the end of
 * the line), the common case for counters, read from the character codes: no slice, regex or string
 * conversion per sample. Returns the index after it and leaves the value in integerValue, or -1 for
 * anything else (the caller parses that with parseValue). Same number as Go's ParseFloat: `-0` is -0.
 */
function readInteger(text: string, start: number, end: number): number {
  let i = start;
  const negative = i < end && text.charCodeAt(i) === CH_MINUS;
  if (negative) i++;
  const first = i;
  let n = 0;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c < CH_0 || c > CH_9) {
      if (c !== CH_SP && c !== CH_TAB) return -1;
      break;
    }
    n = n * 10 + (c - CH_0);
    i++;
  }
  if (i === first || i - first > MAX_EXACT_DIGITS) return -1;
  integerValue = negative ? -n : n;
  return i;
}

/** Parser state over one page; `parseExposition` is the entry point. */
class PageParser {
  private pos = 0;
  private line = 0;
  private readonly drafts = new Map<string, Draft>();
  readonly samples: ParsedSample[] = [];
  private readonly om: boolean;
  private sawEof = false;
  /** Index in known.order of the series expected next. */
  private cursor = 0;

  constructor(
    private readonly text: string,
    format: ExpositionFormat,
    private readonly cache: FamilyCache,
    private readonly known: SeriesLookup | undefined,
    sampleLimit: number,
  ) {
    this.om = format === 'openmetrics';
    this.sampleLimit = sampleLimit > 0 ? sampleLimit : Infinity;
  }
  /** Samples at most; Infinity when off, so the check per sample is one comparison. */
  private readonly sampleLimit: number;

  run(): ParsedSample[] {
    const text = this.text;
    const end = text.length;
    while (this.pos < end) {
      this.line++;
      let eol = text.indexOf('\n', this.pos);
      if (eol === -1) eol = end;
      if (this.sawEof) {
        // OpenMetrics: nothing may follow `# EOF` (one final newline is the end of that line).
        throw new TextParseError(this.line, 'content after # EOF');
      }
      this.parseLine(this.pos, eol);
      this.pos = eol + 1;
    }
    if (this.om && !this.sawEof) throw new TextParseError(this.line, 'OpenMetrics page does not end with # EOF');
    return this.samples;
  }

  private parseLine(start: number, end: number): void {
    const text = this.text;
    if (start === end) {
      if (this.om) throw new TextParseError(this.line, 'empty line (not allowed in OpenMetrics)');
      return;
    }
    let i = start;
    if (!this.om) while (i < end && (text.charCodeAt(i) === CH_SP || text.charCodeAt(i) === CH_TAB)) i++;
    if (i === end) return;
    if (text.charCodeAt(i) === CH_HASH) {
      this.parseComment(i, end);
      return;
    }
    this.parseSample(i, end);
  }

  private parseComment(start: number, end: number): void {
    const text = this.text;
    const line = text.slice(start, end);
    if (this.om && line === '# EOF') {
      this.sawEof = true;
      return;
    }
    // `# HELP name text`, `# TYPE name type`, `# UNIT name unit` (OpenMetrics); other comments are text-only.
    const m = /^#[ \t]+(HELP|TYPE|UNIT)[ \t]+([^ \t]+)(?:[ \t]+(.*))?$/.exec(line);
    if (m === null) {
      if (this.om) throw new TextParseError(this.line, `invalid comment in OpenMetrics: ${truncate(line)}`);
      return; // text format: a free comment
    }
    const [, keyword, name, rest = ''] = m;
    if (!isMetricName(name)) throw new TextParseError(this.line, `invalid metric name "${truncate(name)}" in ${keyword}`);
    if (keyword === 'UNIT' && !this.om) return;
    let draft = this.drafts.get(name);
    if (draft === undefined) {
      draft = { name, type: 'untyped', help: '', unit: '', typed: false, frozen: undefined };
      this.drafts.set(name, draft);
    } else if (draft.frozen !== undefined) {
      if (this.om) throw new TextParseError(this.line, `${keyword} for "${name}" after its samples`);
      return;
    }
    if (keyword === 'HELP') {
      draft.help = unescapeHelp(rest);
    } else if (keyword === 'TYPE') {
      if (draft.typed) throw new TextParseError(this.line, `second TYPE line for "${name}"`);
      const type = (this.om ? TYPES_OM : TYPES_TEXT)[rest.trim()];
      if (type === undefined) throw new TextParseError(this.line, `unknown metric type "${truncate(rest)}" for "${name}"`);
      draft.type = type;
      draft.typed = true;
    } else {
      draft.unit = rest.trim();
    }
  }

  private parseSample(start: number, end: number): void {
    const text = this.text;
    // Fast path: the series that followed the last one matched, with a blank right after its raw key.
    const expected = this.known?.order[this.cursor];
    if (expected !== undefined && text.startsWith(expected.rawKey, start)) {
      const after = start + expected.rawKey.length;
      const c = text.charCodeAt(after);
      if (c === CH_SP || c === CH_TAB) {
        this.cursor = expected.index + 1;
        this.finishSample(start, after, end, expected.name, copyLabels(expected.labels), expected.rawKey, expected);
        return;
      }
    }
    let i = start;
    if (!isNameStart(text.charCodeAt(i))) throw new TextParseError(this.line, `expected a metric name: ${truncate(text.slice(start, end))}`);
    i++;
    while (i < end && isNameChar(text.charCodeAt(i))) i++;
    const name = text.slice(start, i);
    let labels: Labels;
    let labelsEnd = i;
    // The text format allows blanks between the name and its label set; OpenMetrics does not.
    if (!this.om) {
      let b = i;
      while (b < end && (text.charCodeAt(b) === CH_SP || text.charCodeAt(b) === CH_TAB)) b++;
      if (b < end && text.charCodeAt(b) === CH_LBRACE) i = b;
    }
    const braceAt = i < end && text.charCodeAt(i) === CH_LBRACE ? i : -1;
    if (braceAt !== -1) {
      i = this.skipLabels(braceAt + 1, end);
      labelsEnd = i;
    }
    // One slice of the page when the label block follows the name directly (no concatenation to flatten).
    const rawKey = braceAt === -1 ? name : braceAt === start + name.length ? text.slice(start, labelsEnd) : name + text.slice(braceAt, labelsEnd);
    const entry = this.known?.get(rawKey);
    if (entry !== undefined) {
      labels = copyLabels(entry.labels);
      this.cursor = entry.index + 1;
    } else {
      labels = makeLabels();
      if (braceAt !== -1) this.parseLabels(braceAt + 1, end, labels);
    }
    this.finishSample(start, i, end, name, labels, rawKey, entry);
  }

  /** From the blank after the name and labels (`i`): value, timestamp, exemplar; then the sample. */
  private finishSample(start: number, i: number, end: number, name: string, labels: Labels, rawKey: string, entry: KnownSeries | undefined): void {
    const text = this.text;
    // Value, then an optional timestamp, separated by blanks (one space in OpenMetrics).
    if (i >= end || (text.charCodeAt(i) !== CH_SP && text.charCodeAt(i) !== CH_TAB)) {
      throw new TextParseError(this.line, `expected a value after "${truncate(text.slice(start, i))}"`);
    }
    while (i < end && (text.charCodeAt(i) === CH_SP || text.charCodeAt(i) === CH_TAB)) i++;
    let j = readInteger(text, i, end);
    let value: number | undefined;
    if (j !== -1) {
      value = integerValue;
    } else {
      j = i;
      while (j < end && text.charCodeAt(j) !== CH_SP && text.charCodeAt(j) !== CH_TAB) j++;
      value = parseValue(text.slice(i, j));
      if (value === undefined) throw new TextParseError(this.line, `invalid value "${truncate(text.slice(i, j))}" for ${name}`);
    }
    let timestampMs: number | undefined;
    while (j < end && (text.charCodeAt(j) === CH_SP || text.charCodeAt(j) === CH_TAB)) j++;
    if (j < end && text.charCodeAt(j) !== CH_HASH) {
      let k = j;
      while (k < end && text.charCodeAt(k) !== CH_SP && text.charCodeAt(k) !== CH_TAB) k++;
      timestampMs = this.parseTimestamp(text.slice(j, k), name);
      j = k;
      while (j < end && (text.charCodeAt(j) === CH_SP || text.charCodeAt(j) === CH_TAB)) j++;
    }
    if (j < end) {
      // Only OpenMetrics has something after the timestamp: an exemplar `# {labels} value [ts]`, which
      // the metrics model does not carry. It is checked for form and dropped.
      if (!this.om || text.charCodeAt(j) !== CH_HASH) throw new TextParseError(this.line, `unexpected text after the value of ${name}`);
      this.checkExemplar(j + 1, end, name);
    }
    if (this.samples.length === this.sampleLimit) throw sampleLimitError(this.sampleLimit);
    this.samples.push({ family: this.familyOf(name), name, labels, value, timestampMs, rawKey, known: entry !== undefined, entry });
  }

  private parseTimestamp(text: string, name: string): number {
    if (this.om) {
      const seconds = parseValue(text);
      if (seconds === undefined || !Number.isFinite(seconds)) throw new TextParseError(this.line, `invalid timestamp "${truncate(text)}" for ${name}`);
      return Math.round(seconds * 1000);
    }
    if (!/^-?\d+$/.test(text)) throw new TextParseError(this.line, `invalid timestamp "${truncate(text)}" for ${name} (milliseconds, an integer)`);
    return Number(text);
  }

  private checkExemplar(start: number, end: number, name: string): void {
    const text = this.text;
    let i = start;
    while (i < end && text.charCodeAt(i) === CH_SP) i++;
    if (text.charCodeAt(i) !== CH_LBRACE) throw new TextParseError(this.line, `invalid exemplar of ${name}`);
    const scratch: Labels = {};
    i = this.parseLabels(i + 1, end, scratch);
    const rest = text.slice(i, end).trim().split(/[ \t]+/);
    if (rest.length < 1 || rest.length > 2 || parseValue(rest[0]) === undefined) throw new TextParseError(this.line, `invalid exemplar of ${name}`);
  }

  /** Finds the end of a label block starting after `{` without building it: the index after `}`. */
  private skipLabels(start: number, end: number): number {
    const text = this.text;
    let i = start;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c === CH_RBRACE) return i + 1;
      if (c === CH_QUOTE) {
        i++;
        while (i < end) {
          const q = text.charCodeAt(i);
          if (q === CH_BSLASH) i += 2;
          else if (q === CH_QUOTE) break;
          else i++;
        }
      }
      i++;
    }
    throw new TextParseError(this.line, 'unterminated label set');
  }

  /** Parses `name="value",...}` starting after `{`; returns the index after `}`. */
  private parseLabels(start: number, end: number, labels: Labels): number {
    const text = this.text;
    let i = start;
    for (;;) {
      while (!this.om && i < end && (text.charCodeAt(i) === CH_SP || text.charCodeAt(i) === CH_TAB)) i++;
      if (i >= end) throw new TextParseError(this.line, 'unterminated label set');
      if (text.charCodeAt(i) === CH_RBRACE) return i + 1;
      const nameStart = i;
      if (!isLabelStart(text.charCodeAt(i))) throw new TextParseError(this.line, `invalid label name at "${truncate(text.slice(i, end))}"`);
      i++;
      while (i < end && isLabelChar(text.charCodeAt(i))) i++;
      const labelName = text.slice(nameStart, i);
      while (!this.om && i < end && (text.charCodeAt(i) === CH_SP || text.charCodeAt(i) === CH_TAB)) i++;
      if (text.charCodeAt(i) !== CH_EQ) throw new TextParseError(this.line, `expected = after label name ${labelName}`);
      i++;
      while (!this.om && i < end && (text.charCodeAt(i) === CH_SP || text.charCodeAt(i) === CH_TAB)) i++;
      if (text.charCodeAt(i) !== CH_QUOTE) throw new TextParseError(this.line, `expected " to open the value of label ${labelName}`);
      i++;
      // Fast path: no escapes in the value (the common case): one slice.
      const valueStart = i;
      let escaped = false;
      while (i < end) {
        const c = text.charCodeAt(i);
        if (c === CH_QUOTE) break;
        if (c === CH_BSLASH) {
          escaped = true;
          i += 2;
          continue;
        }
        i++;
      }
      if (i >= end) throw new TextParseError(this.line, `unterminated value of label ${labelName}`);
      const raw = text.slice(valueStart, i);
      const value = escaped ? this.unescapeLabel(raw, labelName) : raw;
      i++; // closing quote
      if (Object.hasOwn(labels, labelName) || labelName === '__name__') {
        throw new TextParseError(this.line, `label name "${labelName}" repeated in one series`);
      }
      labels[labelName] = value;
      while (!this.om && i < end && (text.charCodeAt(i) === CH_SP || text.charCodeAt(i) === CH_TAB)) i++;
      const c = text.charCodeAt(i);
      if (c === CH_COMMA) {
        i++;
        continue;
      }
      if (c === CH_RBRACE) return i + 1;
      throw new TextParseError(this.line, `expected , or } after the value of label ${labelName}`);
    }
  }

  /** Label values escape backslash, double quote and newline; any other escape is an error. */
  private unescapeLabel(raw: string, labelName: string): string {
    let out = '';
    for (let i = 0; i < raw.length; i++) {
      const c = raw.charCodeAt(i);
      if (c !== CH_BSLASH) {
        out += raw[i];
        continue;
      }
      const n = raw[++i];
      if (n === '\\') out += '\\';
      else if (n === '"') out += '"';
      else if (n === 'n') out += '\n';
      else throw new TextParseError(this.line, `invalid escape \\${n ?? ''} in the value of label ${labelName}`);
    }
    return out;
  }

  /** The family a sample belongs to: its own name, or a typed family whose suffix it carries. */
  private familyOf(name: string): MetricFamily {
    let draft = this.drafts.get(name);
    if (draft === undefined || (!draft.typed && this.om)) {
      const base = this.suffixedFamily(name);
      if (base !== undefined) draft = base;
    }
    if (draft === undefined) {
      draft = { name, type: 'untyped', help: '', unit: '', typed: false, frozen: undefined };
      this.drafts.set(name, draft);
    }
    if (draft.frozen === undefined) draft.frozen = this.cached(draft);
    return draft.frozen;
  }

  private suffixedFamily(name: string): Draft | undefined {
    const us = name.lastIndexOf('_');
    if (us <= 0) return undefined;
    const suffix = name.slice(us);
    const base = this.drafts.get(name.slice(0, us));
    if (base === undefined || !base.typed) return undefined;
    return SUFFIXES[base.type].includes(suffix) ? base : undefined;
  }

  private cached(d: Draft): MetricFamily {
    const known = this.cache.get(d.name);
    if (known !== undefined && known.type === d.type && known.help === d.help && known.unit === d.unit) return known;
    const family: MetricFamily = Object.freeze({ name: d.name, type: d.type, help: d.help, unit: d.unit });
    this.cache.set(d.name, family);
    return family;
  }
}

function isMetricName(name: string): boolean {
  if (name.length === 0 || !isNameStart(name.charCodeAt(0))) return false;
  for (let i = 1; i < name.length; i++) if (!isNameChar(name.charCodeAt(i))) return false;
  return true;
}

/** HELP escapes backslash and newline (and in OpenMetrics double quote). */
function unescapeHelp(text: string): string {
  if (!text.includes('\\')) return text;
  return text.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}...` : s;
}

/**
 * Parses one page. Throws TextParseError (with the line) on anything Prometheus would reject, and
 * ScrapeLimitError at sample `sampleLimit + 1` (0: no limit). `cache` keeps families across calls (pass
 * the same map for the same target).
 */
export function parseExposition(body: string, format: ExpositionFormat, cache: FamilyCache = new Map(), known?: SeriesLookup, sampleLimit = 0): ParsedSample[] {
  return new PageParser(body, format, cache, known, sampleLimit).run();
}
