export type KeyFormatErrorCode =
  | 'not_a_string'
  | 'empty'
  | 'bad_shape'
  | 'wrong_prefix'
  | 'unknown_environment'
  | 'bad_length'
  | 'bad_character'
  | 'bad_checksum';

/** Plain data rather than an Error subclass: parse failures are expected, and data crosses NATS as-is. */
export interface KeyFormatError {
  code: KeyFormatErrorCode;
  message: string;
}

export function keyFormatError(code: KeyFormatErrorCode, message: string): KeyFormatError {
  return { code, message };
}
