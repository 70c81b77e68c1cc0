/**
 * Content negotiation on `Accept` (RFC 9110 §12.5.1), for endpoints that can answer in more
 * than one media type. Each type offered gets the weight of the most specific range that
 * matches it (`application/json` over `application/*` over `*\/*`); `q=0` makes it
 * unacceptable. Type, subtype and parameter names are case-insensitive. Parameters other than
 * `q` are not compared: both types offered here are UTF-8 with no parameter of their own. A
 * range that is not `type/subtype` or whose `q` is no qvalue is skipped, as if not sent.
 */
export function negotiate<T extends string>(accept: string | undefined, offered: readonly [T, ...T[]]): T {
  const ranges = accept === undefined ? [] : mediaRanges(accept);
  let best: { type: T; weight: Weight } | null = null;
  for (const type of offered) {
    const weight = weightOf(type, ranges);
    if (weight !== null && weight.q > 0 && (best === null || outranks(weight, best.weight))) best = { type, weight };
  }
  // Nothing offered is acceptable, or there was no Accept: the first offered (RFC 9110 lets a
  // server disregard Accept rather than answer 406).
  return best?.type ?? offered[0];
}

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
  position: number;
}

interface Weight {
  q: number;
  /** 2 for `type/subtype`, 1 for `type/*`, 0 for `*\/*`. */
  specificity: number;
  /** Where the range stands in the header: on a full tie the client's first mention wins. */
  position: number;
}

function outranks(a: Weight, b: Weight): boolean {
  if (a.q !== b.q) return a.q > b.q;
  if (a.specificity !== b.specificity) return a.specificity > b.specificity;
  return a.position < b.position;
}

function weightOf(offered: string, ranges: readonly MediaRange[]): Weight | null {
  const [type, subtype] = offered.split('/') as [string, string];
  let best: Weight | null = null;
  for (const range of ranges) {
    const specificity = range.type === '*' ? 0 : range.type !== type ? -1 : range.subtype === '*' ? 1 : range.subtype === subtype ? 2 : -1;
    if (specificity < 0) continue;
    const weight = { q: range.q, specificity, position: range.position };
    // The most specific range decides, even when it weighs less: `*/*, application/json;q=0` refuses JSON.
    if (best === null || specificity > best.specificity || (specificity === best.specificity && weight.q > best.q)) best = weight;
  }
  return best;
}

const TOKEN = /^[!#$%&'*+.^_`|~\w-]+$/;
const QVALUE = /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/;

function mediaRanges(accept: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  splitOutsideQuotes(accept, ',').forEach((element, position) => {
    const [mediaType = '', ...params] = splitOutsideQuotes(element, ';').map((part) => part.trim());
    const slash = mediaType.indexOf('/');
    const type = mediaType.slice(0, slash).toLowerCase();
    const subtype = mediaType.slice(slash + 1).toLowerCase();
    if (slash < 0 || !TOKEN.test(type) || !TOKEN.test(subtype) || (type === '*' && subtype !== '*')) return;
    const qParam = params.find((param) => /^q\s*=/i.test(param));
    const qValue = qParam === undefined ? '1' : qParam.slice(qParam.indexOf('=') + 1).trim();
    if (!QVALUE.test(qValue)) return;
    ranges.push({ type, subtype, q: Number(qValue), position });
  });
  return ranges;
}

/** Splits on `separator` where it is not inside a quoted-string (a parameter may quote a comma). */
function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted && char === '\\') i++;
    else if (char === '"') quoted = !quoted;
    else if (!quoted && char === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}
