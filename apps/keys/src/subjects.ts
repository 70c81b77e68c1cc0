import { namespace } from '@keyplane/contracts';

/** Unprefixed patterns for @MessagePattern; PrefixedNatsServer adds the configured prefix. */
export const subjects = namespace('').subjects.keys;
