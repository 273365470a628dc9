import { isUtf8 } from 'node:buffer';
import { IntegrityError } from '../core/errors.js';
import type { NodeType, TreeNode } from './tree-node.js';

/** The stored form of a TreeNode: JSON-safe, with keys always written in this order. */
interface StoredNode {
  name?: string;
  nameB64?: string;
  type: NodeType;
  mode: number;
  uid: number;
  gid: number;
  user?: string;
  group?: string;
  mtime: string;
  atime: string;
  ctime: string;
  dev: string;
  inode: string;
  nlink: number;
  size?: number;
  content?: string[];
  sparse?: boolean;
  linkTarget?: string;
  rdev?: string;
  subtree?: string;
  xattrs?: Record<string, string>;
}

const NODE_TYPES = new Set<NodeType>(['file', 'dir', 'symlink', 'fifo', 'chardev', 'blockdev', 'socket']);

const byName = (a: TreeNode, b: TreeNode): number => Buffer.compare(a.name, b.name);

/**
 * Deterministic: entries sorted bytewise by name, fields in a fixed order, so equal
 * directories hash equally. Written as text directly, byte for byte what JSON.stringify
 * makes of StoredNode objects: building those objects (and the BigInts' strings) took
 * three quarters of the time, and every tree of every backup goes through here. The text
 * is one string, encoded once: a CLI run calls this mostly before V8 optimizes it, and
 * there each node's text written into a kept buffer as it was made (a Buffer.write each)
 * took 1.15 times as long (the bench's real tree, 4,904 trees: 171 against 149 ms, medians
 * of five first passes).
 *
 * A node `storedTexts` has a text for is written as that text, not made again: the caller
 * vouches that it is how a node stored as this one is (sameStoredNode) was cut from its
 * tree (deserializeTreeTexts). An incremental backup writes most nodes of the trees it
 * stores again as they were.
 */
export function serializeTree(nodes: TreeNode[], storedTexts?: ReadonlyMap<TreeNode, string>): Buffer {
  const sorted = [...nodes].sort(byName);
  let text = TREE_HEAD;
  for (let i = 0; i < sorted.length; i++) {
    const node = sorted[i]!;
    const json = storedTexts?.get(node) ?? storedJson(node);
    text += i > 0 ? `,${json}` : json;
  }
  return Buffer.from(`${text}${TREE_TAIL}`, 'utf8');
}

const TREE_HEAD = '{"version":1,"nodes":[';
const TREE_TAIL = ']}';
/**
 * Where one node's text ends and the next one's begins. Never inside a string: there a
 * quote is escaped, and here one follows the brace. Nowhere else in a tree as written: no
 * other array holds objects.
 */
const NODE_BOUNDARY = '},{"name';

/** `,"key":value`, or nothing for undefined, as JSON.stringify leaves such a property out. */
const field = (key: string, value: unknown): string => (value === undefined ? '' : `,"${key}":${JSON.stringify(value)}`);
/** field() for what is nearly always a finite number, which a template writes as JSON does, faster. */
const numberField = (key: string, value: number | undefined): string => (typeof value === 'number' && Number.isFinite(value) ? `,"${key}":${value}` : field(key, value));

/** A StoredNode as JSON: keys in the order StoredNode lists them. */
function storedJson(n: TreeNode): string {
  const name = isUtf8(n.name) ? `"name":${JSON.stringify(n.name.toString('utf8'))}` : `"nameB64":"${n.name.toString('base64')}"`;
  const times = `,"mtime":"${n.mtimeNs}","atime":"${n.atimeNs}","ctime":"${n.ctimeNs}","dev":"${n.dev}","inode":"${n.inode}"`;
  let out = `{${name}${field('type', n.type)}${numberField('mode', n.mode)}${numberField('uid', n.uid)}${numberField('gid', n.gid)}${times}${numberField('nlink', n.nlink)}`;
  out += field('user', n.user) + field('group', n.group) + numberField('size', n.size) + field('content', n.content);
  if (n.sparse) out += ',"sparse":true';
  if (n.linkTarget !== undefined) out += `,"linkTarget":"${n.linkTarget.toString('base64')}"`;
  if (n.rdev !== undefined) out += `,"rdev":"${n.rdev}"`;
  out += field('subtree', n.subtree);
  if (n.xattrs !== undefined)
    out += field(
      'xattrs',
      Object.fromEntries(
        Object.entries(n.xattrs)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([k, v]) => [k, v.toString('base64')]),
      ),
    );
  return `${out}}`;
}

/**
 * Whether two nodes are stored as the same bytes: every field storedJson writes, compared
 * as it writes it (a field added there must be added here). A directory whose nodes all
 * match its parent snapshot's keeps the parent's tree, unserialized and unhashed.
 */
