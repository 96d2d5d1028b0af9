// Finds added tokens (special and control strings such as <｜User｜>) in text so they are encoded
// atomically, before BPE ever sees the surrounding text. Longest match wins, like HF tokenizers.

interface TrieNode {
  next: Map<string, TrieNode>;
  id: number; // -1 when no token ends here
}

export type Section = { text: string; id: -1 } | { text: string; id: number };

export class AddedTokenSplitter {
  private readonly root: TrieNode = { next: new Map(), id: -1 };
  private readonly firstChars = new Set<string>();

  constructor(tokens: Iterable<{ content: string; id: number }>) {
    for (const { content, id } of tokens) {
      if (content.length === 0) continue;
      let node = this.root;
      for (const ch of content) {
        let child = node.next.get(ch);
        if (!child) node.next.set(ch, (child = { next: new Map(), id: -1 }));
        node = child;
      }
      node.id = id;
      this.firstChars.add(content[0]!);
    }
  }

  /** Splits text into plain sections (id -1) and added-token sections (their id). */
  split(text: string): Section[] {
    const out: Section[] = [];
    let plainStart = 0;
    let i = 0;
    while (i < text.length) {
      if (!this.firstChars.has(text[i]!)) { i++; continue; }
      // Walk the trie from i, remembering the longest complete token.
      let node: TrieNode | undefined = this.root;
      let bestEnd = -1;
      let bestId = -1;
      let j = i;
      while (j < text.length) {
        node = node.next.get(text[j]!);
        if (!node) break;
        j++;
        if (node.id >= 0) { bestEnd = j; bestId = node.id; }
      }
      if (bestEnd < 0) { i++; continue; }
      if (i > plainStart) out.push({ text: text.slice(plainStart, i), id: -1 });
      out.push({ text: text.slice(i, bestEnd), id: bestId });
      i = plainStart = bestEnd;
    }
    if (plainStart < text.length) out.push({ text: text.slice(plainStart), id: -1 });
    return out;
  }
}
