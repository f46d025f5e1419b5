// Canvas: signatures and the primitives built on them (chain, group, chord, chunks, map, starmap), their results
// (GroupResult), and the chord join per result backend. The pieces live in src/canvas/; this is their public face.

import './canvas/group';
import './canvas/chain';
import './canvas/chord';
import './canvas/maps';

export { Signature, maybeSignature, sendTaskNode, type AnySignature, type CanvasApp, type SignatureSender, type FreezeOptions, type WireOptions } from './canvas/signature';
export { toWireOptions, fromWireOptions, toSignatureDict, toSignatureDicts } from './canvas/options';
export { Group, descend, maybeUnrollGroup } from './canvas/group';
export { Chain } from './canvas/chain';
export { Chord } from './canvas/chord';
export { Chunks, XMap, XStarmap, splitChunks } from './canvas/maps';
export { chain, group, chord, chunks, xmap, starmap, pipe, signatureFromDict, type TaskSignatureLike } from './canvas/builders';
export { GroupResult, CanvasResult, resultFor, resultTuple, nodeTuple, nodeFromTuple, TaskNode, GroupNode, type ResultNode, type GroupGetOptions } from './canvas/results';
export { chordSupport, encodePart, decodePart, type ChordSupport, type ChordPart, type PartCount } from './canvas/join';
export { withParent, currentParent, trailOf, takeTrail, trailsPending, type ParentTask } from './canvas/context';
