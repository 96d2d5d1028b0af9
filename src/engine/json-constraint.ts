// Grammar-constrained output for response_format json_object: a byte-level pushdown automaton that
// accepts exactly the prefixes of a JSON object. A token is allowed when all of its bytes keep the
// text a valid prefix; end-of-sequence only when the object is complete. If generation must stop
// early, `completion()` gives the shortest suffix that closes the JSON, so the output always parses.

const enum Mode {
  Start, // before the top-level object
  Value, // a value must start
  ArrOpen, // after '[': value or ']'
  ObjOpen, // after '{': key or '}'
  ObjKey, // after ',' in an object: key
  Colon, // after a key
  After, // after a value: ',' or a closer
  Str, // inside a string
  Esc, // after a backslash
  Hex, // inside \uXXXX
  NumSign, // after '-'
  NumZero, // after a leading 0
  NumInt, // integer digits
  NumDot, // after '.'
  NumFrac, // fraction digits
  NumExp, // after e/E
  NumExpSign, // after e+ / e-
  NumExpDigits, // exponent digits
  Lit, // inside true/false/null
  Done, // the top-level object is closed
}

const isWs = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
const isHex = (b: number) => isDigit(b) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46);

export class JsonObjectConstraint {
  private mode: Mode = Mode.Start;
  /** open containers: 0x7b '{' or 0x5b '[' */
  private stack: number[] = [];
  private strIsKey = false;
  private hexLeft = 0;
  private lit = '';
  private litPos = 0;

  clone(): JsonObjectConstraint {
    const c = new JsonObjectConstraint();
    c.mode = this.mode;
    c.stack = this.stack.slice();
    c.strIsKey = this.strIsKey;
    c.hexLeft = this.hexLeft;
    c.lit = this.lit;
    c.litPos = this.litPos;
    return c;
  }

  get complete(): boolean {
    return this.mode === Mode.Done;
  }

  /** Feeds bytes; returns false (and leaves the state unspecified) at the first byte that cannot follow. */
  feed(bytes: Uint8Array): boolean {
    for (const b of bytes) if (!this.step(b)) return false;
    return true;
  }

  /** Whether appending these bytes keeps a valid prefix (state unchanged). */
  accepts(bytes: Uint8Array): boolean {
    if (!bytes.length) return false;
    return this.clone().feed(bytes);
  }

  private startValue(b: number): boolean {
    switch (b) {
      case 0x7b: this.stack.push(0x7b); this.mode = Mode.ObjOpen; return true;
      case 0x5b: this.stack.push(0x5b); this.mode = Mode.ArrOpen; return true;
      case 0x22: this.mode = Mode.Str; this.strIsKey = false; return true;
      case 0x2d: this.mode = Mode.NumSign; return true;
      case 0x30: this.mode = Mode.NumZero; return true;
      case 0x74: this.lit = 'true'; this.litPos = 1; this.mode = Mode.Lit; return true;
      case 0x66: this.lit = 'false'; this.litPos = 1; this.mode = Mode.Lit; return true;
      case 0x6e: this.lit = 'null'; this.litPos = 1; this.mode = Mode.Lit; return true;
      default:
        if (b >= 0x31 && b <= 0x39) { this.mode = Mode.NumInt; return true; }
        return false;
    }
  }

  private endValue(): void {
    this.mode = this.stack.length ? Mode.After : Mode.Done;
  }

  /** A byte after a finished value (also ends numbers, which have no closing byte). */
  private after(b: number): boolean {
    if (isWs(b)) return true;
    const top = this.stack[this.stack.length - 1];
    if (b === 0x2c && top !== undefined) { this.mode = top === 0x7b ? Mode.ObjKey : Mode.Value; return true; }
    if ((b === 0x7d && top === 0x7b) || (b === 0x5d && top === 0x5b)) { this.stack.pop(); this.endValue(); return true; }
    return false;
  }

