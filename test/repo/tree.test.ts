import { describe, expect, it } from 'vitest';
import { deserializeTree, deserializeTreeExcept, deserializeTreeTexts, sameStoredNode, serializeTree, storedContent, treeReferences } from '../../src/repo/tree.js';
import type { NodeType, TreeNode } from '../../src/repo/tree-node.js';

/**
 * How trees were serialized before serializeTree wrote the text itself: JSON.stringify of
 * objects with the keys in the stored order. A tree's id is the hash of these bytes, so an
 * unchanged directory dedups against every earlier backup only while they stay the same.
 */
function serializedByObjects(nodes: TreeNode[]): Buffer {
  const sorted = [...nodes].sort((a, b) => Buffer.compare(a.name, b.name));
  return Buffer.from(
    JSON.stringify({
      version: 1,
      nodes: sorted.map((n) => {
        const s = { type: n.type, mode: n.mode, uid: n.uid, gid: n.gid, mtime: '', atime: '', ctime: '', dev: '', inode: '', nlink: 0 };
        const utf8 = n.name.toString('utf8');
        const out: Record<string, unknown> = Buffer.from(utf8, 'utf8').equals(n.name) ? { name: utf8, ...s } : { nameB64: n.name.toString('base64'), ...s };
        if (n.user !== undefined) out.user = n.user;
        if (n.group !== undefined) out.group = n.group;
        out.mtime = n.mtimeNs.toString();
        out.atime = n.atimeNs.toString();
        out.ctime = n.ctimeNs.toString();
        out.dev = n.dev.toString();
        out.inode = n.inode.toString();
        out.nlink = n.nlink;
        if (n.size !== undefined) out.size = n.size;
        if (n.content !== undefined) out.content = n.content;
        if (n.sparse) out.sparse = true;
        if (n.linkTarget !== undefined) out.linkTarget = n.linkTarget.toString('base64');
        if (n.rdev !== undefined) out.rdev = n.rdev.toString();
        if (n.subtree !== undefined) out.subtree = n.subtree;
        if (n.xattrs !== undefined)
          out.xattrs = Object.fromEntries(
            Object.entries(n.xattrs)
              .sort(([a], [b]) => (a < b ? -1 : 1))
              .map(([k, v]) => [k, v.toString('base64')]),
          );
        return out;
      }),
    }),
  );
}

const NAMES = [
  Buffer.from('plain.txt'),
  Buffer.from('with "quotes" and \\ backslash'),
  Buffer.from('line\nbreak\ttab\u0001ctl'),
  Buffer.from('ünïcödé 日本語 🙂'),
  Buffer.from([0xef, 0xbb, 0xbf, 0x62, 0x6f, 0x6d]), // a BOM, then "bom"
  Buffer.from([0x66, 0xff, 0x6f]), // not UTF-8
  Buffer.from([0xc0, 0xaf]), // overlong '/'
  Buffer.from([0xed, 0xa0, 0x80]), // a surrogate
  Buffer.from([0xf0, 0x9f, 0x98, 0x78]), // a sequence cut short: decodes to as many bytes
  Buffer.from([0xe2, 0x82]), // cut short at the end
  Buffer.from('\u2028\u2029'),
];

