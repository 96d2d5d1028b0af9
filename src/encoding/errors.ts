// The error for conversations the V3.2 prompt format cannot express (bad roles, orphan tool results…).
export class EncodingError extends Error {
  override name = 'EncodingError';
}