  private step(b: number): boolean {
    switch (this.mode) {
      case Mode.Start:
        if (isWs(b)) return true;
        if (b !== 0x7b) return false;
        this.stack.push(0x7b);
        this.mode = Mode.ObjOpen;
        return true;
      case Mode.Value:
        return isWs(b) || this.startValue(b);
      case Mode.ArrOpen:
        if (isWs(b)) return true;
        if (b === 0x5d) { this.stack.pop(); this.endValue(); return true; }
        return this.startValue(b);
      case Mode.ObjOpen:
        if (isWs(b)) return true;
        if (b === 0x7d) { this.stack.pop(); this.endValue(); return true; }
        if (b === 0x22) { this.mode = Mode.Str; this.strIsKey = true; return true; }
        return false;
      case Mode.ObjKey:
        if (isWs(b)) return true;
        if (b === 0x22) { this.mode = Mode.Str; this.strIsKey = true; return true; }
        return false;
      case Mode.Colon:
        if (isWs(b)) return true;
        if (b === 0x3a) { this.mode = Mode.Value; return true; }
        return false;
      case Mode.After:
        return this.after(b);
      case Mode.Str:
        if (b === 0x22) { if (this.strIsKey) this.mode = Mode.Colon; else this.endValue(); return true; }
        if (b === 0x5c) { this.mode = Mode.Esc; return true; }
        return b >= 0x20 && b !== 0x7f;
      case Mode.Esc:
        if (b === 0x75) { this.mode = Mode.Hex; this.hexLeft = 4; return true; }
        if ([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74].includes(b)) { this.mode = Mode.Str; return true; }
        return false;
      case Mode.Hex:
        if (!isHex(b)) return false;
        if (--this.hexLeft === 0) this.mode = Mode.Str;
        return true;
      case Mode.NumSign:
        if (b === 0x30) { this.mode = Mode.NumZero; return true; }
        if (b >= 0x31 && b <= 0x39) { this.mode = Mode.NumInt; return true; }
        return false;
      case Mode.NumZero:
      case Mode.NumInt:
        if (this.mode === Mode.NumInt && isDigit(b)) return true;
        if (b === 0x2e) { this.mode = Mode.NumDot; return true; }
        if (b === 0x65 || b === 0x45) { this.mode = Mode.NumExp; return true; }
        return this.endNumber(b);
      case Mode.NumDot:
        if (isDigit(b)) { this.mode = Mode.NumFrac; return true; }
        return false;
      case Mode.NumFrac:
        if (isDigit(b)) return true;
        if (b === 0x65 || b === 0x45) { this.mode = Mode.NumExp; return true; }
        return this.endNumber(b);
      case Mode.NumExp:
        if (b === 0x2b || b === 0x2d) { this.mode = Mode.NumExpSign; return true; }
        if (isDigit(b)) { this.mode = Mode.NumExpDigits; return true; }
        return false;
      case Mode.NumExpSign:
        if (isDigit(b)) { this.mode = Mode.NumExpDigits; return true; }
        return false;
      case Mode.NumExpDigits:
        if (isDigit(b)) return true;
        return this.endNumber(b);
      case Mode.Lit:
        if (b !== this.lit.charCodeAt(this.litPos)) return false;
        if (++this.litPos === this.lit.length) this.endValue();
        return true;
      case Mode.Done:
        return false; // only end-of-sequence may follow
    }
  }

  private endNumber(b: number): boolean {
    // numbers only appear inside the top-level object, so a container is always open here
    this.mode = Mode.After;
    return this.after(b);
  }

  /** The shortest text that turns the current prefix into a complete JSON object. */
  completion(): string {
    let s = '';
    switch (this.mode) {
      case Mode.Start: return '{}';
      case Mode.Done: return '';
      case Mode.Value: s = 'null'; break;
      case Mode.ArrOpen: case Mode.ObjOpen: case Mode.After: case Mode.NumZero: case Mode.NumInt:
      case Mode.NumFrac: case Mode.NumExpDigits: break;
      case Mode.ObjKey: s = '"":null'; break;
      case Mode.Colon: s = ':null'; break;
      case Mode.Str: s = this.strIsKey ? '":null' : '"'; break;
      case Mode.Esc: s = this.strIsKey ? 'n":null' : 'n"'; break;
      case Mode.Hex: s = '0'.repeat(this.hexLeft) + (this.strIsKey ? '":null' : '"'); break;
      case Mode.NumSign: case Mode.NumDot: case Mode.NumExp: case Mode.NumExpSign: s = '0'; break;
      case Mode.Lit: s = this.lit.slice(this.litPos); break;
    }
    for (let i = this.stack.length - 1; i >= 0; i--) s += this.stack[i] === 0x7b ? '}' : ']';
    return s;
  }
}