export function sameStoredNode(a: TreeNode, b: TreeNode): boolean {
  return (
    a.name.equals(b.name) &&
    a.type === b.type &&
    a.mode === b.mode &&
    a.uid === b.uid &&
    a.gid === b.gid &&
    a.mtimeNs === b.mtimeNs &&
    a.atimeNs === b.atimeNs &&
    a.ctimeNs === b.ctimeNs &&
    a.dev === b.dev &&
    a.inode === b.inode &&
    a.nlink === b.nlink &&
    a.user === b.user &&
    a.group === b.group &&
    a.size === b.size &&
    sameIds(a.content, b.content) &&
    (a.sparse === true) === (b.sparse === true) &&
    (a.linkTarget === undefined ? b.linkTarget === undefined : b.linkTarget !== undefined && a.linkTarget.equals(b.linkTarget)) &&
    a.rdev === b.rdev &&
    a.subtree === b.subtree &&
    sameXattrs(a.xattrs, b.xattrs)
  );
}

function sameIds(a: string[] | undefined, b: string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameXattrs(a: Record<string, Buffer> | undefined, b: Record<string, Buffer> | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const names = Object.keys(a);
  return names.length === Object.keys(b).length && names.every((name) => Object.hasOwn(b, name) && a[name]!.equals(b[name]!));
}

/** The stored nodes of a tree, checked as far as every reader needs: JSON, the format's version, known node types. */
function storedNodes(data: Buffer, id: string): StoredNode[] {
  return parsedTree(data.toString('utf8'), id).nodes;
}

function parsedTree(text: string, id: string): { version: 1; nodes: StoredNode[] } {
  let parsed: { version?: number; nodes?: StoredNode[] };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch (err) {
    throw new IntegrityError(`tree ${id.slice(0, 12)} is not valid JSON`, { cause: err });
  }
  if (parsed.version !== 1 || !Array.isArray(parsed.nodes)) throw new IntegrityError(`tree ${id.slice(0, 12)} has an unknown format`);
  for (const s of parsed.nodes) {
    if (!NODE_TYPES.has(s.type)) throw new IntegrityError(`tree ${id.slice(0, 12)} holds an unknown node type '${String(s.type)}'`);
  }
  return parsed as { version: 1; nodes: StoredNode[] };
}

/** What a tree's node refers to, for a caller that follows references only (a structure check). */
export interface NodeReferences {
  /** The name for messages: invalid UTF-8 shown as the replacement character. */
  displayName: string;
  type: NodeType;
  /** A file's recorded size, which its content's length must match. */
  size?: number | undefined;
  subtree?: string | undefined;
  content?: string[] | undefined;
}

/**
 * A tree's references, without building its TreeNodes: a check of every tree of a backup
 * spent more on those nodes' BigInts and name Buffers than on reading the trees.
 */
export function treeReferences(data: Buffer, id: string): NodeReferences[] {
  return storedNodes(data, id).map((s) => ({
    displayName: s.nameB64 !== undefined ? Buffer.from(s.nameB64, 'base64').toString() : (s.name ?? ''),
    type: s.type,
    size: s.size,
    subtree: s.subtree,
    content: s.content,
  }));
}

export function deserializeTree(data: Buffer, id: string): TreeNode[] {
  return storedNodes(data, id).map(treeNode);
}

/**
 * A tree's nodes, and the text each is stored as, cut from the tree's text where it holds
 * one node after another as serializeTree writes them (else no texts). In such a text,
 * node i's is the i-th node's of JSON.parse: the cuts fall between nodes only, and each
 * node begins with one, so as many cuts as nodes are each node's. A text that only looks
 * so, made to mislead, can still be cut wrongly, by a second list of nodes (which it may
 * not hold) or by objects in arrays inside its nodes with space between two of them
 * (which it may): only the repository's key, or write access to an unencrypted one, makes
 * a tree, and either can change the content the next backup takes from a parent tree anyway.
 */
export function deserializeTreeTexts(data: Buffer, id: string): { nodes: TreeNode[]; texts: string[] | undefined } {
  const text = data.toString('utf8');
  const tree = parsedTree(text, id);
  const nodes = tree.nodes.map(treeNode);
  return { nodes, texts: Object.keys(tree).length === 2 ? nodeTexts(text, nodes.length) : undefined };
}

/**
 * A tree cut into its nodes' texts (as deserializeTreeTexts cuts them), with only the nodes
 * not in `stored` parsed: those the caller knows to be stored as they are now (a directory
 * cache's digest of each entry said so), whose text it writes again unread. Undefined when
 * the tree does not cut into `count` nodes (then deserializeTreeTexts, whole). Each node is
 * parsed from its own text: a cut in the wrong place fails to parse, as a tree made to
 * mislead can still cut wrongly where its node texts parse (see deserializeTreeTexts).
 */
export function deserializeTreeExcept(data: Buffer, id: string, stored: ReadonlySet<number>, count: number): { nodes: TreeNode[]; positions: number[]; texts: string[] } | undefined {
  const text = data.toString('utf8');
  const texts = count === 0 ? (text === `${TREE_HEAD}${TREE_TAIL}` ? [] : undefined) : nodeTexts(text, count);
  if (!texts) return undefined;
  const nodes: TreeNode[] = [];
  const positions: number[] = [];
  for (let i = 0; i < texts.length; i++) {
    if (stored.has(i)) continue;
    nodes.push(treeNode(storedNode(texts[i]!, id)));
    positions.push(i);
  }
  return { nodes, positions, texts };
}

/** One node of tree `id` from its text (as deserializeTreeTexts cuts it). */
export function parseStoredNode(text: string, id: string): TreeNode {
  return treeNode(storedNode(text, id));
}

function storedNode(text: string, id: string): StoredNode {
  let s: StoredNode;
  try {
    s = JSON.parse(text) as StoredNode;
  } catch (err) {
    throw new IntegrityError(`tree ${id.slice(0, 12)} is not valid JSON`, { cause: err });
  }
  if (!NODE_TYPES.has(s.type)) throw new IntegrityError(`tree ${id.slice(0, 12)} holds an unknown node type '${String(s.type)}'`);
  return s;
}

/** The content of a file node stored as `text` (a node text of deserializeTreeTexts or deserializeTreeExcept); undefined when it has none or the text does not read so. */
export function storedContent(text: string): string[] | undefined {
  const at = text.indexOf(CONTENT_KEY);
  if (at < 0) return undefined;
  const end = text.indexOf(']', at);
  if (end < 0) return undefined;
  const from = at + CONTENT_KEY.length;
  return contentOfIds(text, from, end) ?? parsedContent(text.slice(from - 1, end + 1));
}

/** Ids as serializeTree writes them, 64 characters in quotes apart by commas, cut without JSON.parse (most of the time it took here); else undefined. */
function contentOfIds(text: string, from: number, end: number): string[] | undefined {
  const span = end - from;
  if (span === 0) return [];
  if ((span + 1) % (ID_TEXT + 1) !== 0) return undefined;
  const ids = new Array<string>((span + 1) / (ID_TEXT + 1));
  for (let k = 0, at = from; k < ids.length; k++, at += ID_TEXT + 1) {
    if (text.charCodeAt(at) !== QUOTE || text.charCodeAt(at + ID_TEXT - 1) !== QUOTE || (at + ID_TEXT < end && text.charCodeAt(at + ID_TEXT) !== COMMA)) return undefined;
    ids[k] = text.slice(at + 1, at + ID_TEXT - 1);
  }
  return ids;
}

function parsedContent(array: string): string[] | undefined {
  try {
    const content = JSON.parse(array) as unknown;
    return Array.isArray(content) && content.every((id) => typeof id === 'string') ? (content as string[]) : undefined;
  } catch {
    return undefined;
  }
}

/** A blob id as a tree's text holds it: 64 hex digits in quotes (JSON.parse does not check them as digits either). */
const ID_TEXT = 66;
const QUOTE = 0x22;
const COMMA = 0x2c;

/** Where a node's content begins: never inside a string (a quote there is escaped), and no key before it is named so. */
const CONTENT_KEY = ',"content":[';

function nodeTexts(text: string, count: number): string[] | undefined {
  if (count === 0 || !text.startsWith(`${TREE_HEAD}{"name`) || !text.endsWith(`}${TREE_TAIL}`)) return undefined;
  // A second list of nodes: JSON.parse gives the last one.
  if (text.includes('"nodes":[', TREE_HEAD.length)) return undefined;
  const texts = new Array<string>(count);
  let start = TREE_HEAD.length;
  for (let i = 0; i < count - 1; i++) {
    const end = text.indexOf(NODE_BOUNDARY, start);
    if (end < 0) return undefined;
    texts[i] = text.slice(start, end + 1);
    start = end + 2;
  }
  if (text.indexOf(NODE_BOUNDARY, start) >= 0) return undefined;
  texts[count - 1] = text.slice(start, text.length - TREE_TAIL.length);
  return texts;
}

function treeNode(s: StoredNode): TreeNode {
  const node: TreeNode = {
    name: s.nameB64 !== undefined ? Buffer.from(s.nameB64, 'base64') : Buffer.from(s.name ?? '', 'utf8'),
    type: s.type,
    mode: s.mode,
    uid: s.uid,
    gid: s.gid,
    mtimeNs: BigInt(s.mtime),
    atimeNs: BigInt(s.atime),
    ctimeNs: BigInt(s.ctime),
    dev: BigInt(s.dev),
    inode: BigInt(s.inode),
    nlink: s.nlink,
  };
  if (s.user !== undefined) node.user = s.user;
  if (s.group !== undefined) node.group = s.group;
  if (s.size !== undefined) node.size = s.size;
  if (s.content !== undefined) node.content = s.content;
  if (s.sparse) node.sparse = true;
  if (s.linkTarget !== undefined) node.linkTarget = Buffer.from(s.linkTarget, 'base64');
  if (s.rdev !== undefined) node.rdev = BigInt(s.rdev);
  if (s.subtree !== undefined) node.subtree = s.subtree;
  if (s.xattrs !== undefined) node.xattrs = Object.fromEntries(Object.entries(s.xattrs).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
  return node;
}