/** A small deterministic generator (mulberry32), so a failure names the same nodes every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function someNodes(seed: number, count: number): TreeNode[] {
  const r = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const types: NodeType[] = ['file', 'dir', 'symlink', 'fifo', 'chardev', 'blockdev', 'socket'];
  return Array.from({ length: count }, (_, i) => {
    const type = pick(types);
    const node: TreeNode = {
      name: Buffer.concat([pick(NAMES), Buffer.from(`-${i}`)]),
      type,
      mode: Math.floor(r() * 0o7777),
      uid: Math.floor(r() * 70000),
      gid: Math.floor(r() * 70000),
      mtimeNs: BigInt(Math.floor((r() - 0.1) * 2e9)) * 1_000_000_000n + BigInt(Math.floor(r() * 1e9)),
      atimeNs: BigInt(Math.floor(r() * 2e9)) * 1_000_000_000n,
      ctimeNs: -1n,
      dev: BigInt(Math.floor(r() * 2 ** 53)) * 4096n,
      inode: BigInt(Math.floor(r() * 2 ** 40)),
      nlink: 1 + Math.floor(r() * 3),
    };
    if (r() < 0.7) node.user = pick(['root', 'ünïcode', 'with"quote']);
    if (r() < 0.7) node.group = pick(['root', 'staff']);
    if (type === 'file') {
      node.size = Math.floor(r() * 2 ** 40);
      node.content = Array.from({ length: Math.floor(r() * 3) }, (_, k) => `${k}`.repeat(64).slice(0, 64));
      if (r() < 0.2) node.sparse = true;
    }
    if (type === 'symlink') node.linkTarget = pick(NAMES);
    if (type === 'chardev' || type === 'blockdev') node.rdev = BigInt(Math.floor(r() * 2 ** 32));
    if (type === 'dir' && r() < 0.8) node.subtree = 'ab'.repeat(32);
    if (r() < 0.2) node.xattrs = { 'user.z': Buffer.from('last'), 'user.a': pick(NAMES), 'security.ünï': Buffer.alloc(0) };
    return node;
  });
}

describe('serializeTree', () => {
  it('writes byte for byte what JSON.stringify of the stored objects wrote, so tree ids stay the same', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const nodes = someNodes(seed, 40);
      expect(serializeTree(nodes).toString('latin1'), `seed ${seed}`).toBe(serializedByObjects(nodes).toString('latin1'));
    }
    expect(serializeTree([]).toString()).toBe('{"version":1,"nodes":[]}');
  });

  it('writes a large tree whole, and each tree into a buffer of its own', () => {
    // 8 000 nodes are ~2.5 MiB of text.
    const large = someNodes(11, 8000);
    const small = someNodes(12, 3);
    const first = serializeTree(small);
    const copy = Buffer.from(first);
    expect(serializeTree(large).toString('latin1')).toBe(serializedByObjects(large).toString('latin1'));
    expect(serializeTree(small).equals(copy)).toBe(true);
    expect(first.equals(copy)).toBe(true);
  });

  it('leaves out a field that is not set, and writes odd numbers, as JSON.stringify did', () => {
    const [node] = someNodes(7, 1);
    const bare = { ...node!, uid: undefined, nlink: undefined, mode: -0, size: Number.NaN } as unknown as TreeNode;
    expect(serializeTree([bare]).toString()).toBe(serializedByObjects([bare]).toString());
  });

  it('reads back what it wrote, names as bytes', () => {
    const nodes = someNodes(99, 60).sort((a, b) => Buffer.compare(a.name, b.name));
    const back = deserializeTree(serializeTree(nodes), 'test');
    expect(back.map((n) => n.name.toString('hex'))).toEqual(nodes.map((n) => n.name.toString('hex')));
    expect(back).toEqual(nodes);
  });

  it("gives each node's references alone (treeReferences) as deserializeTree has them, and refuses what it refuses", () => {
    const nodes = someNodes(5, 60).sort((a, b) => Buffer.compare(a.name, b.name));
    const data = serializeTree(nodes);
    expect(treeReferences(data, 'test')).toEqual(deserializeTree(data, 'test').map((n) => ({ displayName: n.name.toString(), type: n.type, size: n.size, subtree: n.subtree, content: n.content })));
    expect(nodes.some((n) => n.subtree) && nodes.some((n) => n.content?.length)).toBe(true);
    const unknownType = Buffer.from(data.toString().replace(/"type":"[a-z]+"/, '"type":"door"'));
    for (const bad of [Buffer.from('{"version":1,"nodes":['), Buffer.from('{"version":2,"nodes":[]}'), unknownType]) {
      expect(() => treeReferences(bad, 'test')).toThrow(/tree test/);
      expect(() => deserializeTree(bad, 'test')).toThrow(/tree test/);
    }
  });
});

describe('deserializeTreeTexts', () => {
  const sorted = (nodes: TreeNode[]) => nodes.sort((a, b) => Buffer.compare(a.name, b.name));

  it("cuts a tree's text node by node: each is the text serializeTree makes of its node, and writing them again gives the same bytes", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const nodes = sorted(someNodes(seed, 40));
      // A name that holds the cut's own text, one that is nothing else, and one that ends in a backslash.
      nodes.push({ ...nodes[0]!, name: Buffer.from('zz},{"name":"x"}') }, { ...nodes[0]!, name: Buffer.from('},{"name') }, { ...nodes[0]!, name: Buffer.from('ends\\') });
      sorted(nodes);
      const data = serializeTree(nodes);
      const { nodes: back, texts } = deserializeTreeTexts(data, 'test');
      expect(back).toEqual(deserializeTree(data, 'test'));
      expect(texts, `seed ${seed}`).toHaveLength(nodes.length);
      for (const [i, text] of texts!.entries()) expect(text).toBe(serializeTree([nodes[i]!]).toString('utf8').slice('{"version":1,"nodes":['.length, -2));
      // Each node's own text, given back: the same tree, byte for byte, whichever nodes have one.
      const some = new Map(back.flatMap((n, i) => (i % 3 === 0 ? [[n, texts![i]!] as const] : [])));
      expect(serializeTree(back, some).equals(data)).toBe(true);
      expect(serializeTree(back, new Map(back.map((n, i) => [n, texts![i]!]))).equals(data)).toBe(true);
    }
  });

  it('cuts a tree of one node', () => {
    const nodes = someNodes(4, 1);
    const { texts } = deserializeTreeTexts(serializeTree(nodes), 'test');
    expect(texts).toEqual([serializeTree(nodes).toString('utf8').slice('{"version":1,"nodes":['.length, -2)]);
  });

  it('gives no texts for a tree it cannot cut node by node as serializeTree writes them', () => {
    const nodes = sorted(someNodes(3, 5));
    const text = serializeTree(nodes).toString('utf8');
    const [first, second] = [serializeTree(nodes.slice(0, 1)), serializeTree(nodes.slice(1))].map((b) => b.toString('utf8').slice('{"version":1,"nodes":'.length, -1));
    const cases = {
      // JSON.parse gives the second list: cut as one, the first list's node and the second's first node would be one text.
      'a second list of nodes': `{"version":1,"nodes":${first},"nodes":${second}}`,
      'objects after the nodes': text.replace(/\]\}$/, '],"later":[{"name":"a"},{"name":"b"}]}'),
      empty: '{"version":1,"nodes":[]}',
      spaced: text.replace('},{"', '}, {"'),
      'keys in another order': text.replace('{"version":1,"nodes":[', '{"nodes":[').replace(/\]\}$/, '],"version":1}'),
      // A field of a later version holding objects: more cuts than nodes.
      'objects in a field': text.replace('"type":', '"later":[{"a":1},{"name":"b"}],"type":'),
      'a node without a name first': text.replace(/^\{"version":1,"nodes":\[\{"name(B64)?":("[^"]*"),/, '{"version":1,"nodes":[{"type":"file","name$1":$2,'),
    };
    for (const [what, t] of Object.entries(cases)) {
      const { nodes: back, texts } = deserializeTreeTexts(Buffer.from(t), 'test');
      expect(texts, what).toBeUndefined();
      expect(back, what).toEqual(JSON.parse(t).nodes.length === 0 ? [] : deserializeTree(Buffer.from(t), 'test'));
    }
    expect(() => deserializeTreeTexts(Buffer.from('{"version":1,"nodes":['), 'test')).toThrow(/tree test/);
  });
});

describe('deserializeTreeExcept', () => {
  it('parses only the nodes not named, and cuts every node’s text as deserializeTreeTexts does', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const data = serializeTree(someNodes(seed, 30));
      const whole = deserializeTreeTexts(data, 'test');
      const stored = new Set([0, 3, 4, 17, 29]);
      const partly = deserializeTreeExcept(data, 'test', stored, 30)!;
      expect(partly.texts).toEqual(whole.texts);
      expect(partly.positions).toEqual(whole.nodes.flatMap((_, i) => (stored.has(i) ? [] : [i])));
      expect(partly.nodes).toEqual(partly.positions.map((i) => whole.nodes[i]));
    }
  });

  it('gives nothing for a tree of another count of nodes, or one it cannot cut, and fails on a node that does not parse', () => {
    const data = serializeTree(someNodes(5, 4));
    expect(deserializeTreeExcept(data, 'test', new Set([1]), 5)).toBeUndefined();
    expect(deserializeTreeExcept(Buffer.from(data.toString().replace('},{"', '}, {"')), 'test', new Set([1]), 4)).toBeUndefined();
    expect(deserializeTreeExcept(Buffer.from('{"version":1,"nodes":[]}'), 'test', new Set(), 0)).toEqual({ nodes: [], positions: [], texts: [] });
    // The first node's text with a broken value: found only when that node is parsed.
    const broken = Buffer.from(data.toString().replace(/("name(B64)?":"[^"]*",)(?=.*$)/, '$1"x":,'));
    expect(() => deserializeTreeExcept(broken, 'test', new Set([1, 2, 3]), 4)).toThrow(/tree test is not valid JSON/);
    expect(deserializeTreeExcept(broken, 'test', new Set([0]), 4)?.nodes).toHaveLength(3);
  });
});

describe('storedContent', () => {
  it('is the content of a file node as stored, with or without fields after it', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const nodes = someNodes(seed, 30);
      const { texts } = deserializeTreeTexts(serializeTree(nodes), 'test');
      const back = deserializeTree(serializeTree(nodes), 'test');
      for (const [i, node] of back.entries()) expect(storedContent(texts![i]!)).toEqual(node.content);
    }
  });

  it('reads ids written otherwise through JSON, and gives nothing for content it cannot read', () => {
    const id = 'a'.repeat(64);
    expect(storedContent(`{"name":"f","content":["${id}","${id}"]}`)).toEqual([id, id]);
    expect(storedContent(`{"name":"f","content":[ "${id}" ]}`)).toEqual([id]);
    expect(storedContent(`{"name":"f","content":["short","also"]}`)).toEqual(['short', 'also']);
    expect(storedContent(`{"name":"f","content":[]}`)).toEqual([]);
    expect(storedContent('{"name":"f","content":[1,2]}')).toBeUndefined();
    expect(storedContent('{"name":"f","content":["a",}')).toBeUndefined();
    expect(storedContent('{"name":"f","size":3}')).toBeUndefined();
  });
});

describe('sameStoredNode', () => {
  /** Every field of a TreeNode set, and a change of each that the stored form shows. */
  const full = (): TreeNode => ({
    name: Buffer.from('f'),
    type: 'file',
    mode: 0o644,
    uid: 1,
    gid: 2,
    user: 'u',
    group: 'g',
    mtimeNs: 3n,
    atimeNs: 4n,
    ctimeNs: 5n,
    dev: 6n,
    inode: 7n,
    nlink: 1,
    size: 8,
    content: ['a'.repeat(64)],
    sparse: true,
    linkTarget: Buffer.from('t'),
    rdev: 9n,
    subtree: 'b'.repeat(64),
    xattrs: { 'user.a': Buffer.from('x') },
  });
  const changes: Record<keyof TreeNode, (n: TreeNode) => void> = {
    name: (n) => (n.name = Buffer.from('g')),
    type: (n) => (n.type = 'symlink'),
    mode: (n) => (n.mode = 0o600),
    uid: (n) => (n.uid = 10),
    gid: (n) => (n.gid = 10),
    user: (n) => delete n.user,
    group: (n) => (n.group = 'h'),
    mtimeNs: (n) => (n.mtimeNs += 1n),
    atimeNs: (n) => (n.atimeNs += 1n),
    ctimeNs: (n) => (n.ctimeNs += 1n),
    dev: (n) => (n.dev += 1n),
    inode: (n) => (n.inode += 1n),
    nlink: (n) => (n.nlink = 2),
    size: (n) => delete n.size,
    content: (n) => (n.content = [...n.content!, 'c'.repeat(64)]),
    sparse: (n) => delete n.sparse,
    linkTarget: (n) => (n.linkTarget = Buffer.from('u')),
    rdev: (n) => delete n.rdev,
    subtree: (n) => (n.subtree = 'd'.repeat(64)),
    xattrs: (n) => (n.xattrs = { 'user.a': Buffer.from('y') }),
  };

  it('is true exactly when two nodes are stored as the same bytes, for a change of any field', () => {
    const stored = (n: TreeNode) => serializeTree([n]).toString('latin1');
    expect(sameStoredNode(full(), full())).toBe(true);
    // A field the stored form has that no change here covers would be missed by a directory's reuse of its parent's tree.
    expect(Object.keys(changes).sort()).toEqual(Object.keys(full()).sort());
    for (const [field, change] of Object.entries(changes)) {
      const changed = full();
      change(changed);
      expect(stored(changed), field).not.toBe(stored(full()));
      expect(sameStoredNode(full(), changed), field).toBe(false);
      expect(sameStoredNode(changed, full()), field).toBe(false);
    }
    // Empty but present is not absent: `"xattrs":{}` and `"content":[]` are stored.
    const without = (field: 'xattrs' | 'content') => {
      const n = full();
      delete n[field];
      return n;
    };
    expect(sameStoredNode({ ...full(), xattrs: {} }, without('xattrs'))).toBe(false);
    expect(sameStoredNode({ ...full(), content: [] }, without('content'))).toBe(false);
  });

  it('agrees with the stored bytes over random nodes read back from their trees', () => {
    const nodes = someNodes(5, 200);
    const back = deserializeTree(serializeTree(nodes), 'test');
    const byName = new Map(nodes.map((n) => [n.name.toString('hex'), n]));
    for (const node of back) expect(sameStoredNode(node, byName.get(node.name.toString('hex'))!)).toBe(true);
    for (let i = 1; i < back.length; i++) expect(sameStoredNode(back[i - 1]!, back[i]!)).toBe(serializeTree([back[i - 1]!]).equals(serializeTree([back[i]!])));
  });
});
